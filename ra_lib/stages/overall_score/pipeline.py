"""Stage 5 (paper 003): regress the overall SvdH score from a whole radiograph.

Pipeline:

1. Targets: the sum of a hand's 31 SvdH grades (0-140, ``unit="hand"``) or of both hands of a
   bilateral radiograph (0-280, ``unit="image"``, paper 003's setting). Only fully graded hands count.
2. Patient-disjoint train / validation / test split from the cohort's folds (``ra_lib.cohort.folds.rotation``).
3. Images preloaded once into a square tensor cache (padded to a square, resized).
4. Training augmentation of paper 003 Sec. 3.1.2 (:class:`Augmentation`); pixel mean / sd and the
   target's z-score (:class:`ZScore`) from the training split only.
5. :class:`SmoothLoss` (L2 near the target, L1 with a bias far from it), SGD with the paper's
   settings, through :func:`ra_lib.core.training.fit`.
6. Predictions back in score units, agreement via :mod:`ra_lib.evaluation.metrics` and :mod:`ra_lib.evaluation.stats`.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from itertools import combinations
from types import SimpleNamespace
from typing import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from ra_lib.evaluation import metrics, stats
from ra_lib.cohort.folds import rotation
from ra_lib.stages.overall_score.models import FAMILY_BLOCKS, build_model, count_macs, count_parameters
from ra_lib.cohort.sites import HAND_SITES, MAX_HAND_SCORE
from ra_lib.core.training import fit, predict, seed_everything

#: The id column of each prediction unit.
UNITS = {"hand": "hand_id", "image": "image_id"}
#: Highest overall score of one unit (a hand: 140; a bilateral image: 280).
MAX_SCORE = {"hand": MAX_HAND_SCORE // 2, "image": MAX_HAND_SCORE}
N_HAND_SITES = len(HAND_SITES)
PAPER_INPUT_SIZE = 1024
EVAL_BATCH_SIZE = 8  # evaluation batches (no gradients); small enough for 1024-px inputs on a CPU
#: The paper's model (ResNet-Dwise50); the page's headline and the loss comparison use it.
MAIN_VARIANT = "IRB"
#: Fewest test patients for which the page judges a model against the baseline (patient bootstrap).
MIN_TEST_PATIENTS = 5

_COMMON = dict(
    unit="hand", batch_size=4, lr=1e-3, momentum=0.9, weight_decay=1e-3,  # paper 003 Sec. 4.1
    expansion=6, loss_delta=1.0, loss_alpha=None, compare_delta=0.25, test_fold=0, weights_path=None,
)
PROFILES = {
    "smoke": dict(_COMMON, input_size=48, epochs=1, patience=None, variants=("IRB", "DSC"),
                  layers=(1, 1, 1, 1), width_mult=0.25, tv_layers=(1, 1, 1, 1), tv_width_mult=0.25,
                  compare_delta=None),
    # quick leaves out torchvision's ResNet-50: even at one block per stage it costs ~8x the time of the
    # others on a CPU; the family's B member has the same layout (and the same size at full scale).
    "quick": dict(_COMMON, input_size=128, epochs=10, patience=None, variants=("IRB", "DSC", "B", "tv_mobilenet_v2"),
                  layers=(1, 1, 1, 1), width_mult=0.25, tv_layers=(1, 1, 1, 1), tv_width_mult=0.25),
    "paper": dict(_COMMON, input_size=PAPER_INPUT_SIZE, epochs=100, patience=10,
                  variants=("IRB", "DSC", "B", "tv_mobilenet_v2", "tv_resnet50"),
                  layers=(3, 4, 6, 3), width_mult=1.0, tv_layers=(3, 4, 6, 3), tv_width_mult=1.0),
}


# --- targets and splits ---------------------------------------------------------------------
def hand_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Overall SvdH score per hand (``hand_id, score, n_sites, complete``).

    ``complete`` is True when all 31 hand sites are graded exactly once; only such hands have a
    true overall score.
    """
    missing = {"hand_id", "kind", "site", "grade"} - set(scores.columns)
    if missing:
        raise ValueError(f"scores table lacks column(s) {sorted(missing)}")
    keyed = scores.dropna(subset=["grade"])
    per_hand = keyed.groupby("hand_id").agg(score=("grade", "sum"), n_sites=("grade", "size"))
    repeated = keyed.loc[keyed.duplicated(["hand_id", "kind", "site"]), "hand_id"]
    per_hand["complete"] = (per_hand["n_sites"] == N_HAND_SITES) & ~per_hand.index.isin(repeated)
    return per_hand.reset_index()


