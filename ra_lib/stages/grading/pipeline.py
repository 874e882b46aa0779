"""Per-joint grading: JSN 0-4 and erosion 0-5 from one joint crop (papers 002 and 004).

One classifier per kind is trained on the crops of all its sites (paper 002, section 4.2: an
EfficientNet-B4 on grey crops, SGD lr 1e-3, momentum 0.9, L2 1e-3 for JSN and 5e-3 for erosion).
Patients are split by the cohort's folds as in stage 5 (test fold, the next fold for validation and
early stopping, the rest for training; paper 002 held out 10 % without early stopping). The three
imbalance remedies of paper 004 (section 3.4) are trained on the same data with the same network,
optimiser and initial weights, so that only the remedy differs:

* ``plain``: the data as they are (paper 004 a);
* ``oversample_aug``: minority grades oversampled with weights ``1 / count`` of their class by a
  ``WeightedRandomSampler`` (paper 002's ImbalancedDatasetSampler) and augmented with rotations up
  to 25 degrees, shears up to 0.1 rad and zooms up to 10 % (paper 004 b);
* ``class_weights``: the cross-entropy weighted so that ``weight x count`` is the same for every
  grade present in the training data (paper 004 c).

Every ``(hand_id, kind, site)`` of the cohort gets a prediction, including hands in the test split
whose crop is flagged by the detector or missing: those rows get the training grade frequencies of
their kind (``imputed=True``) and are left out of every metric. Flagged crops never enter training.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler

from ra_lib.evaluation import metrics
from ra_lib.cohort.folds import patient_folds, rotation
from ra_lib.cohort.sites import EROSION, JSN, KINDS, hand_sites
from ra_lib.core.training import fit, predict, seed_everything

PLAIN, OVERSAMPLE, CLASS_WEIGHTS = "plain", "oversample_aug", "class_weights"
METHODS = (PLAIN, OVERSAMPLE, CLASS_WEIGHTS)
MAJORITY = "majority_baseline"
METHOD_LABELS = {PLAIN: "(a) plain", OVERSAMPLE: "(b) oversampling + augmentation",
                 CLASS_WEIGHTS: "(c) class weights", MAJORITY: "majority grade"}
N_CLASSES = {JSN: 5, EROSION: 6}
MAX_CLASSES = max(N_CLASSES.values())
PROBA_COLUMNS = [f"p_{k}" for k in range(MAX_CLASSES)]
ARCHS = ("tiny", "efficientnet_b0", "efficientnet_b4")
CROP_COLUMNS = ("crop_idx", "hand_id", "image_id", "patient", "hand", "kind", "site", "group", "landmark",
                "x", "y", "source", "likelihood", "flagged", "grade")
SCORE_COLUMNS = ("hand_id", "image_id", "patient", "hand", "kind", "site", "grade", "eroded_pct")
PREDICTION_COLUMNS = ["hand_id", "patient", "kind", "site", "split", "method", "grade_true", "grade_pred",
                      *PROBA_COLUMNS, "imputed"]

#: Grading and CDF-regression settings. Grading follows paper 002 (SGD, momentum 0.9, L2 1e-3 for JSN
#: and 5e-3 for erosion); the regression follows paper 004 (Adam, lr 1e-3). Every network keeps the weights
#: of its best validation epoch and stops after ``patience`` epochs without improvement (paper 004 stopped
#: its models early). ``quick`` replaces EfficientNet-B4 at 224 px by :class:`TinyNet` (``width`` 8) at
#: 40 px and raises the SGD learning rate to 0.01, so that at most 12 CPU epochs learn (about 140
#: CPU-seconds of training on the quick cohort); ``paper`` uses paper 002's network and input size and
#: paper 004's 25 epochs and batch of 100. ``threads``: torch CPU threads while training and predicting
#: (``None``: torch's setting); small networks on a busy 2-core machine run many times slower with 2
#: threads than with 1, as the threads wait for each other. ``n_folds`` applies only to a cohort without
#: folds.
_COMMON = dict(momentum=0.9, weight_decay_jsn=1e-3, weight_decay_erosion=5e-3, n_folds=8, test_fold=0,
               methods=METHODS, regression_methods=("cdf", "one_output"), regression_lr=1e-3, weights_path=None)
PROFILES = {
    "smoke": dict(_COMMON, arch="tiny", width=8, crop_size=24, epochs=1, regression_epochs=1, batch_size=64,
                  lr=0.01, patience=None, threads=1),
    "quick": dict(_COMMON, arch="tiny", width=8, crop_size=40, epochs=12, regression_epochs=12, batch_size=64,
                  lr=0.01, patience=4, threads=1),
    "paper": dict(_COMMON, arch="efficientnet_b4", width=8, crop_size=224, epochs=25, regression_epochs=25,
                  batch_size=100, lr=1e-3, patience=5, threads=None),
}


# --- data ----------------------------------------------------------------------------
@dataclass
class GradingData:
    """Everything the stage trains and predicts on.

    ``rows``: one row per ``(hand_id, kind, site)`` to predict, with ``hand_id, patient, hand, kind,
    site, grade, eroded_pct, split, status`` (``ok`` / ``flagged`` / ``no_crop``) and ``image_row``
    (row of ``images``, -1 without a usable crop). ``images``: preprocessed usable crops,
    ``(M, 1, crop_size, crop_size)``. ``counts``: how many rows were excluded and why.
    """

    rows: pd.DataFrame
    images: torch.Tensor
    counts: dict = field(default_factory=dict)

    def select(self, kind: str, split: str | None = None, usable: bool = True, graded: bool = True) -> pd.DataFrame:
        """Rows of one kind (and split), optionally only those with a usable crop and a grade."""
        mask = self.rows["kind"] == kind
        if split is not None:
            mask &= self.rows["split"] == split
        if usable:
            mask &= self.rows["image_row"] >= 0
        if graded:
            mask &= self.rows["grade"].notna()
        return self.rows[mask]


def _require_columns(df: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}; it has {list(df.columns)}")


def _check_unique(df: pd.DataFrame, what: str) -> None:
    duplicated = df.duplicated(["hand_id", "kind", "site"], keep=False)
    if duplicated.any():
        first = df[duplicated].iloc[0]
        raise ValueError(f"{what}: {int(duplicated.sum())} rows repeat a (hand_id, kind, site), "
                         f"e.g. {first.hand_id}/{first.kind}/{first.site} (row {df.index[duplicated][0]})")


def _check_grades(df: pd.DataFrame, what: str) -> None:
    for kind, n_classes in N_CLASSES.items():
        grades = df.loc[(df["kind"] == kind) & df["grade"].notna(), "grade"]
        bad = grades[(grades != np.round(grades)) | (grades < 0) | (grades >= n_classes)]
        if len(bad):
            raise ValueError(f"{what}: column grade holds {kind} grade(s) outside 0..{n_classes - 1}, "
                             f"e.g. {bad.iloc[0]!r} at row {bad.index[0]}")
    if "eroded_pct" in df.columns:
        pct = df["eroded_pct"].dropna()
        bad = pct[(pct < 0) | (pct > 100)]
        if len(bad):
            raise ValueError(f"{what}: column eroded_pct must lie in [0, 100], e.g. {bad.iloc[0]!r} "
                             f"at row {bad.index[0]}")


def split_patients(patients, folds: pd.DataFrame | None = None, test_fold: int = 0, n_folds: int = 8,
                   seed: int = 0) -> dict[str, str]:
    """``patient -> "train" / "val" / "test"`` by paper 001's rotation over patient-disjoint folds
    (:func:`ra_lib.cohort.folds.rotation`): fold ``test_fold`` tests, the next fold validates, the rest train.

    ``folds``: the cohort's ``patient, fold`` table (stage 5 uses the same); ``None`` draws ``n_folds``
    balanced folds with ``seed`` (:func:`ra_lib.cohort.folds.patient_folds`).
    """
    unique = sorted({str(p) for p in patients})
    if folds is None:
        folds = patient_folds(unique, n_folds, seed)
    _require_columns(folds, ("patient", "fold"), "folds table")
    first = folds.drop_duplicates("patient")
    fold_of = pd.Series(first["fold"].to_numpy(), index=first["patient"].astype(str))
    unknown = [p for p in unique if p not in fold_of.index]
    if unknown:
        raise ValueError(f"{len(unknown)} patient(s) have no fold in the folds table, e.g. {unknown[:3]}")
    _, val_fold, test_fold = rotation(fold_of.unique(), test_fold)
    names = {test_fold: "test", val_fold: "val"}
    return {p: names.get(fold_of[p], "train") for p in unique}


def preprocess_crops(images: np.ndarray, crop_size: int) -> torch.Tensor:
    """Resize grey crops ``(N, H, W)`` to ``crop_size`` and standardise each crop (zero mean, unit SD)."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3:
        raise ValueError(f"crop images must have shape (N, H, W), got {images.shape}")
    tensor = torch.from_numpy(images).unsqueeze(1)
    if tensor.shape[-2:] != (crop_size, crop_size):
        tensor = F.interpolate(tensor, size=(crop_size, crop_size), mode="bilinear", align_corners=False,
                               antialias=True)
    mean = tensor.mean(dim=(1, 2, 3), keepdim=True)
    std = tensor.std(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
    return ((tensor - mean) / std).contiguous()


def prepare_data(store, scores: pd.DataFrame | None, crop_size: int, folds: pd.DataFrame | None = None,
                 test_fold: int = 0, n_folds: int = 8, seed: int = 0) -> GradingData:
    """Join the crop store with the cohort scores, split patients, and preprocess the usable crops.

    ``store``: a :class:`ra_lib.stages.detection.crops.CropStore` (``.images`` ``(N, H, W)`` in [0, 1], ``.index``).
    ``scores``: the cohort scores table (``grade`` and ``eroded_pct`` per ``(hand_id, kind, site)``),
    or ``None`` to use the store's own ``grade`` column (then there is no ``eroded_pct``).
    Every scored hand site is a row to predict, with or without a crop. Splits: :func:`split_patients`.
    """
    index = store.index
    _require_columns(index, CROP_COLUMNS, "crop store index")
    n_images = len(store.images)
    bad_idx = index[(index["crop_idx"] < 0) | (index["crop_idx"] >= n_images)]
    if len(bad_idx):
        raise ValueError(f"crop store index: crop_idx {bad_idx['crop_idx'].iloc[0]} at row {bad_idx.index[0]} "
                         f"is outside the {n_images} stored crops")
    hand_keys = pd.DataFrame([(s.kind, s.site) for s in hand_sites()], columns=["kind", "site"])
    crops = index.merge(hand_keys, on=["kind", "site"])
    _check_unique(crops, "crop store index")
    counts = {"crops_in_store": int(len(index)), "crops_not_hand_sites": int(len(index) - len(crops))}
    crops = crops[["hand_id", "patient", "hand", "kind", "site", "crop_idx", "flagged", "grade"]]
    if scores is None:
        rows = crops.assign(eroded_pct=np.nan)
    else:
        _require_columns(scores, ("hand_id", "patient", "hand", "kind", "site", "grade"), "cohort scores")
        scored = scores.merge(hand_keys, on=["kind", "site"])
        _check_unique(scored, "cohort scores")
        counts["scores_not_hand_sites"] = int(len(scores) - len(scored))
        if "eroded_pct" not in scored.columns:
            scored = scored.assign(eroded_pct=np.nan)
        scored = scored[["hand_id", "patient", "hand", "kind", "site", "grade", "eroded_pct"]]
        rows = scored.merge(crops.drop(columns=["patient", "hand", "grade"]), on=["hand_id", "kind", "site"],
                            how="outer", indicator=True)
        counts["crops_without_score"] = int((rows["_merge"] == "right_only").sum())
        rows = rows[rows["_merge"] != "right_only"].drop(columns="_merge")
    rows = rows.reset_index(drop=True)
    rows["eroded_pct"] = rows["eroded_pct"].where(rows["kind"] == EROSION)
    _check_grades(rows, "cohort scores" if scores is not None else "crop store index")
    flagged = rows["flagged"].eq(True)
    rows["status"] = np.where(rows["crop_idx"].isna(), "no_crop", np.where(flagged, "flagged", "ok"))
    counts.update({"rows": int(len(rows)), "flagged": int((rows["status"] == "flagged").sum()),
                   "no_crop": int((rows["status"] == "no_crop").sum()),
                   "ungraded": int(rows["grade"].isna().sum())})
    split = split_patients(rows["patient"], folds, test_fold, n_folds, seed)
    rows["split"] = rows["patient"].astype(str).map(split)
    usable = rows["status"] == "ok"
    rows["image_row"] = -1
    rows.loc[usable, "image_row"] = np.arange(int(usable.sum()))
    crop_idx = rows.loc[usable, "crop_idx"].astype(int).to_numpy()
    images = preprocess_crops(np.asarray(store.images)[crop_idx], crop_size) if len(crop_idx) else \
        torch.empty((0, 1, crop_size, crop_size))
    rows = rows.drop(columns=["crop_idx", "flagged"])
    order = ["hand_id", "patient", "hand", "kind", "site", "grade", "eroded_pct", "split", "status", "image_row"]
    return GradingData(rows[order], images, counts)


# --- imbalance remedies ----------------------------------------------------------------
def class_counts(labels, n_classes: int) -> np.ndarray:
    """Number of samples of each class ``0..n_classes-1``."""
    labels = np.asarray(labels, dtype=int)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in 0..{n_classes - 1}, found {labels.min()}..{labels.max()}")
    return np.bincount(labels, minlength=n_classes)


def class_weights(labels, n_classes: int) -> torch.Tensor:
    """Paper 004 (c): ``weight_c = N / (C * count_c)`` so ``weight x count`` is ``N / C`` for each present
    class (``C`` present classes); absent classes get weight 0 (they contribute nothing anyway)."""
    counts = class_counts(labels, n_classes).astype(float)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return torch.tensor(weights, dtype=torch.float32)


def balanced_sampler(labels, generator: torch.Generator, num_samples: int | None = None) -> WeightedRandomSampler:
    """Paper 002's ImbalancedDatasetSampler: draw with replacement, sample weight ``1 / count`` of its class,
    so every present class is drawn equally often in expectation. One epoch = ``len(labels)`` draws."""
    labels = np.asarray(labels, dtype=int)
    counts = np.bincount(labels)
    weights = torch.as_tensor(1.0 / counts[labels], dtype=torch.double)
    return WeightedRandomSampler(weights, num_samples or len(labels), replacement=True, generator=generator)


def random_affine(batch: torch.Tensor, generator: torch.Generator, max_rotation_deg: float = 25.0,
                  max_shear_rad: float = 0.1, max_zoom: float = 0.1) -> torch.Tensor:
    """Paper 004 (b) augmentation of a batch ``(B, 1, H, W)``: random rotation, shear and zoom,
    each uniform in ``[-max, max]``; pixels from outside repeat the border (Keras ``nearest``)."""
    n = batch.shape[0]

    def uniform(limit: float) -> torch.Tensor:
        return (torch.rand(n, generator=generator) * 2 - 1) * limit

    angle, shear = uniform(math.radians(max_rotation_deg)), uniform(max_shear_rad)
    zoom = 1.0 + uniform(max_zoom)
    cos, sin, tan = torch.cos(angle), torch.sin(angle), torch.tan(shear)
    # rotation @ shear, divided by the zoom (affine_grid maps output to input coordinates)
    theta = torch.stack([torch.stack([cos, cos * tan - sin, torch.zeros(n)], dim=1),
                         torch.stack([sin, sin * tan + cos, torch.zeros(n)], dim=1)], dim=1) / zoom.view(n, 1, 1)
    grid = F.affine_grid(theta.to(batch.dtype), list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="border", align_corners=False)


# --- networks --------------------------------------------------------------------------
class TinyNet(nn.Module):
    """A small CPU network: four 3x3 conv / batch-norm / ReLU layers (three max-pools), global
    average pooling, dropout and one linear layer."""

    def __init__(self, num_outputs: int, width: int = 16):
        super().__init__()
        layers, channels = [], 1
        for i, out in enumerate((width, 2 * width, 4 * width, 4 * width)):
            layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            if i < 3:
                layers.append(nn.MaxPool2d(2))
            channels = out
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(channels, num_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _efficientnet(arch: str, num_outputs: int, weights_path: str | Path | None) -> nn.Module:
    """torchvision EfficientNet on one grey channel, from random weights or a local ImageNet state dict
    (its first convolution is summed over the RGB channels)."""
    from torchvision import models

    net = getattr(models, arch)(weights=None)
    if weights_path is not None:
        path = Path(weights_path)
        if not path.is_file():
            raise FileNotFoundError(f"{arch} weights file {path} does not exist")
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    stem = net.features[0][0]
    grey = nn.Conv2d(1, stem.out_channels, stem.kernel_size, stem.stride, stem.padding, bias=False)
    with torch.no_grad():
        grey.weight.copy_(stem.weight.sum(dim=1, keepdim=True))
    net.features[0][0] = grey
    net.classifier[-1] = nn.Linear(net.classifier[-1].in_features, num_outputs)
    return net


def build_model(arch: str, num_outputs: int, width: int = 16, weights_path: str | Path | None = None) -> nn.Module:
    """A grey-crop network with ``num_outputs`` outputs: ``tiny`` or a torchvision EfficientNet."""
    if arch == "tiny":
        if weights_path is not None:
            raise ValueError("weights_path applies to EfficientNet only, not the tiny network")
        return TinyNet(num_outputs, width)
    if arch in ("efficientnet_b0", "efficientnet_b4"):
        return _efficientnet(arch, num_outputs, weights_path)
    raise ValueError(f"unknown arch {arch!r}; expected one of {ARCHS}")


# --- training --------------------------------------------------------------------------
def make_loader(images: torch.Tensor, targets: torch.Tensor, batch_size: int, generator: torch.Generator,
                train: bool, sampler_labels=None, augment: bool = False) -> DataLoader:
    """A loader over preprocessed crops; training loaders shuffle (or oversample) and may augment."""
    dataset = TensorDataset(images, targets)
    sampler = balanced_sampler(sampler_labels, generator) if sampler_labels is not None else None

    def collate(batch):
        x = torch.stack([b[0] for b in batch])
        y = torch.stack([b[1] for b in batch])
        return (random_affine(x, generator) if augment else x), y

    return DataLoader(dataset, batch_size=batch_size, sampler=sampler,
                      shuffle=train and sampler is None, generator=generator if train else None,
                      drop_last=train and len(dataset) > batch_size, collate_fn=collate)


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run the block with ``n`` torch CPU threads (``None``: unchanged), then restore the previous number."""
    previous = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass
class TrainedModel:
    model: nn.Module
    history: pd.DataFrame
    seconds: float
    samples_seen: int


def train_network(images: torch.Tensor, targets: torch.Tensor, num_outputs: int, loss_fn, optimizer_factory,
                  settings, epochs: int, seed: int, device, val=None, sampler_labels=None,
                  augment: bool = False, desc: str = "epochs", progress: bool = True) -> TrainedModel:
    """Seed, build ``settings.arch`` and train it with :func:`ra_lib.core.training.fit` for up to ``epochs``.

    ``val``: optional ``(images, targets)`` of the validation split; with ``settings.patience`` training
    stops early on its loss and keeps the best epoch's weights. ``loss_fn`` runs with gradients enabled
    on training batches and disabled on validation batches.
    """
    generator = seed_everything(seed)
    model = build_model(settings.arch, num_outputs, settings.width, settings.weights_path)
    train_loader = make_loader(images, targets, settings.batch_size, generator, True, sampler_labels, augment)
    val_loader = None if val is None else make_loader(*val, settings.batch_size, generator, False)
    start = time.perf_counter()
    with torch_threads(settings.threads):
        history = fit(model, train_loader, val_loader, loss_fn, optimizer_factory(model.parameters()), epochs,
                      patience=settings.patience, device=device, desc=desc, progress=progress)
    seconds = time.perf_counter() - start
    samples = len(history) * (len(train_loader) * settings.batch_size if train_loader.drop_last else len(images))
    return TrainedModel(model, history, seconds, samples)


def train_grader(data: GradingData, kind: str, method: str, settings, seed: int, device,
                 progress: bool = True) -> TrainedModel:
    """Train one classifier of ``kind`` with one imbalance remedy on the usable training crops."""
    if method not in METHODS:
        raise ValueError(f"unknown grading method {method!r}; expected one of {METHODS}")
    n_classes = N_CLASSES[kind]
    train, val = data.select(kind, "train"), data.select(kind, "val")
    if train.empty:
        raise ValueError(f"no usable graded {kind} crops in the training split")
    labels = train["grade"].astype(int).to_numpy()
    weight = class_weights(labels, n_classes).to(device) if method != PLAIN else None

    def loss_fn(logits, target):
        # Oversampled training batches are balanced already; their validation loss is weighted instead,
        # which estimates the same balanced objective on the natural grade distribution.
        balanced_by_weight = method == CLASS_WEIGHTS or (method == OVERSAMPLE and not torch.is_grad_enabled())
        return F.cross_entropy(logits, target, weight=weight if balanced_by_weight else None)

    weight_decay = settings.weight_decay_jsn if kind == JSN else settings.weight_decay_erosion

    def optimizer(params):
        return torch.optim.SGD(params, lr=settings.lr, momentum=settings.momentum, weight_decay=weight_decay)

    def tensors(rows):
        return data.images[rows["image_row"].to_numpy()], torch.as_tensor(rows["grade"].to_numpy(), dtype=torch.long)

    return train_network(*tensors(train), n_classes, loss_fn, optimizer, settings, settings.epochs, seed, device,
                         val=tensors(val) if len(val) else None,
                         sampler_labels=labels if method == OVERSAMPLE else None, augment=method == OVERSAMPLE,
                         desc=f"{kind} {method}", progress=progress)


def predict_proba(model: nn.Module, images: torch.Tensor, device, batch_size: int = 256,
                  threads: int | None = None) -> np.ndarray:
    """Softmax grade probabilities of preprocessed crops, ``(N, n_classes)``."""
    loader = DataLoader(TensorDataset(images), batch_size=batch_size)
    with torch_threads(threads):
        return predict(model, loader, device, transform=lambda logits: torch.softmax(logits, dim=1))


def _prediction_table(rows: pd.DataFrame, proba: np.ndarray, method: str, imputed: np.ndarray) -> pd.DataFrame:
    padded = np.zeros((len(rows), MAX_CLASSES))
    padded[:, :proba.shape[1]] = proba
    table = pd.DataFrame({"hand_id": rows["hand_id"].to_numpy(), "patient": rows["patient"].to_numpy(),
                          "kind": rows["kind"].to_numpy(), "site": rows["site"].to_numpy(),
                          "split": rows["split"].to_numpy(), "method": method,
                          "grade_true": rows["grade"].to_numpy(), "grade_pred": padded.argmax(axis=1)})
    table[PROBA_COLUMNS] = padded
    table["imputed"] = imputed
    return table


@dataclass
class GradingResult:
    """Predictions of every method for every row, training histories and timings."""

    predictions: pd.DataFrame
    histories: pd.DataFrame
    timings: pd.DataFrame


def run_grading(data: GradingData, settings, seed: int = 0, device="cpu", progress: bool = True) -> GradingResult:
    """Train every ``settings.methods`` for both kinds; predict every row (all splits).

    Rows without a usable crop get the kind's training grade frequencies (``imputed``). A
    ``majority_baseline`` method predicts the most frequent training grade everywhere.
    """
    tables, histories, timings = [], [], []
    for kind in KINDS:
        n_classes = N_CLASSES[kind]
        rows = data.select(kind, usable=False, graded=False)
        usable = (rows["image_row"] >= 0).to_numpy()
        prior = class_counts(data.select(kind, "train")["grade"].astype(int), n_classes).astype(float)
        prior /= prior.sum()
        majority = np.eye(n_classes)[np.argmax(prior)]
        tables.append(_prediction_table(rows, np.tile(majority, (len(rows), 1)), MAJORITY, ~usable))
        for method in settings.methods:
            trained = train_grader(data, kind, method, settings, seed, device, progress)
            proba = np.tile(prior, (len(rows), 1))
            if usable.any():
                proba[usable] = predict_proba(trained.model, data.images[rows["image_row"].to_numpy()[usable]], device,
                                              threads=settings.threads)
            tables.append(_prediction_table(rows, proba, method, ~usable))
            histories.append(trained.history.assign(kind=kind, method=method))
            timings.append({"kind": kind, "method": method, "seconds": trained.seconds,
                            "samples": trained.samples_seen,
                            "samples_per_s": trained.samples_seen / max(trained.seconds, 1e-9)})
    return GradingResult(pd.concat(tables, ignore_index=True)[PREDICTION_COLUMNS],
                         pd.concat(histories, ignore_index=True), pd.DataFrame(timings))


# --- evaluation (through ra_lib.evaluation.metrics) ----------------------------------------------------
def evaluable(predictions: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Rows that enter the metrics: the split's graded rows with a usable crop (not imputed)."""
    return predictions[(predictions["split"] == split) & ~predictions["imputed"].astype(bool)
                       & predictions["grade_true"].notna()]


def grading_metrics(predictions: pd.DataFrame, split: str = "test", by=("kind", "method")) -> pd.DataFrame:
    """Paper 004 Table 2 and paper 002's numbers per group: accuracy, balanced (= class-normalised)
    accuracy, class-normalised accuracy within +-1 grade, and ``n``."""
    rows = []
    for key, group in evaluable(predictions, split).groupby(list(by), sort=False):
        t, p = group["grade_true"].astype(int), group["grade_pred"].astype(int)
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))),
                     "accuracy": metrics.accuracy(t, p),
                     "balanced_accuracy": metrics.balanced_accuracy(t, p),
                     "class_normalised_accuracy_pm1": metrics.within_one_accuracy(t, p, class_normalised=True),
                     "n": len(group)})
    return pd.DataFrame(rows)


