"""Stage 3 (paper 001): per-joint intact (grade 0) vs non-intact (grade >= 1) classification.

From a joint-crop store (stage 2) this module builds, for each kind (erosion, JSN), joint group
and model type (:mod:`ra_lib.stages.classification.models`), the model's *samples*: tuples of crops
with one binary label each. It then runs paper 001's patient-disjoint cross-validation (8 folds:
6 train / 1 validation / 1 test, rotating, :func:`ra_lib.cohort.folds.rotation`), trains one model per
(kind, group, model type, test fold) and collects out-of-fold (OOF) probabilities.

Rules (also stated on the book page):

* Flagged crops (stage 2 marked the detection unreliable) and crops without a grade are left
  out and counted.
* Hands are paired by *visit* (same image, or same patient and study date when a mapping is
  given); a pair lacking one hand, or a sample lacking a crop, keeps its other crops: the missing
  input is a zero image whose target is masked out of the loss and which gets no prediction.
  Nothing is dropped; the number of masked inputs is reported.
* Class balance (paper: geometric augmentation of train and validation "until the total was
  about 10,000 with no class imbalance"): a sample is *positive* when any of its labels is
  non-intact. Train samples of each class are all kept once and topped up with augmented copies
  drawn with replacement until each class has ``max(train_size / 2, majority count)`` samples;
  validation samples are topped up to the majority count only. A class absent from a split is
  left absent. For SISO, sample class = joint class; for MIMO, oversampling positive samples is
  the paper-compatible rule (its text does not say more).
* Sizes count crops, as the paper's "about 10,000 images": ``train_size`` crops are
  ``train_size / k`` samples of a model taking ``k`` crops, and a batch of ``batch_crops`` crops
  holds ``batch_crops / k`` samples, so every model type sees about as many crops per step and
  per epoch.
* Augmented copies get an independent random rotation (+-3 degrees), shift (+-5 px of the
  paper's 224-px input, scaled to the crop size) and scale (0.97-1.03) per crop.
"""
from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F
from tqdm import tqdm

from ra_lib.evaluation import metrics
from ra_lib.stages.classification.models import MODEL_LABELS, MODEL_TYPES, build_model, masked_bce_sum
from ra_lib.cohort.folds import rotation
from ra_lib.cohort.sites import FINGER_GROUPS, GROUPS, KINDS, sites_in_group
from ra_lib.core.training import fit, predict, seed_everything, select_device

STAGE = "03_joint_classification"
OOF_COLUMNS = ("hand_id", "patient", "hand", "kind", "site", "group", "fold", "model", "probability", "label")
INDEX_COLUMNS = ("crop_idx", "hand_id", "image_id", "patient", "hand", "kind", "site", "group", "x", "y",
                 "flagged", "grade")
REGIONS = ("finger", "wrist", "all")
ROTATION_DEG = 3.0
SHIFT_PX = 5.0
SHIFT_REFERENCE_PX = 224
SCALE_RANGE = (0.97, 1.03)

PROFILES = {
    "smoke": {
        "models": MODEL_TYPES, "kinds": KINDS, "groups": None, "test_folds": (0,),
        "crop_size": 24, "backbone": "small", "width": 4, "weights_path": None, "pool": 1,
        "fc_layers": 1, "fc_width": 16, "dropout": 0.0, "init": "he",
        "batch_crops": 64, "lr": 3e-3, "epochs": 1, "patience": 1, "train_size": None, "threshold": 0.5,
    },
    "quick": {
        "models": MODEL_TYPES, "kinds": KINDS, "groups": None, "test_folds": (0, 1, 2, 3),
        "crop_size": 32, "backbone": "small", "width": 8, "weights_path": None, "pool": 1,
        "fc_layers": 1, "fc_width": 32, "dropout": 0.2, "init": "he",
        "batch_crops": 64, "lr": 3e-3, "epochs": 6, "patience": 3, "train_size": None, "threshold": 0.5,
    },
    "paper": {
        "models": MODEL_TYPES, "kinds": KINDS, "groups": None, "test_folds": None,
        "crop_size": 224, "backbone": "vgg16", "width": 8, "weights_path": None, "pool": 7,
        "fc_layers": 2, "fc_width": 256, "dropout": 0.5, "init": "he",
        "batch_crops": 32, "lr": 1e-4, "epochs": 100, "patience": 10, "train_size": 10_000, "threshold": 0.5,
    },
}