def overall_targets(hands: pd.DataFrame, scores: pd.DataFrame, images: pd.DataFrame | None = None,
                    unit: str = "hand") -> pd.DataFrame:
    """One row per prediction unit: ``<id>, patient, score, complete`` (ids in ``UNITS[unit]``).

    ``unit="hand"``: every hand of the cohort (one-hand images and both halves of bilateral ones).
    ``unit="image"``: every both-hands radiograph with both hands present (``images`` needed);
    its score is the sum of the two hands and it is complete when both hands are.
    """
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}; expected one of {tuple(UNITS)}")
    per_hand = hand_scores(scores).set_index("hand_id")
    table = hands[["hand_id", "image_id", "patient", "hand"]].copy()
    table["score"] = table["hand_id"].map(per_hand["score"]).fillna(0).astype(int)
    table["complete"] = table["hand_id"].isin(per_hand.index[per_hand["complete"]])
    if unit == "hand":
        return table[["hand_id", "patient", "score", "complete"]].reset_index(drop=True)
    if images is None:
        raise ValueError("unit='image' needs the cohort's images table (for the view column)")
    bilateral = set(images.loc[images["view"] == "both_hands", "image_id"])
    table = table[table["image_id"].isin(bilateral)]
    grouped = table.groupby("image_id").agg(patient=("patient", "first"), score=("score", "sum"),
                                            complete=("complete", "all"), n_hands=("hand", "nunique"))
    grouped["complete"] &= grouped["n_hands"] == 2
    return grouped.drop(columns="n_hands").reset_index()


def assign_splits(units: pd.DataFrame, folds: pd.DataFrame, test_fold: int = 0) -> pd.DataFrame:
    """Add ``fold`` and ``split`` (train / val / test) from the patient folds (paper 001's rotation)."""
    fold_of = folds.drop_duplicates("patient").set_index("patient")["fold"]
    unknown = sorted(set(units["patient"]) - set(fold_of.index))
    if unknown:
        raise ValueError(f"{len(unknown)} patient(s) have no fold in the folds table, e.g. {unknown[:3]}")
    train, val, test = rotation(fold_of.unique(), test_fold)
    out = units.copy()
    out["fold"] = out["patient"].map(fold_of).astype(int)
    out["split"] = out["fold"].map({**{f: "train" for f in train}, val: "val", test: "test"})
    return out


def split_summary(units: pd.DataFrame) -> pd.DataFrame:
    """Units, patients and the score's mean / sd / range per split."""
    table = units.groupby("split").agg(units=("patient", "size"), patients=("patient", "nunique"),
                                       mean_score=("score", "mean"), sd_score=("score", "std"),
                                       min_score=("score", "min"), max_score=("score", "max"))
    return table.reindex([s for s in ("train", "val", "test") if s in table.index])


# --- images ---------------------------------------------------------------------------------
def cache_size(input_size: int, min_scale: float = 0.9) -> int:
    """Side of the cached images: the smallest rescale of the augmentation still covers ``input_size``."""
    return int(math.ceil(input_size / min_scale))


def square_resize(image, size: int) -> torch.Tensor:
    """Pad a 2-D image (or ``(1, H, W)`` tensor) to a centred square with zeros, resize to ``size``."""
    tensor = image.float() if torch.is_tensor(image) else torch.from_numpy(np.array(image, dtype=np.float32))
    if tensor.ndim == 2:
        tensor = tensor[None]
    height, width = tensor.shape[-2:]
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    tensor = F.pad(tensor, (left, side - width - left, top, side - height - top))
    if side != size:
        tensor = F.interpolate(tensor[None], size=(size, size), mode="bilinear", align_corners=False,
                               antialias=side > size)[0]
    return tensor


