"""Stage 1, image selection (paper 000): which radiographs show one hand, both hands, or neither.

Paper 000 trains two binary CNNs on 252x252 inputs: Model 1, one hand vs the rest, and Model 2,
both hands vs the rest, and combines them into three classes. This module holds

* the paper's CNN (:class:`SelectionCNN`; input side a parameter, the flattened size derived),
* the preloaded, resized image cache (:func:`preload_images`, bilinear, decoded once per run),
* the patient-disjoint split (:func:`split_images`),
* training of the two binary models and of one three-class model for comparison
  (:func:`run_selection`), with augmentation from :mod:`ra_lib.stages.selection.augment`,
* the fusion rule (:func:`fuse`), the DICOM-tag baseline (:func:`tag_baseline`), the artifact
  table (:func:`predictions_table`), headline numbers (:func:`selection_metrics`) and the
  90-degree robustness check (:func:`rotated_predictions`, :func:`rotation_summary`).

Choices the paper leaves open (documented, all settings in :data:`PROFILES`): optimiser Adam with
learning rate 1e-4 and batch size 32 (Keras' default batch); dropout 0.25 after the second pooling
layer and 0.5 after FC 512 (the Keras example network the architecture follows); one grey input
channel (no layer size in Fig. 2 depends on it; the paper's "187,500 input neurons" = 250x250x3
hints at three replicated channels); images squashed to a square (Keras ``target_size``), bilinear
with antialiasing (as PIL's bilinear resize); Model 2's negatives are all non-both-hands images
("the rest"), so a cohort without "other" images still trains both models (Table 2's 1,572 = 3 x 524
suggests the paper's Model 2 saw only the 524 "other" images); early stopping on validation loss.

Unreadable images stop the run: :func:`preload_images` tries every image, then raises
:class:`UnreadableImagesError` whose ``table`` lists each failing image and why, so one pass shows
all the files to fix (selection must not silently drop a patient's radiograph).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm import tqdm

from ra_lib.evaluation import metrics
from ra_lib.core.errors import ImageReadError, RaDataError
from ra_lib.stages.selection.augment import AugmentedDataset, AugmentRanges, augmentation_plan, augmented_counts
from ra_lib.core.training import fit, predict, seed_everything

STAGE = "01_image_selection"
#: The three selection classes (what ``view_true`` / ``view_pred`` hold in the artifact).
CLASSES = ("one_hand", "both_hands", "other")
#: Cohort view (``ra_lib.cohort.schema.VIEWS``) -> selection class.
VIEW_TO_CLASS = {"left_hand": "one_hand", "right_hand": "one_hand", "both_hands": "both_hands", "other": "other"}
#: Output units of each model, in order: binary models output ``(rest, positive)``.
TASKS = {"model1": ("rest", "one_hand"), "model2": ("rest", "both_hands"), "three_class": CLASSES}
#: Paper 000 Table 2 (augmented training counts) and the training-set size they belong to.
PAPER_TABLE2 = {"model1": {"one_hand": 2343, "rest": 3140}, "model2": {"both_hands": 1144, "rest": 1572},
                "three_class": {"one_hand": 2343, "both_hands": 1144, "other": 1572}}
PAPER_TRAIN_IMAGES = 841
#: Model names in the artifact's ``model`` column.
FUSION, THREE_CLASS, TAGS = "two_binary_fused", "three_class", "dicom_tags"
#: Paper 000 Table 3 / Table 4 headline numbers.
PAPER_RESULTS = {"model1_accuracy": 0.952, "model2_accuracy": 0.979, "three_class_correct": 206, "n_test": 206}

_COMMON = {"lr": 1e-4, "batch_size": 32, "dropout_conv": 0.25, "dropout_fc": 0.5, "in_channels": 1,
           "threshold": 0.5, "test_fraction": 206 / 1047, "val_fraction": 0.2, "augment_ranges": {}}
#: smoke: seconds; quick: about a minute of 2 CPU cores (small input, few epochs, a higher learning
#: rate and 15 % of Table 2's augmented counts, yet it still converges); paper: the paper's sizes.
PROFILES = {
    "smoke": {**_COMMON, "input_size": 32, "epochs": 1, "patience": None, "augment_scale": 0.15},
    "quick": {**_COMMON, "input_size": 32, "epochs": 4, "patience": 2, "augment_scale": 0.15, "lr": 5e-4},
    "paper": {**_COMMON, "input_size": 252, "epochs": 50, "patience": 10, "augment_scale": 1.0},
}


class UnreadableImagesError(RaDataError):
    """Some images could not be read; ``table`` has one row per image (image_id, path, reason)."""

    def __init__(self, table: pd.DataFrame):
        self.table = table
        lines = "\n".join(f"  {r.image_id}: {r.path}: {r.reason}" for r in table.itertuples())
        super().__init__(f"{len(table)} image(s) cannot be read; fix or remove them from the manifest:\n{lines}")


# --- the paper's CNN -------------------------------------------------------------------------------

def feature_side(input_size: int) -> int:
    """Side of the last pooled feature map: 61 for the paper's 252."""
    side = ((input_size - 4) // 2 - 2) // 2
    if side < 1:
        raise ValueError(f"input_size {input_size} is too small for the selection CNN (at least 10)")
    return side


def flat_features(input_size: int) -> int:
    """Neurons after the second pooling layer: 128 x 61 x 61 = 476,288 at 252."""
    return 128 * feature_side(input_size) ** 2


class SelectionCNN(nn.Module):
    """Paper 000 Fig. 2: conv32 / conv64 / pool / conv128 (same) / conv128 / pool / FC512 / FC out.

    All 3x3 convolutions have stride 1 and ReLU; pooling is 2x2 max with stride 2; weights are
    Glorot-uniform, biases zero (Keras' defaults). ``forward`` returns logits (softmax in
    :func:`predict_proba`).
    """

    def __init__(self, input_size: int = 252, n_classes: int = 2, in_channels: int = 1,
                 dropout_conv: float = 0.25, dropout_fc: float = 0.5):
        super().__init__()
        self.input_size = input_size
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3), nn.ReLU(),
            nn.Conv2d(32, 64, 3), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(),
            nn.Conv2d(128, 128, 3), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Dropout(dropout_conv),
            nn.Flatten(),
        )
        self.classifier = nn.Sequential(
            nn.Linear(flat_features(input_size), 512), nn.ReLU(), nn.Dropout(dropout_fc),
            nn.Linear(512, n_classes),
        )
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def layer_shapes(model: SelectionCNN) -> pd.DataFrame:
    """Output shape (C, H, W or units) and neuron count of each conv, pool and FC layer (Fig. 2).

    Runs one zero image on the model's device; a model built under ``torch.device("meta")``
    gives the shapes of the full-size network without allocating it.
    """
    rows = []
    hooks = [module.register_forward_hook(
        lambda m, _inp, out, name=name: rows.append({"layer": name, "type": type(m).__name__,
                                                     "shape": tuple(out.shape[1:]), "neurons": out[0].numel()}))
        for name, module in model.named_modules() if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.Linear))]
    first = model.features[0]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, first.in_channels, model.input_size, model.input_size,
                                     device=first.weight.device))
    finally:
        for hook in hooks:
            hook.remove()
    return pd.DataFrame(rows)