# --- joints and samples ------------------------------------------------------------------------
def visits_from_images(images: pd.DataFrame) -> dict[str, str]:
    """``image_id -> visit`` (patient and study date) from the cohort's images table.

    Pairs a left-hand and a right-hand radiograph taken on the same day; without a study date
    an image is its own visit.
    """
    date = images["study_date"].astype("string").fillna("")
    visit = np.where(date == "", images["image_id"].astype(str), images["patient"].astype(str) + "|" + date)
    return dict(zip(images["image_id"].astype(str), visit))


def joint_table(index: pd.DataFrame, folds: pd.DataFrame, kind: str,
                visits: Mapping[str, str] | None = None) -> tuple[pd.DataFrame, dict]:
    """Usable crops of one kind with ``label`` (grade >= 1), ``fold`` and hand ``pair``; and counts.

    Flagged and ungraded crops are left out; the counts say how many.
    """
    missing = [c for c in INDEX_COLUMNS if c not in index.columns]
    if missing:
        raise ValueError(f"crop index (crops.csv) lacks column(s) {missing}")
    crops = index[index["kind"] == kind]
    flagged = crops["flagged"].astype(bool)
    ungraded = crops["grade"].isna() & ~flagged
    joints = crops[~flagged & ~ungraded].copy()
    duplicated = joints.duplicated(["hand_id", "site"])
    if duplicated.any():
        row = joints[duplicated].iloc[0]
        raise ValueError(f"crop index has two usable {kind} crops for hand {row.hand_id} site {row.site}")
    fold_of = folds.drop_duplicates("patient").set_index("patient")["fold"]
    unknown = sorted(set(joints["patient"]) - set(fold_of.index))
    if unknown:
        raise ValueError(f"{len(unknown)} patient(s) of the crop index have no fold, e.g. {unknown[:3]}")
    joints["fold"] = joints["patient"].map(fold_of).astype(int)
    joints["label"] = (joints["grade"] >= 1).astype(np.float32)
    joints["pair"] = _pair_keys(joints, visits)
    counts = {"crops": int(len(crops)), "flagged": int(flagged.sum()), "ungraded": int(ungraded.sum()),
              "used": int(len(joints)), "non_intact": int(joints["label"].sum())}
    return joints.reset_index(drop=True), counts


def _pair_keys(joints: pd.DataFrame, visits: Mapping[str, str] | None) -> pd.Series:
    """Pair the left and right hand of a visit: the i-th left hand with the i-th right hand (by id)."""
    hands = joints.drop_duplicates("hand_id")[["hand_id", "image_id", "hand"]].copy()
    hands["visit"] = hands["image_id"].astype(str).map(lambda i: (visits or {}).get(i, i))
    hands = hands.sort_values(["visit", "hand", "hand_id"])
    hands["rank"] = hands.groupby(["visit", "hand"]).cumcount()
    key = hands["visit"] + "#" + hands["rank"].astype(str)
    return joints["hand_id"].map(dict(zip(hands["hand_id"], key)))