def confusion_matrices(predictions: pd.DataFrame, split: str = "test") -> dict[tuple[str, str], pd.DataFrame]:
    """Row-normalised confusion matrices (paper 004 Fig. 6) per ``(kind, method)``, all grades as labels."""
    result = {}
    for (kind, method), group in evaluable(predictions, split).groupby(["kind", "method"], sort=False):
        result[(kind, method)] = metrics.confusion_matrix(group["grade_true"].astype(int),
                                                          group["grade_pred"].astype(int),
                                                          labels=range(N_CLASSES[kind]), normalise=True)
    return result


def learning_check(table: pd.DataFrame) -> pd.DataFrame:
    """Per kind: the majority-grade baseline's balanced accuracy against the best remedy's.

    ``table`` is :func:`grading_metrics` by ``(kind, method)``; ``learns`` says whether any remedy
    beats the baseline.
    """
    rows = []
    for kind, group in table.groupby("kind", sort=False):
        baseline = group.loc[group["method"] == MAJORITY, "balanced_accuracy"]
        models = group[group["method"] != MAJORITY]
        if baseline.empty or models.empty:
            continue
        best = models.loc[models["balanced_accuracy"].idxmax()]
        rows.append({"kind": kind, "baseline_balanced_accuracy": float(baseline.iloc[0]),
                     "best_method": best["method"], "best_balanced_accuracy": float(best["balanced_accuracy"]),
                     "learns": bool(best["balanced_accuracy"] > baseline.iloc[0])})
    return pd.DataFrame(rows)


def headline_table(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`grading_metrics` as one row per method (baseline first, then remedies a-c) and one column per
    criterion and kind."""
    wide = table.pivot(index="method", columns="kind",
                       values=["accuracy", "balanced_accuracy", "class_normalised_accuracy_pm1"])
    order = [m for m in (MAJORITY, *METHODS) if m in wide.index]
    return wide.reindex(order).rename(index=METHOD_LABELS)


#: Published numbers. Paper 002 (section 6, validation set; its "balanced accuracy" is accuracy on a
#: validation set resampled to balanced grades, whose expectation is the mean per-class recall used
#: here). Paper 004 Table 2 (Ratingen erosion stages 0-5, test set).
PAPER_002 = {JSN: {"accuracy": 0.5762, "balanced_accuracy": 0.6009},
             EROSION: {"accuracy": 0.17, "balanced_accuracy": 0.186}}
PAPER_004_TABLE2 = {PLAIN: {"accuracy": 0.726, "balanced_accuracy": 0.264, "class_normalised_accuracy_pm1": 0.558},
                    OVERSAMPLE: {"accuracy": 0.73, "balanced_accuracy": 0.337,
                                 "class_normalised_accuracy_pm1": 0.675},
                    CLASS_WEIGHTS: {"accuracy": 0.569, "balanced_accuracy": 0.422,
                                    "class_normalised_accuracy_pm1": 0.817}}


# --- figures ------------------------------------------------------------------------------
def plot_grade_counts(data: GradingData, split: str = "train"):
    """Bar charts of the grade counts of the usable crops of one split, one axis per kind (log scale)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(KINDS), figsize=(8, 2.8))
    for ax, kind in zip(axes, KINDS):
        counts = class_counts(data.select(kind, split)["grade"].astype(int), N_CLASSES[kind])
        ax.bar(range(N_CLASSES[kind]), counts, color="#457b9d")
        ax.set(yscale="log", xlabel=f"{kind} grade", ylabel=f"{split} crops", title=kind)
        for grade, count in enumerate(counts):
            ax.annotate(str(count), (grade, max(count, 1)), ha="center", va="bottom", fontsize=8)
    fig.tight_layout()
    return fig


def plot_example_crops(data: GradingData, kind: str, per_grade: int = 4, seed: int = 0):
    """A grid of preprocessed training crops of one kind: one row per grade."""
    import matplotlib.pyplot as plt

    rows = data.select(kind, "train")
    rng = np.random.default_rng(seed)
    n_classes = N_CLASSES[kind]
    fig, axes = plt.subplots(n_classes, per_grade, figsize=(1.3 * per_grade, 1.3 * n_classes), squeeze=False)
    for grade in range(n_classes):
        pool = rows.loc[rows["grade"] == grade, "image_row"].to_numpy()
        chosen = rng.choice(pool, size=min(per_grade, len(pool)), replace=False) if len(pool) else []
        for col, ax in enumerate(axes[grade]):
            ax.set_axis_off()
            if col < len(chosen):
                ax.imshow(data.images[chosen[col], 0].numpy(), cmap="gray")
        axes[grade][0].text(-0.15, 0.5, f"grade {grade}", transform=axes[grade][0].transAxes, ha="right",
                            va="center", fontsize=9)
    return fig


def plot_learning_curves(histories: pd.DataFrame, loss_label: str = "cross-entropy"):
    """Training (solid) and validation (dashed) loss per epoch, one axis per kind, one colour per method."""
    import matplotlib.pyplot as plt

    groups = list(histories.groupby("kind", sort=False)) if "kind" in histories else [("", histories)]
    fig, axes = plt.subplots(1, len(groups), figsize=(4 * len(groups), 2.8), squeeze=False)
    for ax, (kind, group) in zip(axes[0], groups):
        for i, (method, curve) in enumerate(group.groupby("method", sort=False)):
            colour = f"C{i}"
            ax.plot(curve["epoch"], curve["train_loss"], color=colour, label=METHOD_LABELS.get(method, method))
            ax.plot(curve["epoch"], curve["val_loss"], color=colour, ls="--")
        ax.set(title=kind, xlabel="epoch", ylabel=loss_label)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_confusion_matrices(matrices: dict, kind: str, methods=METHODS):
    """Row-normalised confusion matrices of one kind, one panel per method (paper 004 Fig. 6)."""
    import matplotlib.pyplot as plt

    methods = [m for m in methods if (kind, m) in matrices]
    fig, axes = plt.subplots(1, len(methods), figsize=(3.2 * len(methods), 3.1), squeeze=False)
    for ax, method in zip(axes[0], methods):
        matrix = matrices[(kind, method)]
        ax.imshow(matrix.fillna(0).to_numpy(), vmin=0, vmax=1, cmap="Blues")
        for (i, j), value in np.ndenumerate(matrix.to_numpy()):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if value > 0.6 else "black")
        ax.set(xticks=range(len(matrix.columns)), yticks=range(len(matrix.index)), xlabel="predicted grade",
               ylabel="true grade", title=METHOD_LABELS.get(method, method))
    fig.suptitle(kind)
    fig.tight_layout()
    return fig


# --- a toy store for tests and benchmarks ----------------------------------------------------
def toy_crop_store(n_patients: int = 12, crop_size: int = 32, seed: int = 0, flagged_fraction: float = 0.02):
    """A small in-memory crop store and cohort scores table whose grades are visible in the crops.

    JSN crops show two bone ends whose gap narrows with the grade; erosion crops show a disk with a
    dark bite whose area grows with the eroded percentage. Grades are skewed towards 0 as in the
    papers. Returns ``(store, scores)``; ``store`` has ``.images`` and ``.index`` like a
    :class:`ra_lib.stages.detection.crops.CropStore`.
    """
    from types import SimpleNamespace

    rng = np.random.default_rng(seed)
    skew = {JSN: [0.55, 0.2, 0.12, 0.08, 0.05], EROSION: [0.5, 0.2, 0.12, 0.08, 0.06, 0.04]}
    records = []
    for p in range(n_patients):
        for hand in ("L", "R"):
            hid = f"img{p:03d}:{hand}"
            for site in hand_sites():
                grade = int(rng.choice(N_CLASSES[site.kind], p=skew[site.kind]))
                pct = (0.0 if grade == 0 else float(rng.uniform((grade - 1) * 20 + 0.5, grade * 20))) \
                    if site.kind == EROSION else np.nan
                records.append({"hand_id": hid, "image_id": f"img{p:03d}", "patient": f"P-{p:010x}",
                                "hand": hand, "kind": site.kind, "site": site.site, "group": site.group,
                                "landmark": site.landmark, "grade": grade, "eroded_pct": pct})
    table = pd.DataFrame(records)
    yy, xx = np.mgrid[0:crop_size, 0:crop_size] / crop_size - 0.5
    images = np.empty((len(table), crop_size, crop_size), dtype=np.float32)
    for i, row in enumerate(table.itertuples()):
        if row.kind == JSN:
            gap = 0.05 + 0.3 * (4 - row.grade) / 4
            image = 0.8 * ((np.abs(yy) > gap / 2) & (np.abs(xx) < 0.3))
        else:
            bite = 0.25 * np.sqrt(row.eroded_pct / 100)
            image = 0.8 * ((xx**2 + yy**2) < 0.35**2) * ~(((xx - 0.3) ** 2 + yy**2) < bite**2)
        images[i] = np.clip(image + 0.1 + rng.normal(0, 0.05, image.shape), 0, 1)
    index = table.drop(columns="eroded_pct").assign(
        crop_idx=np.arange(len(table)), x=0.0, y=0.0, source="toy", likelihood=1.0,
        flagged=rng.uniform(size=len(table)) < flagged_fraction)
    scores = table[list(SCORE_COLUMNS)]
    return SimpleNamespace(images=images, index=index[list(CROP_COLUMNS)]), scores