def build_model(task: str, settings) -> SelectionCNN:
    """A fresh CNN for one task (``model1``, ``model2`` or ``three_class``) with the profile's sizes."""
    return SelectionCNN(settings.input_size, len(TASKS[task]), settings.in_channels,
                        settings.dropout_conv, settings.dropout_fc)


# --- images, labels, split -------------------------------------------------------------------------

def view_classes(views: Sequence[str]) -> np.ndarray:
    """Cohort views -> selection classes; an unknown view raises ``ValueError`` naming it."""
    unknown = sorted(set(views) - set(VIEW_TO_CLASS))
    if unknown:
        raise ValueError(f"unknown view(s) {unknown}; expected one of {sorted(VIEW_TO_CLASS)}")
    return np.array([VIEW_TO_CLASS[v] for v in views], dtype=object)


def task_labels(task: str, classes: Sequence[str]) -> np.ndarray:
    """Per image, the task's label name: the positive class or ``"rest"`` (three-class: the class)."""
    classes = np.asarray(classes, dtype=object)
    if task == "three_class":
        return classes
    positive = TASKS[task][1]
    return np.where(classes == positive, positive, "rest").astype(object)


def resize_image(array: np.ndarray, size: int) -> torch.Tensor:
    """A 2-D grey image -> ``(1, size, size)`` float tensor, bilinear with antialiasing."""
    tensor = torch.as_tensor(np.ascontiguousarray(array), dtype=torch.float32)[None, None]
    return F.interpolate(tensor, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]


def preload_images(image_ids: Sequence[str], load_image: Callable[[str], np.ndarray], size: int,
                   paths: Sequence[str] | None = None, progress: bool = True) -> torch.Tensor:
    """Decode and resize every image once: ``(N, 1, size, size)`` float32 in [0, 1].

    ``load_image(image_id)`` returns a 2-D float array in [0, 1] or raises
    :class:`~ra_lib.core.errors.ImageReadError`. All images are tried; if any fail (or return something
    that is not a finite 2-D array) :class:`UnreadableImagesError` lists them all.
    """
    cache = torch.zeros(len(image_ids), 1, size, size)
    paths = list(paths) if paths is not None else [""] * len(image_ids)
    failures = []
    for i, image_id in enumerate(tqdm(image_ids, desc="images", leave=False, disable=not progress)):
        try:
            array = np.asarray(load_image(image_id))
            if array.ndim != 2 or array.size == 0:
                raise ImageReadError(paths[i], f"expected a 2-D grey image, got shape {array.shape}")
            if not np.isfinite(array).all():
                raise ImageReadError(paths[i], "pixel values are not all finite")
        except ImageReadError as error:
            failures.append({"image_id": image_id, "path": error.path or paths[i], "reason": error.reason})
            continue
        cache[i] = resize_image(array, size)
    if failures:
        raise UnreadableImagesError(pd.DataFrame(failures, columns=["image_id", "path", "reason"]))
    return cache


def _take_patients(patients: np.ndarray, wanted: int, rng: np.random.Generator) -> np.ndarray:
    """Mask of whole patients, in a random order, whose image count comes closest to ``wanted``."""
    unique, counts = np.unique(patients, return_counts=True)
    order = rng.permutation(len(unique))
    cumulative = np.cumsum(counts[order])
    n_patients = int(np.argmin(np.abs(np.r_[0, cumulative] - wanted)))
    return np.isin(patients, unique[order[:n_patients]])


def split_images(patients: Sequence[str], test_fraction: float, val_fraction: float, seed: int) -> np.ndarray:
    """``"train"`` / ``"val"`` / ``"test"`` per image, patient-disjoint.

    The test set takes whole patients until it holds about ``test_fraction`` of the images
    (paper: 206 of 1,047); validation then takes about ``val_fraction`` of the rest (paper: 20 %).
    """
    patients = np.asarray(patients).astype(str)
    rng = np.random.default_rng(seed)
    split = np.full(len(patients), "train", dtype=object)
    split[_take_patients(patients, round(test_fraction * len(patients)), rng)] = "test"
    rest = np.flatnonzero(split == "train")
    val = _take_patients(patients[rest], round(val_fraction * len(rest)), rng)
    split[rest[val]] = "val"
    return split


# --- training and prediction -----------------------------------------------------------------------

def scaled_targets(task: str, n_train_images: int, scale: float) -> dict[str, int]:
    """Table 2 counts scaled to this cohort: ``count x n_train_images / 841 x scale``."""
    factor = n_train_images / PAPER_TRAIN_IMAGES * scale
    return {label: int(round(count * factor)) for label, count in PAPER_TABLE2[task].items()}


def train_task(task: str, images: torch.Tensor, classes: np.ndarray, split: np.ndarray, settings, seed: int,
               device: torch.device | str = "cpu", progress: bool = True):
    """Train one model on the ``train`` rows (augmented per plan), early-stopping on ``val``.

    Augmentation targets are Table 2 scaled to the training images (train + val); copies are
    made from the ``train`` rows only, so no validation image leaks into training.
    Returns ``(model, history, plan)``.
    """
    names = TASKS[task]
    labels = task_labels(task, classes)
    codes = np.array([names.index(label) for label in labels])
    fit_rows, val_rows = np.flatnonzero(split == "train"), np.flatnonzero(split == "val")
    targets = scaled_targets(task, len(fit_rows) + len(val_rows), settings.augment_scale)
    plan = augmentation_plan(labels[fit_rows], targets, seed)
    ranges = AugmentRanges.from_mapping(settings.augment_ranges)
    generator = seed_everything(seed)
    train_loader = DataLoader(AugmentedDataset(images[fit_rows], codes[fit_rows], plan, ranges, seed),
                              batch_size=settings.batch_size, shuffle=True, generator=generator)
    val_loader = None
    if len(val_rows):
        val_loader = DataLoader(TensorDataset(images[val_rows], torch.as_tensor(codes[val_rows])),
                                batch_size=settings.batch_size)
    model = build_model(task, settings)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, settings.epochs,
                  settings.patience, device, desc=task, progress=progress)
    return model, history, plan