@dataclass
class Samples:
    """The inputs of one model type on one joint group: ``rows[i, j]`` is the joint-table row of
    crop ``j`` of sample ``i`` (``-1``: missing input)."""

    model_type: str
    kind: str
    group: str
    joints: pd.DataFrame
    rows: np.ndarray
    fold: np.ndarray

    @property
    def crop_idx(self) -> np.ndarray:
        return np.where(self.rows >= 0, self.joints["crop_idx"].to_numpy()[self.rows], -1)

    @property
    def labels(self) -> np.ndarray:
        return np.where(self.rows >= 0, self.joints["label"].to_numpy()[self.rows], np.nan).astype(np.float32)

    @property
    def positive(self) -> np.ndarray:
        return (np.nan_to_num(self.labels) > 0).any(axis=1)

    def counts(self) -> dict:
        """Samples, masked inputs and samples lacking a whole hand (MIMO local / both-hands)."""
        missing = self.rows < 0
        half = self.rows.shape[1] // 2
        lacking_hand = (missing[:, :half].all(axis=1) | missing[:, half:].all(axis=1)
                        if self.model_type in ("mimo_local", "mimo_both_hands") else np.zeros(len(self.rows), bool))
        return {"samples": int(len(self.rows)), "masked_inputs": int(missing.sum()),
                "samples_missing_hand": int(lacking_hand.sum())}


def build_samples(joints: pd.DataFrame, kind: str, group: str, model_type: str) -> Samples:
    """Samples of ``model_type`` for one joint group from :func:`joint_table`'s output for ``kind``."""
    sites = [s.site for s in sites_in_group(kind, group)]
    sub = joints[joints["site"].isin(sites)]
    pos = pd.Series(sub.index, index=pd.MultiIndex.from_arrays([sub["pair"], sub["hand"], sub["site"]]))
    if model_type == "siso":
        keys = [[k] for k in pos.index]
    elif model_type == "mimo_one_hand":
        hands = sub[["pair", "hand"]].drop_duplicates().itertuples(index=False)
        keys = [[(pair, hand, s) for s in sites] for pair, hand in hands]
    elif model_type == "mimo_local":
        pair_sites = sub[["pair", "site"]].drop_duplicates().itertuples(index=False)
        keys = [[(pair, h, s) for h in ("L", "R")] for pair, s in pair_sites]
    elif model_type == "mimo_both_hands":
        keys = [[(pair, h, s) for h in ("L", "R") for s in sites] for pair in sub["pair"].unique()]
    else:
        raise ValueError(f"unknown model type {model_type!r}; expected one of {MODEL_TYPES}")
    lookup = pos.to_dict()
    width = {"siso": 1, "mimo_one_hand": len(sites), "mimo_local": 2, "mimo_both_hands": 2 * len(sites)}[model_type]
    rows = np.array([[lookup.get(k, -1) for k in sample] for sample in keys], dtype=np.int64).reshape(len(keys), width)
    first = rows.max(axis=1) if len(rows) else np.empty(0, np.int64)
    fold = joints["fold"].to_numpy()[first] if len(rows) else np.empty(0, int)
    return Samples(model_type, kind, group, joints, rows, fold)