def preload_images(load: Callable[[str], np.ndarray], ids: Sequence[str], size: int,
                   progress: bool = True) -> torch.Tensor:
    """Load every image once (``load(id) -> float [0, 1] array``) into a ``(N, 1, size, size)`` float16 cache."""
    cache = torch.empty((len(ids), 1, size, size), dtype=torch.float16)
    for index, item in enumerate(tqdm(ids, desc="loading images", leave=False, disable=not progress)):
        image = np.asarray(load(item))
        if image.ndim != 2:
            raise ValueError(f"image {item!r}: expected a 2-D grey image, got shape {image.shape}")
        cache[index] = square_resize(image, size).clamp(0, 1).half()
    return cache


@dataclass(frozen=True)
class Augmentation:
    """Paper 003 Sec. 3.1.2: rescale by 0.9-1.0, random crop, flip, brightness / contrast 0.1, rotate k*90 deg.

    Saturation (the paper's third colour jitter) has no meaning for grey images.
    """

    scale: tuple[float, float] = (0.9, 1.0)
    brightness: float = 0.1
    contrast: float = 0.1
    flip: bool = True
    rotate90: bool = True

    def __call__(self, image: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
        """One augmented ``(1, size, size)`` crop of a ``(1, S, S)`` image in [0, 1]."""
        u = torch.rand(5, generator=generator).tolist()
        side = image.shape[-1]
        scaled = max(size, int(round(side * (self.scale[0] + u[0] * (self.scale[1] - self.scale[0])))))
        if scaled != side:
            image = F.interpolate(image[None], size=(scaled, scaled), mode="bilinear", align_corners=False,
                                  antialias=scaled < side)[0]
        top = int(torch.randint(scaled - size + 1, (1,), generator=generator))
        left = int(torch.randint(scaled - size + 1, (1,), generator=generator))
        image = image[:, top:top + size, left:left + size]
        if self.flip and u[1] < 0.5:
            image = image.flip(-1)
        image = image * (1 + self.brightness * (2 * u[2] - 1))
        image = (image - image.mean()) * (1 + self.contrast * (2 * u[3] - 1)) + image.mean()
        image = image.clamp(0, 1)
        if self.rotate90:
            image = torch.rot90(image, int(u[4] * 4) % 4, dims=(-2, -1))
        return image.contiguous()


class ScoreDataset(Dataset):
    """``(normalised image, z-scored target)`` pairs from the image cache; augmented when training."""

    def __init__(self, images: torch.Tensor, targets: np.ndarray, input_size: int, pixel_mean: float,
                 pixel_sd: float, augmentation: Augmentation | None = None, seed: int = 0):
        self.targets = torch.as_tensor(np.asarray(targets, dtype=np.float32))
        self.input_size, self.mean, self.sd = input_size, pixel_mean, pixel_sd
        self.augmentation = augmentation
        self.generator = torch.Generator().manual_seed(seed)
        if augmentation is None:  # evaluation: resize once
            resized = torch.empty((len(images), 1, input_size, input_size), dtype=torch.float16)
            for index, image in enumerate(images):
                resized[index] = square_resize(image, input_size).half()
            images = resized
        self.images = images

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        image = self.images[index].float()
        if self.augmentation is not None:
            image = self.augmentation(image, self.input_size, self.generator)
        return (image - self.mean) / self.sd, self.targets[index]


# --- target scaling and loss ------------------------------------------------------------------
@dataclass(frozen=True)
class ZScore:
    """Target standardisation with the training split's mean and sd (paper 003 Sec. 3.1.2)."""

    mean: float
    sd: float

    @classmethod
    def fit(cls, values) -> "ZScore":
        values = np.asarray(values, dtype=float)
        if len(values) < 2 or not np.std(values) > 0:
            raise ValueError(f"cannot z-score {len(values)} training target(s) without spread")
        return cls(float(np.mean(values)), float(np.std(values, ddof=1)))

    def transform(self, values):
        return (np.asarray(values, dtype=float) - self.mean) / self.sd

    def inverse(self, z):
        return np.asarray(z, dtype=float) * self.sd + self.mean


class SmoothLoss(nn.Module):
    """L2 near the target, L1 far from it (paper 003 Sec. 3.3; its factors did not survive in the text).

    With ``d = |prediction - target|`` (in z units)::

        loss(d) = alpha * d**2     if d < delta
                  d - bias         otherwise,   bias = delta - alpha * delta**2

    The bias makes the loss continuous at ``delta``. ``alpha`` defaults to ``1 / (2 delta)``, where the
    slope is continuous too (Huber / smooth-L1); a smaller ``alpha`` down-weights well-predicted
    examples further (the paper's "modulating factor"), a larger ``delta`` widens the low-loss range.
    """

    def __init__(self, delta: float = 1.0, alpha: float | None = None):
        super().__init__()
        if not delta > 0:
            raise ValueError(f"delta must be positive, got {delta!r}")
        alpha = 1 / (2 * delta) if alpha is None else alpha
        if not alpha > 0:
            raise ValueError(f"alpha must be positive, got {alpha!r}")
        self.delta, self.alpha = float(delta), float(alpha)
        self.bias = self.delta - self.alpha * self.delta**2

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        d = (prediction - target).abs()
        return torch.where(d < self.delta, self.alpha * d**2, d - self.bias).mean()

    def extra_repr(self) -> str:
        return f"delta={self.delta:g}, alpha={self.alpha:g}, bias={self.bias:g}"


# --- data bundle ------------------------------------------------------------------------------
@dataclass
class ScoreData:
    """Units (with split), their cached images and the training-split statistics."""

    units: pd.DataFrame
    images: torch.Tensor
    input_size: int
    id_column: str
    zscore: ZScore
    pixel_mean: float
    pixel_sd: float

    @classmethod
    def build(cls, units: pd.DataFrame, images: torch.Tensor, input_size: int, unit: str = "hand") -> "ScoreData":
        """Bundle units (row ``i`` is image ``i``) and compute target / pixel statistics on the training split."""
        if len(units) != len(images):
            raise ValueError(f"{len(units)} units but {len(images)} cached images")
        missing = {UNITS[unit], "patient", "score", "split"} - set(units.columns)
        if missing:
            raise ValueError(f"units table lacks column(s) {sorted(missing)}")
        units = units.reset_index(drop=True)
        train = np.flatnonzero(units["split"].to_numpy() == "train")
        for split in ("train", "val", "test"):
            if not (units["split"] == split).any():
                raise ValueError(f"the {split} split is empty; the cohort has too few patients with scores")
        mean, sd = _pixel_statistics(images[train])
        return cls(units, images, input_size, UNITS[unit], ZScore.fit(units.loc[train, "score"]), mean, sd)

    def indices(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.units["split"].to_numpy() == split)

    def dataset(self, split: str, augmentation: Augmentation | None = None, seed: int = 0) -> ScoreDataset:
        idx = self.indices(split)
        targets = self.zscore.transform(self.units["score"].to_numpy()[idx])
        return ScoreDataset(self.images[idx], targets, self.input_size, self.pixel_mean, self.pixel_sd,
                            augmentation, seed)


def _pixel_statistics(images: torch.Tensor, chunk: int = 64) -> tuple[float, float]:
    """Mean and sd of all pixels, accumulated in float64 chunk by chunk (no full float32 copy)."""
    total = squares = 0.0
    for start in range(0, len(images), chunk):
        block = images[start:start + chunk].double()
        total += float(block.sum())
        squares += float((block**2).sum())
    count = images.numel()
    mean = total / count
    return mean, math.sqrt(max(squares / count - mean**2, 0.0))


# --- training ---------------------------------------------------------------------------------
@dataclass
class VariantResult:
    """One trained variant: model, history, wall time, predictions of every split, size."""

    variant: str
    model: nn.Module
    history: pd.DataFrame
    train_seconds: float
    predictions: pd.DataFrame
    n_parameters: int
    macs: int  # at the training input size


def model_kwargs(variant: str, settings: SimpleNamespace) -> dict:
    """``build_model`` arguments of a variant under a profile's settings."""
    if variant in FAMILY_BLOCKS:
        kwargs = dict(layers=tuple(settings.layers), width_mult=settings.width_mult, expansion=settings.expansion)
    elif variant == "tv_resnet50":
        kwargs = dict(layers=tuple(settings.tv_layers))
    else:
        kwargs = dict(width_mult=settings.tv_width_mult)
    return dict(kwargs, weights_path=settings.weights_path)


def make_loss(settings: SimpleNamespace, delta: float | None = None) -> SmoothLoss:
    """The profile's :class:`SmoothLoss` (``delta`` overrides ``settings.loss_delta``, alpha then smooth)."""
    if delta is not None:
        return SmoothLoss(delta)
    return SmoothLoss(settings.loss_delta, settings.loss_alpha)


def train_variant(variant: str, data: ScoreData, settings: SimpleNamespace, loss: SmoothLoss | None = None,
                  device: torch.device | str = "cpu", seed: int = 0, label: str | None = None,
                  progress: bool = True) -> VariantResult:
    """Train one variant with paper 003's optimiser (SGD, momentum, weight decay) and predict every split."""
    generator = seed_everything(seed)
    model = build_model(variant, **model_kwargs(variant, settings))
    loss = loss or make_loss(settings)
    train = DataLoader(data.dataset("train", Augmentation(), seed), batch_size=settings.batch_size, shuffle=True,
                       generator=generator, drop_last=len(data.indices("train")) > settings.batch_size)
    val = DataLoader(data.dataset("val"), batch_size=EVAL_BATCH_SIZE)
    optimizer = torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=settings.momentum,
                                weight_decay=settings.weight_decay)
    start = time.perf_counter()
    history = fit(model, train, val, loss, optimizer, settings.epochs, settings.patience, device,
                  desc=label or variant, progress=progress)
    seconds = time.perf_counter() - start
    predictions = predict_units(model, data, variant=label or variant, device=device)
    return VariantResult(label or variant, model, history, seconds, predictions, count_parameters(model),
                         count_macs(model, data.input_size))


def predict_units(model: nn.Module, data: ScoreData, variant: str, device: torch.device | str = "cpu") -> pd.DataFrame:
    """Predictions of every unit in score units: the stage's ``predictions.csv`` rows."""
    frames = []
    for split in ("train", "val", "test"):
        idx = data.indices(split)
        z = predict(model, DataLoader(data.dataset(split), batch_size=EVAL_BATCH_SIZE), device)
        frames.append(_prediction_rows(data, idx, variant, data.zscore.inverse(z.reshape(-1))))
    return pd.concat(frames, ignore_index=True)


def mean_baseline(data: ScoreData) -> pd.DataFrame:
    """The trivial model: every unit predicted at the training split's mean score."""
    idx = np.arange(len(data.units))
    return _prediction_rows(data, idx, "mean baseline", np.full(len(idx), data.zscore.mean))


def _prediction_rows(data: ScoreData, idx: np.ndarray, variant: str, pred: np.ndarray) -> pd.DataFrame:
    units = data.units.iloc[idx]
    return pd.DataFrame({data.id_column: units[data.id_column].to_numpy(), "patient": units["patient"].to_numpy(),
                         "variant": variant, "score_true": units["score"].to_numpy(dtype=float),
                         "score_pred": pred, "split": units["split"].to_numpy()})


def complexity_table(variants: Sequence[str], input_sizes: Sequence[int], settings: SimpleNamespace | None = None
                     ) -> pd.DataFrame:
    """Parameters and multiply-adds (GMACs) per variant at each input size.

    Full-size networks unless ``settings`` (a profile) selects its tiny members.
    """
    rows = []
    for variant in variants:
        kwargs = dict(model_kwargs(variant, settings), weights_path=None) if settings is not None else {}
        with torch.device("meta"):
            model = build_model(variant, **kwargs)
        row = {"variant": variant, "parameters": count_parameters(model)}
        row.update({f"gmacs_{size}px": count_macs(model, size) / 1e9 for size in input_sizes})
        rows.append(row)
    return pd.DataFrame(rows)


# --- evaluation -------------------------------------------------------------------------------
def agreement(y_true, y_pred) -> dict:
    """Paper 003's criteria of one rater against another: MAE, RMSE, Pearson r, paired t-test of pred vs true."""
    test = stats.paired_t_test(y_pred, y_true)
    pearson = metrics.pearson_r(y_true, y_pred)
    return {"n": len(np.asarray(y_true)), "mae": metrics.mae(y_true, y_pred), "rmse": metrics.rmse(y_true, y_pred),
            "pearson_r": pearson.r, "mean_diff": test.mean_diff, "t": test.statistic, "p_t_test": test.p}


def agreement_table(predictions: pd.DataFrame, split: str = "test", by: str = "variant") -> pd.DataFrame:
    """:func:`agreement` per ``by`` group on one split, in order of first appearance."""
    rows = []
    chosen = predictions[predictions["split"] == split]
    for name, group in chosen.groupby(by, sort=False):
        rows.append({by: name, **agreement(group["score_true"], group["score_pred"])})
    return pd.DataFrame(rows)


def mae_versus_baseline(predictions: pd.DataFrame, variant: str = MAIN_VARIANT, split: str = "test",
                        id_column: str = "hand_id", n_boot: int = 2000, seed: int = 0):
    """MAE of ``variant`` minus the mean baseline's on one split, with a paired patient-clustered bootstrap
    interval (:func:`ra_lib.evaluation.stats.bootstrap_diff`); the model has learned when the interval is below 0."""
    rows = predictions[(predictions["split"] == split) & predictions["variant"].isin([variant, "mean baseline"])]
    return stats.bootstrap_diff(rows, metrics.mae, variant, "mean baseline", model_col="variant", score="score_pred",
                                label="score_true", keys=[id_column, "patient"], cluster="patient", n_boot=n_boot,
                                seed=seed)


def reader_totals(readers: pd.DataFrame, units: pd.DataFrame, id_column: str = "hand_id") -> pd.DataFrame:
    """Overall score of each unit by each reader (wide: ``<id>`` plus one column per reader).

    Only units every reader graded completely (all sites of all their hands) are kept.
    """
    rows = []
    for reader_id, table in readers.groupby("reader_id"):
        per_hand = hand_scores(table).set_index("hand_id")
        rows.append(pd.DataFrame({"reader_id": reader_id, "hand_id": per_hand.index,
                                  "score": per_hand["score"].to_numpy(), "complete": per_hand["complete"].to_numpy()}))
    if not rows:
        return pd.DataFrame(columns=[id_column])
    long = pd.concat(rows, ignore_index=True)
    long[id_column] = long["hand_id"] if id_column == "hand_id" else long["hand_id"].str.rsplit(":", n=1).str[0]
    per_unit = long.groupby([id_column, "reader_id"]).agg(score=("score", "sum"), complete=("complete", "all"),
                                                          n_hands=("hand_id", "nunique")).reset_index()
    hands_needed = 1 if id_column == "hand_id" else 2
    per_unit = per_unit[per_unit["complete"] & (per_unit["n_hands"] == hands_needed)]
    wide = per_unit.pivot(index=id_column, columns="reader_id", values="score").dropna()
    wide = wide[wide.index.isin(units[id_column])]
    wide.columns = [str(c) for c in wide.columns]
    return wide.reset_index()


def reader_agreement(totals: pd.DataFrame, id_column: str = "hand_id") -> pd.DataFrame:
    """Paper 003 Table 2: agreement of every pair of readers (second against first) plus ICC(2,1)."""
    readers = [c for c in totals.columns if c != id_column]
    rows = []
    for a, b in combinations(readers, 2):
        rows.append({"reader_a": a, "reader_b": b, **agreement(totals[a], totals[b]),
                     "icc_2_1": stats.icc(totals[[a, b]].to_numpy(dtype=float))})
    return pd.DataFrame(rows)


def joint_sum_predictions(grade_predictions: pd.DataFrame, units: pd.DataFrame,
                          id_column: str = "hand_id") -> pd.DataFrame:
    """Overall scores from stage 4's per-joint grades: the sum over each unit's 31 (or 62) sites.

    Uses stage 4's held-out rows (``split == "test"``) and units whose every site stage 4 graded;
    the returned rows carry this stage's split, so :func:`agreement_table` compares like with like.
    """
    test = grade_predictions[grade_predictions["split"] == "test"]
    frames = []
    for method, rows in test.groupby("method", sort=False):
        per_hand = rows.groupby("hand_id").agg(score_true=("grade_true", "sum"), score_pred=("grade_pred", "sum"),
                                               n_sites=("grade_pred", "size")).reset_index()
        per_hand = per_hand[per_hand["n_sites"] == N_HAND_SITES]
        per_hand[id_column] = per_hand["hand_id"] if id_column == "hand_id" else \
            per_hand["hand_id"].str.rsplit(":", n=1).str[0]
        per_unit = per_hand.groupby(id_column).agg(score_true=("score_true", "sum"), score_pred=("score_pred", "sum"),
                                                   n_hands=("hand_id", "size")).reset_index()
        per_unit = per_unit[per_unit["n_hands"] == (1 if id_column == "hand_id" else 2)]
        merged = per_unit.merge(units[[id_column, "patient", "split"]], on=id_column)
        merged["variant"] = f"sum of stage-4 joint grades ({method})"
        frames.append(merged[[id_column, "patient", "variant", "score_true", "score_pred", "split"]])
    columns = [id_column, "patient", "variant", "score_true", "score_pred", "split"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def table_records(table: pd.DataFrame, key: str | None = None) -> dict | list:
    """Rows for ``metrics.json`` (strict JSON: nan and inf as ``None``): ``{row[key]: {column: value}}``, or a list."""
    indexed = table.set_index(key) if key else table
    clean = indexed.astype(object).where(indexed.notna() & ~indexed.isin([np.inf, -np.inf]), None)
    return clean.to_dict("index") if key else clean.to_dict("records")


# --- figures ----------------------------------------------------------------------------------
def plot_predicted_vs_true(ax, true, pred, max_score: float, title: str | None = None) -> None:
    """Scatter of predicted against true overall score with the identity line."""
    ax.scatter(true, pred, s=12, alpha=0.7, edgecolors="none")
    ax.plot([0, max_score], [0, max_score], color="grey", lw=1, ls="--")
    ax.set(xlabel="true overall score", ylabel="predicted overall score", title=title)


def plot_bland_altman(ax, true, pred, title: str | None = None) -> None:
    """Bland-Altman plot: difference (pred - true) against the mean, bias and 95 % limits of agreement."""
    result = stats.bland_altman(pred, true)
    ax.scatter(result.means, result.diffs, s=12, alpha=0.7, edgecolors="none")
    for value, style in ((result.mean_diff, "-"), (result.lower, "--"), (result.upper, "--")):
        ax.axhline(value, color="grey", lw=1, ls=style)
    ax.set(xlabel="mean of predicted and true", ylabel="predicted - true", title=title)


def plot_learning_curves(results: Sequence[VariantResult]):
    """Training and validation loss per epoch of each variant (one axis each)."""
    fig, axes = plt.subplots(1, len(results), figsize=(3.2 * len(results), 2.8), squeeze=False, sharey=True)
    for ax, result in zip(axes[0], results):
        ax.plot(result.history["epoch"], result.history["train_loss"], label="train")
        ax.plot(result.history["epoch"], result.history["val_loss"], label="validation")
        ax.set(title=result.variant, xlabel="epoch")
    axes[0][0].set_ylabel("smooth loss (z units)")
    axes[0][0].legend(fontsize=8)
    return fig