def predict_proba(model: nn.Module, images: torch.Tensor, batch_size: int = 64,
                  device: torch.device | str = "cpu") -> np.ndarray:
    """Softmax probabilities ``(N, n_classes)``."""
    loader = DataLoader(TensorDataset(images), batch_size=batch_size)
    return predict(model, loader, device, transform=lambda logits: torch.softmax(logits, dim=1))


def fuse(p_one_hand, p_both_hands, threshold: float = 0.5) -> np.ndarray:
    """Three classes from the two binary models' positive probabilities.

    ``other`` when both are below ``threshold``; otherwise the class of the larger probability
    (a tie goes to ``one_hand``).
    """
    p_one, p_both = np.asarray(p_one_hand, dtype=float), np.asarray(p_both_hands, dtype=float)
    if p_one.shape != p_both.shape:
        raise ValueError(f"p_one_hand {p_one.shape} and p_both_hands {p_both.shape} differ in shape")
    hand = np.where(p_one >= p_both, "one_hand", "both_hands")
    return np.where((p_one < threshold) & (p_both < threshold), "other", hand).astype(object)


def tag_baseline(body_part: Sequence[str], laterality: Sequence[str] | None = None) -> np.ndarray:
    """Selection from DICOM tags alone: ``BodyPartExamined == HAND`` is a hand, anything else other.

    A hand is ``both_hands`` when ``ImageLaterality`` is ``B`` (both) and ``one_hand`` otherwise;
    without laterality every HAND image counts as one hand. Hands tagged ``EXTREMITY`` or left blank
    are lost as ``other``: the failure paper 000 describes.
    """
    parts = pd.Series(list(body_part), dtype=object).fillna("").astype(str).str.strip().str.upper()
    sides = (pd.Series(list(laterality), dtype=object).fillna("").astype(str).str.strip().str.upper()
             if laterality is not None else pd.Series([""] * len(parts)))
    hand = np.where(sides.to_numpy() == "B", "both_hands", "one_hand")
    return np.where(parts.to_numpy() == "HAND", hand, "other").astype(object)


# --- the stage -----------------------------------------------------------------------------------

@dataclass
class SelectionRun:
    """Everything one stage run produced."""

    images: pd.DataFrame  # cohort images + ``class`` and ``split``
    cache: torch.Tensor = field(repr=False)
    models: dict[str, SelectionCNN] = field(repr=False)
    histories: dict[str, pd.DataFrame]
    plans: dict[str, pd.DataFrame] = field(repr=False)
    probabilities: dict[str, np.ndarray] = field(repr=False)

    @property
    def table2(self) -> pd.DataFrame:
        """Augmented training counts per model and class (paper 000 Table 2)."""
        return augmented_counts(self.plans)


def run_selection(images: pd.DataFrame, load_image: Callable[[str], np.ndarray], settings, seed: int = 0,
                  device: torch.device | str = "cpu", tasks: Sequence[str] = tuple(TASKS),
                  progress: bool = True) -> SelectionRun:
    """Preload, split, train ``tasks`` (both binary models and the three-class model) and predict all images.

    ``images`` needs ``image_id``, ``patient`` and ``view`` (``path`` and ``body_part`` are kept if present).
    """
    missing = sorted({"image_id", "patient", "view"} - set(images.columns))
    if missing:
        raise ValueError(f"images table lacks column(s) {missing}")
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown:
        raise ValueError(f"unknown selection task(s) {unknown}; expected from {sorted(TASKS)}")
    table = images.reset_index(drop=True).copy()
    table["class"] = view_classes(table["view"])
    table["split"] = split_images(table["patient"], settings.test_fraction, settings.val_fraction, seed)
    paths = table["path"].astype(str).tolist() if "path" in table else None
    cache = preload_images(table["image_id"].tolist(), load_image, settings.input_size, paths, progress)
    models, histories, plans, probabilities = {}, {}, {}, {}
    for task in tasks:
        model, history, plan = train_task(task, cache, table["class"].to_numpy(), table["split"].to_numpy(),
                                          settings, seed, device, progress)
        probabilities[task] = predict_proba(model, cache, settings.batch_size, device)
        models[task], histories[task], plans[task] = model.cpu(), history, plan
    return SelectionRun(table, cache, models, histories, plans, probabilities)


def predictions_table(run: SelectionRun, threshold: float = 0.5) -> pd.DataFrame:
    """The stage artifact: one row per image and model (fused binary models, three-class, DICOM tags).

    Columns: image_id, view_true, view_pred, p_one_hand, p_both_hands, model, split. The tag
    baseline's probabilities are its 0/1 decisions. Train and validation images are predicted
    too (marked by ``split``) so later stages can start from every selected image.
    """
    base = run.images[["image_id"]].assign(view_true=run.images["class"].to_numpy())
    frames = [pd.concat([base, predicted.assign(model=model)], axis=1)
              for model, predicted in decide(run.probabilities, threshold).items()]
    body_part = run.images["body_part"] if "body_part" in run.images else [""] * len(run.images)
    tags = tag_baseline(body_part)
    frames.append(base.assign(view_pred=tags, p_one_hand=(tags == "one_hand").astype(float),
                              p_both_hands=(tags == "both_hands").astype(float), model=TAGS))
    out = pd.concat(frames, ignore_index=True)
    out["split"] = np.tile(run.images["split"].to_numpy(), len(frames))
    return out[["image_id", "view_true", "view_pred", "p_one_hand", "p_both_hands", "model", "split"]]


def selection_metrics(predictions: pd.DataFrame, split: str = "test", threshold: float = 0.5) -> dict:
    """Headline numbers on one split: per model three-class accuracy and confusion counts,
    the binary accuracies of Model 1 and Model 2 (paper Table 3), and the majority-class baseline
    (the most frequent training class predicted for every image)."""
    rows = predictions[predictions["split"] == split]
    train = predictions[predictions["split"] == "train"].drop_duplicates("image_id")
    majority = train["view_true"].mode().iloc[0] if len(train) else CLASSES[-1]
    out = {"split": split, "n": int(rows["image_id"].nunique()), "majority_class": majority, "models": {}}
    for model, group in rows.groupby("model", sort=False):
        truth, pred = group["view_true"].to_numpy(), group["view_pred"].to_numpy()
        counts = metrics.confusion_matrix(truth, pred, labels=list(CLASSES), normalise=False)
        out["models"][model] = {
            "accuracy": metrics.accuracy(truth, pred),
            "correct": int((truth == pred).sum()),
            "balanced_accuracy": metrics.balanced_accuracy(truth, pred),
            "model1_accuracy": metrics.accuracy(truth == "one_hand", group["p_one_hand"].to_numpy() >= threshold),
            "model2_accuracy": metrics.accuracy(truth == "both_hands",
                                                group["p_both_hands"].to_numpy() >= threshold),
            "confusion": counts.to_dict(orient="index"),
        }
        if "majority_accuracy" not in out:
            out["majority_accuracy"] = metrics.accuracy(truth, np.full(len(truth), majority, dtype=object))
    return out


def confusion_counts(predictions: pd.DataFrame, model: str, split: str = "test") -> pd.DataFrame:
    """Three-class confusion counts of one model on one split (paper Table 4)."""
    rows = predictions[(predictions["split"] == split) & (predictions["model"] == model)]
    return metrics.confusion_matrix(rows["view_true"], rows["view_pred"], labels=list(CLASSES), normalise=False)


def decide(probabilities: dict[str, np.ndarray], threshold: float = 0.5) -> dict[str, pd.DataFrame]:
    """Per model (fused binary pair, three-class) from softmax outputs: ``view_pred``, ``p_one_hand``,
    ``p_both_hands``."""
    out = {}
    if "model1" in probabilities and "model2" in probabilities:
        p_one, p_both = probabilities["model1"][:, 1], probabilities["model2"][:, 1]
        out[FUSION] = pd.DataFrame({"view_pred": fuse(p_one, p_both, threshold),
                                    "p_one_hand": p_one, "p_both_hands": p_both})
    if THREE_CLASS in probabilities:
        prob = probabilities[THREE_CLASS]
        out[THREE_CLASS] = pd.DataFrame({"view_pred": np.asarray(CLASSES, dtype=object)[prob.argmax(axis=1)],
                                         "p_one_hand": prob[:, 0], "p_both_hands": prob[:, 1]})
    return out


def rotated_predictions(run: SelectionRun, settings, device: torch.device | str = "cpu", split: str = "test",
                        quarter_turns: int = 1) -> pd.DataFrame:
    """Predictions for the hand images of ``split``, upright and turned ``quarter_turns`` x 90 degrees
    counter-clockwise (``np.rot90`` convention; paper Fig. 4a: a rotated both-hands image read as "other").

    Columns: image_id, view_true, orientation, model, view_pred, p_one_hand, p_both_hands.
    """
    rows = np.flatnonzero((run.images["split"] == split).to_numpy() & (run.images["class"] != "other").to_numpy())
    base = pd.DataFrame({"image_id": run.images["image_id"].to_numpy()[rows],
                         "view_true": run.images["class"].to_numpy()[rows]})
    upright = run.cache[rows]
    frames = []
    for orientation, images in (("upright", upright), ("rotated", torch.rot90(upright, quarter_turns, dims=(2, 3)))):
        probabilities = {task: predict_proba(model, images, settings.batch_size, device)
                         for task, model in run.models.items()}
        for model, predicted in decide(probabilities, settings.threshold).items():
            frames.append(pd.concat([base.assign(orientation=orientation, model=model), predicted], axis=1))
    columns = ["image_id", "view_true", "orientation", "model", "view_pred", "p_one_hand", "p_both_hands"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def rotation_summary(rotated: pd.DataFrame) -> pd.DataFrame:
    """Accuracy of each model on upright and rotated hands, and how many it took for "other"."""
    rows = []
    for (model, orientation), group in rotated.groupby(["model", "orientation"], sort=False):
        rows.append({"model": model, "orientation": orientation, "n": len(group),
                     "accuracy": metrics.accuracy(group["view_true"], group["view_pred"]),
                     "taken_for_other": int((group["view_pred"] == "other").sum())})
    return pd.DataFrame(rows, columns=["model", "orientation", "n", "accuracy", "taken_for_other"])


def misclassified(predictions: pd.DataFrame, model: str = FUSION, split: str = "test") -> pd.DataFrame:
    """The wrongly selected images of one model on one split (paper Fig. 4)."""
    rows = predictions[(predictions["split"] == split) & (predictions["model"] == model)]
    return rows[rows["view_true"] != rows["view_pred"]].reset_index(drop=True)


def table2_comparison(table2: pd.DataFrame) -> pd.DataFrame:
    """This run's augmented counts beside paper 000 Table 2."""
    paper = pd.DataFrame([{"model": m, "class": c, "paper": n} for m, counts in PAPER_TABLE2.items()
                          for c, n in counts.items()])
    return paper[["model", "class"]].merge(table2, on=["model", "class"]).merge(paper, on=["model", "class"])


def headline_table(result: dict) -> pd.DataFrame:
    """:func:`selection_metrics` as one row per model, beside the paper and the majority class."""
    n = result["n"]
    paper_correct, paper_n = PAPER_RESULTS["three_class_correct"], PAPER_RESULTS["n_test"]
    rows = [{"model": "paper 000: two binary, fused", "accuracy": paper_correct / paper_n,
             "correct": f"{paper_correct} / {paper_n}",
             "model 1 (one hand)": PAPER_RESULTS["model1_accuracy"],
             "model 2 (both hands)": PAPER_RESULTS["model2_accuracy"]}]
    for model, values in result["models"].items():
        rows.append({"model": model, "accuracy": values["accuracy"], "correct": f"{values['correct']} / {n}",
                     "model 1 (one hand)": values["model1_accuracy"],
                     "model 2 (both hands)": values["model2_accuracy"]})
    rows.append({"model": f"majority class ({result['majority_class']})", "accuracy": result["majority_accuracy"],
                 "correct": f"{round(result['majority_accuracy'] * n)} / {n}",
                 "model 1 (one hand)": float("nan"), "model 2 (both hands)": float("nan")})
    return pd.DataFrame(rows).set_index("model")