# --- balancing and augmentation ----------------------------------------------------------------
def balance(positive: np.ndarray, train_size: int | None, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a class-balanced set and whether each is an augmented copy.

    Each class present gets ``max(train_size // 2, majority count)`` items (``train_size=None``:
    the majority count): all its originals once, then copies drawn with replacement.
    """
    positive = np.asarray(positive, bool)
    classes = [np.flatnonzero(positive), np.flatnonzero(~positive)]
    target = max([len(c) for c in classes] + [(train_size or 0) // 2])
    picked, augmented = [], []
    for members in classes:
        if not len(members):
            continue
        extra = rng.choice(members, size=max(target - len(members), 0), replace=True)
        picked.append(np.concatenate([members, extra]))
        augmented.append(np.r_[np.zeros(len(members), bool), np.ones(len(extra), bool)])
    if not picked:
        return np.empty(0, np.int64), np.empty(0, bool)
    return np.concatenate(picked), np.concatenate(augmented)


def augmentation_thetas(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Random affine matrices ``(n, k, 2, 3)`` for ``F.affine_grid`` (paper 001's perturbations)."""
    angle = np.deg2rad(rng.uniform(-ROTATION_DEG, ROTATION_DEG, shape))
    scale = rng.uniform(*SCALE_RANGE, shape)
    shift = rng.uniform(-1, 1, (*shape, 2)) * 2 * SHIFT_PX / SHIFT_REFERENCE_PX  # grid spans [-1, 1]
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    theta = np.stack([np.stack([cos, -sin, shift[..., 0]], -1), np.stack([sin, cos, shift[..., 1]], -1)], -2)
    return theta.astype(np.float32)


class CropBatches:
    """Mini-batches ``(crops (B, k, H, W), targets (B, k))``; augmented items transformed on the fly.

    ``crop_idx`` ``-1`` gives a zero image. Shuffled each pass with ``generator`` when ``shuffle``.
    """

    def __init__(self, images: torch.Tensor, crop_idx: np.ndarray, labels: np.ndarray, batch_size: int,
                 augmented: np.ndarray | None = None, thetas: np.ndarray | None = None,
                 shuffle: bool = False, generator: torch.Generator | None = None):
        self.images = torch.cat([images, images.new_zeros((1, *images.shape[1:]))])
        self.crop_idx = torch.as_tensor(np.where(crop_idx < 0, len(images), crop_idx))
        self.labels = torch.as_tensor(labels, dtype=torch.float32)
        self.augmented = torch.as_tensor(augmented if augmented is not None else np.zeros(len(labels), bool))
        self.thetas = torch.as_tensor(thetas) if thetas is not None else None
        self.batch_size, self.shuffle, self.generator = batch_size, shuffle, generator

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            crops = self.images[self.crop_idx[idx]]
            aug = self.augmented[idx]
            if aug.any():
                batch, k, height, width = crops.shape
                moved = crops[aug].reshape(-1, 1, height, width)
                grid = F.affine_grid(self.thetas[idx][aug].reshape(-1, 2, 3), list(moved.shape), align_corners=False)
                moved = F.grid_sample(moved, grid, padding_mode="border", align_corners=False)
                crops[aug] = moved.reshape(-1, k, height, width)
            yield crops, self.labels[idx]


# --- cross-validation --------------------------------------------------------------------------
@dataclass
class CVResult:
    """OOF predictions (``OOF_COLUMNS``), one row per training run, epoch histories and counts."""

    oof: pd.DataFrame
    runs: pd.DataFrame
    history: pd.DataFrame
    counts: dict = field(default_factory=dict)


def prepare_images(images: np.ndarray, size: int) -> torch.Tensor:
    """Crops ``(N, H, W)`` in [0, 1] resized to ``size`` x ``size`` (area / bilinear), float32."""
    tensor = torch.as_tensor(np.asarray(images, np.float32))
    if tensor.ndim != 3:
        raise ValueError(f"crop store images must be (N, H, W), got shape {tuple(tensor.shape)}")
    if tuple(tensor.shape[1:]) == (size, size):
        return tensor.contiguous()
    return F.interpolate(tensor[:, None], size=(size, size), mode="bilinear", antialias=True,
                         align_corners=False)[:, 0].contiguous()


def run_seed(seed: int, *parts) -> int:
    """A stable per-run seed from the global seed and the run's names."""
    return (seed * 1_000_003 + zlib.crc32("/".join(map(str, parts)).encode())) % 2**31


def train_fold(images: torch.Tensor, samples: Samples, fold_ids: Sequence[int], test_fold: int, cfg,
               seed: int, device: torch.device,
               progress: bool = True) -> tuple[np.ndarray, np.ndarray, pd.DataFrame, dict]:
    """Train one model with ``test_fold`` held out; return test sample positions, probabilities
    ``(n_test, k)``, the epoch history and a run summary."""
    train_folds, val_fold, _ = rotation(fold_ids, test_fold)
    test = np.flatnonzero(samples.fold == test_fold)
    train = np.flatnonzero(np.isin(samples.fold, train_folds))
    val = np.flatnonzero(samples.fold == val_fold)
    summary = {"kind": samples.kind, "group": samples.group, "model": samples.model_type, "fold": test_fold,
               "n_train": len(train), "n_train_positive": int(samples.positive[train].sum()),
               "n_val": len(val), "n_test": len(test)}
    if not len(test) or not len(train):
        return test, np.empty((0, samples.rows.shape[1]), np.float32), pd.DataFrame(), {**summary, "status": "skipped"}
    name = (samples.kind, samples.group, samples.model_type, test_fold)
    generator = seed_everything(run_seed(seed, *name))
    rng = np.random.default_rng(run_seed(seed, *name, "data"))
    crop_idx, labels, k = samples.crop_idx, samples.labels, samples.rows.shape[1]

    batch = max(1, cfg.batch_crops // k)

    def loader(positions, size, shuffle):
        picked, augmented = balance(samples.positive[positions], size, rng)
        picked = positions[picked]
        thetas = augmentation_thetas((len(picked), k), rng)
        return CropBatches(images, crop_idx[picked], labels[picked], batch, augmented, thetas,
                           shuffle=shuffle, generator=generator), len(picked)

    train_loader, n_balanced = loader(train, cfg.train_size // k if cfg.train_size else None, True)
    val_loader = loader(val, None, False)[0] if len(val) else None
    model = build_model(samples.model_type, len(sites_in_group(samples.kind, samples.group)), cfg.backbone,
                        cfg.width, cfg.weights_path, cfg.pool, cfg.fc_layers, cfg.fc_width, cfg.dropout, cfg.init)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    start = time.perf_counter()
    history = fit(model, train_loader, val_loader, masked_bce_sum, optimizer, cfg.epochs, cfg.patience, device,
                  desc=f"{samples.kind} {samples.group} {samples.model_type} fold {test_fold}", progress=progress)
    seconds = time.perf_counter() - start
    test_loader = CropBatches(images, crop_idx[test], labels[test], batch)
    probabilities = predict(model, test_loader, device, transform=torch.sigmoid).reshape(len(test), k)
    best = int(history["val_loss"].idxmin()) + 1 if history["val_loss"].notna().any() else len(history)
    summary.update(status="trained", n_train_balanced=n_balanced, epochs_run=len(history), best_epoch=best,
                   seconds=seconds, crops_per_sample=k)
    return test, probabilities, history.assign(**dict(zip(("kind", "group", "model", "fold"), name))), summary


def run_cv(images: np.ndarray, index: pd.DataFrame, folds: pd.DataFrame, cfg, seed: int = 0,
           device: str = "cpu", visits: Mapping[str, str] | None = None, progress: bool = True) -> CVResult:
    """Cross-validate every (kind, group, model type) of ``cfg`` (a resolved profile).

    ``images`` / ``index``: the crop store; ``folds``: ``(patient, fold)``. ``cfg.test_folds``
    ``None`` runs every fold (full OOF coverage); a subset predicts only those folds' patients.
    ``progress``: one tqdm bar over the trainings (one per kind, group, model type and test fold).
    """
    device = select_device(device)
    fold_ids = sorted(folds["fold"].unique())
    test_folds = fold_ids if cfg.test_folds is None else list(cfg.test_folds)
    tensor = prepare_images(images, cfg.crop_size)
    plans, counts = [], {}
    for kind in cfg.kinds:
        joints, counts[kind] = joint_table(index, folds, kind, visits)
        for group in (cfg.groups or GROUPS[kind]):
            if group not in GROUPS[kind]:
                continue  # a group of the other kind (e.g. "CMC-M" while running JSN)
            for model_type in cfg.models:
                samples = build_samples(joints, kind, group, model_type)
                counts[f"{kind}/{group}/{model_type}"] = samples.counts()
                plans += [(samples, fold) for fold in test_folds]
    oof, runs, histories = [], [], []
    bar = tqdm(plans, desc="trainings", unit="fold", disable=not progress)
    for samples, fold in bar:
        bar.set_postfix_str(f"{samples.kind} {samples.group} {samples.model_type} fold {fold}")
        test, probabilities, history, summary = train_fold(tensor, samples, fold_ids, fold, cfg, seed, device,
                                                           progress=False)
        runs.append(summary)
        histories.append(history)
        oof.append(_oof_rows(samples, test, probabilities, fold))
    oof_table = pd.concat(oof, ignore_index=True) if oof else pd.DataFrame(columns=OOF_COLUMNS)
    return CVResult(oof_table, pd.DataFrame(runs), pd.concat(histories, ignore_index=True), counts)


def _oof_rows(samples: Samples, test: np.ndarray, probabilities: np.ndarray, fold: int) -> pd.DataFrame:
    rows = samples.rows[test]
    present = rows >= 0
    table = samples.joints.iloc[rows[present]][["hand_id", "patient", "hand", "kind", "site", "group", "label"]]
    return table.assign(fold=fold, model=samples.model_type, probability=probabilities[present],
                        label=table["label"].astype(int))[list(OOF_COLUMNS)].reset_index(drop=True)


# --- evaluation (numbers from ra_lib.evaluation.metrics) --------------------------------------------------
def region_groups(kind: str, region: str) -> tuple[str, ...]:
    """Joint groups of a Table-4 region: ``finger`` (PIP-IP+MCP+CMC-M / PIP+MCP+CMC), ``wrist``, ``all``."""
    return {"finger": FINGER_GROUPS[kind], "wrist": ("wrist",), "all": GROUPS[kind]}[region]


def evaluation_table(predictions: pd.DataFrame, threshold: float = 0.5, by: str = "region") -> pd.DataFrame:
    """Sensitivity, specificity, precision, F-measure, PR-AUC (AP) per kind, region (or group) and model.

    ``by="region"`` gives paper 001's Table 4 blocks; ``by="group"`` one row per joint group.
    A block without positives has nan sensitivity and PR-AUC (not an error). Readers (models named
    ``reader ...``) get an extra ``mean of readers`` row per block, the paper's "average of surgeons".
    """
    rows = []
    for kind in [k for k in KINDS if k in set(predictions["kind"])]:
        blocks = REGIONS if by == "region" else GROUPS[kind]
        for block in blocks:
            groups = region_groups(kind, block) if by == "region" else (block,)
            part = predictions[(predictions["kind"] == kind) & predictions["group"].isin(groups)]
            block_rows = []
            for model, scored in part.groupby("model", sort=False):
                report = metrics.binary_report(scored["label"].to_numpy(), scored["probability"].to_numpy(), threshold)
                block_rows.append({"kind": kind, by: block, "model": model, **report})
            readers = [r for r in block_rows if r["model"].startswith("reader ")]
            if readers:
                mean = pd.DataFrame(readers).mean(numeric_only=True).to_dict()
                block_rows.append({"kind": kind, by: block, "model": "mean of readers", **mean})
            rows += block_rows
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["prevalence"] = table["n_pos"] / table["n"]
    return table


def table4(evaluation: pd.DataFrame) -> pd.DataFrame:
    """Our results in paper 001's Table 4 layout: rows (kind, region, metric), one column per model / reader."""
    shown = evaluation.assign(model=evaluation["model"].map(lambda m: MODEL_LABELS.get(m, m)),
                              pr_auc=evaluation["average_precision"])
    long = shown.melt(id_vars=["kind", "region", "model"],
                      value_vars=["sensitivity", "specificity", "f_measure", "pr_auc", "prevalence"], var_name="metric")
    wide = long.pivot_table(index=["kind", "region", "metric"], columns="model", values="value", sort=False,
                            dropna=False)
    return wide[list(dict.fromkeys(shown["model"]))]


def pr_curves(predictions: pd.DataFrame) -> pd.DataFrame:
    """Precision-recall points per kind, region and model (Fig. 6), from :func:`ra_lib.evaluation.metrics.pr_curve`."""
    parts = []
    for kind in [k for k in KINDS if k in set(predictions["kind"])]:
        for region in REGIONS:
            part = predictions[(predictions["kind"] == kind) & predictions["group"].isin(region_groups(kind, region))]
            for model, scored in part.groupby("model", sort=False):
                curve = metrics.pr_curve(scored["label"].to_numpy(), scored["probability"].to_numpy())
                parts.append(curve.assign(kind=kind, region=region, model=model))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def joint_outcomes(oof: pd.DataFrame, index: pd.DataFrame, hand_ids: Sequence[str],
                   threshold: float = 0.5) -> pd.DataFrame:
    """Per joint of ``hand_ids`` and model: TP / TN / FN / FP at ``threshold`` with its image position (Fig. 7)."""
    part = oof[oof["hand_id"].isin(hand_ids)]
    called = part["probability"] >= threshold
    truth = part["label"] == 1
    outcome = np.select([truth & called, ~truth & ~called, truth & ~called], ["TP", "TN", "FN"], "FP")
    where = index.drop_duplicates(["hand_id", "kind", "site"])[["hand_id", "kind", "site", "image_id", "x", "y"]]
    return part.assign(outcome=outcome).merge(where, on=["hand_id", "kind", "site"], how="left")


def showcase_hands(oof: pd.DataFrame, index: pd.DataFrame) -> list[str]:
    """The hands of the image with both hands predicted and the most non-intact joints (else the
    single hand with most), for Fig. 7."""
    truth = oof.drop_duplicates(["hand_id", "kind", "site"]).merge(
        index.drop_duplicates("hand_id")[["hand_id", "image_id"]], on="hand_id")
    per_image = truth.groupby("image_id").agg(hands=("hand", "nunique"), positives=("label", "sum"))
    if per_image.empty:
        return []
    best = per_image.sort_values(["hands", "positives"], ascending=False).index[0]
    return sorted(truth.loc[truth["image_id"] == best, "hand_id"].unique())


def headline(evaluation: pd.DataFrame, result: CVResult) -> dict:
    """``metrics.json`` content: all-joint F-measure and PR-AUC per kind and model, and the counts."""
    overall = evaluation[evaluation["region"] == "all"]
    return {
        "all_joints": {kind: {row.model: {"f_measure": row.f_measure, "pr_auc": row.average_precision,
                                          "sensitivity": row.sensitivity, "specificity": row.specificity,
                                          "n": int(row.n), "prevalence": row.prevalence}
                              for row in part.itertuples()}
                       for kind, part in overall.groupby("kind")},
        "counts": result.counts,
        "trainings": int((result.runs["status"] == "trained").sum()) if len(result.runs) else 0,
        "train_seconds": float(result.runs.get("seconds", pd.Series(dtype=float)).sum()),
    }


def learning_check(evaluation: pd.DataFrame) -> pd.DataFrame:
    """Per kind and block: the models' PR-AUC (AP) against prevalence, the AP of a constant score.

    ``learns`` is True where AP exceeds prevalence (undefined AP, no positives: False).
    """
    block = "region" if "region" in evaluation else "group"
    models = evaluation[evaluation["model"].isin(MODEL_TYPES)]
    return models.assign(pr_auc=models["average_precision"], learns=models["average_precision"] > models["prevalence"])[
        ["kind", block, "model", "n", "n_pos", "prevalence", "pr_auc", "learns"]].reset_index(drop=True)


def training_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per kind and model: trainings, mean epochs run and best epoch, training samples, seconds."""
    trained = runs[runs["status"] == "trained"]
    summary = trained.groupby(["kind", "model"], sort=False).agg(
        trainings=("fold", "size"), epochs_run=("epochs_run", "mean"), best_epoch=("best_epoch", "mean"),
        train_samples=("n_train_balanced", "mean"), seconds=("seconds", "sum"))
    return summary.reset_index().assign(model=lambda t: t["model"].map(MODEL_LABELS))


# --- figures -----------------------------------------------------------------------------------
OUTCOME_COLOURS = {"TP": "#1f5fd6", "TN": "#ffffff", "FN": "#e0301e", "FP": "#f5c518"}
MODEL_COLOURS = {"siso": "#333333", "mimo_local": "#1f77b4", "mimo_one_hand": "#2ca02c", "mimo_both_hands": "#d62728"}


def plot_pr_curves(curves: pd.DataFrame, evaluation: pd.DataFrame):
    """Fig. 6: PR curves of the models per kind (rows) and region (columns), each model's average
    precision in the corner; readers as single operating points; prevalence dotted."""
    import matplotlib.pyplot as plt

    kinds = [k for k in KINDS if k in set(curves["kind"])]
    fig, axes = plt.subplots(len(kinds), len(REGIONS), figsize=(3.3 * len(REGIONS), 3.1 * len(kinds)),
                             squeeze=False, sharex=True, sharey=True)
    for row, kind in enumerate(kinds):
        for col, region in enumerate(REGIONS):
            ax = axes[row, col]
            part = curves[(curves["kind"] == kind) & (curves["region"] == region)]
            scores = evaluation[(evaluation["kind"] == kind) & (evaluation["region"] == region)].set_index("model")
            models = [m for m in MODEL_TYPES if m in set(part["model"])]
            for model in models:
                curve = part[part["model"] == model]
                ax.step(np.r_[0, curve["recall"]], np.r_[1, curve["precision"]], where="post", lw=1.3,
                        color=MODEL_COLOURS[model], label=MODEL_LABELS[model])
            readers = scores[scores.index.str.startswith("reader ")]
            for i, (name, reader) in enumerate(readers.iterrows()):
                ax.plot(reader["sensitivity"], reader["precision"], marker="osD^v"[i % 5], ls="", ms=6,
                        mfc="none", mec="#7f3f98", label=name)
            if len(scores):
                ax.axhline(scores["prevalence"].iloc[0], color="#999999", lw=0.8, ls=":", label="prevalence")
            ap = "\n".join(f"{MODEL_LABELS[m]} {scores.loc[m, 'average_precision']:.2f}" for m in models)
            ax.text(0.98, 0.02, "AP\n" + ap, transform=ax.transAxes, ha="right", va="bottom", fontsize=6,
                    bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
            ax.set_title(f"{kind} - {region}", fontsize=9)
            ax.set(xlim=(0, 1.02), ylim=(0, 1.02))
        axes[row, 0].set_ylabel("precision")
    for ax in axes[-1]:
        ax.set_xlabel("recall (sensitivity)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, frameon=False, fontsize=7)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def plot_joint_outcomes(outcomes: pd.DataFrame, image: np.ndarray | None = None):
    """Fig. 7: each joint's outcome (TP blue, TN white, FN red, FP yellow) per kind (rows) and model
    (columns), drawn at its centre on ``image`` (or on a blank canvas)."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    kinds = [k for k in KINDS if k in set(outcomes["kind"])]
    models = [m for m in MODEL_TYPES if m in set(outcomes["model"])]
    fig, axes = plt.subplots(len(kinds), len(models), figsize=(2.6 * len(models), 2.9 * len(kinds)), squeeze=False)
    for row, kind in enumerate(kinds):
        for col, model in enumerate(models):
            ax = axes[row, col]
            part = outcomes[(outcomes["kind"] == kind) & (outcomes["model"] == model)]
            if image is not None:
                ax.imshow(image, cmap="gray", vmin=0, vmax=1)
            ax.scatter(part["x"], part["y"], s=22, c=part["outcome"].map(OUTCOME_COLOURS), edgecolors="black",
                       linewidths=0.6, zorder=3)
            if image is None:
                ax.invert_yaxis()
                ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{MODEL_LABELS[model]} - {kind}", fontsize=8)
    handles = [Line2D([], [], marker="o", ls="", mfc=c, mec="black", label=o) for o, c in OUTCOME_COLOURS.items()]
    fig.legend(handles=handles, loc="lower center", ncol=4, frameon=False, fontsize=8)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig
