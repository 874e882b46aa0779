"""Stage 4's data: the stage-2 crop store joined with the cohort scores, split by the cohort's folds.

Every ``(hand_id, kind, site)`` the cohort scores is a row to predict, with or without a crop; a crop
the detector flagged never enters training or the metrics. Patients are split by the cohort's folds
exactly as in stage 5 (:func:`split_patients`), so both stages test on the same hands.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ra_lib.cohort.folds import rotation
from ra_lib.cohort.sites import EROSION, JSN, hand_sites
from ra_lib.core.geometry import resize_batch
from ra_lib.stages.detection.crops import INDEX_COLUMNS

N_CLASSES = {JSN: 5, EROSION: 6}
MAX_CLASSES = max(N_CLASSES.values())
PROBA_COLUMNS = [f"p_{k}" for k in range(MAX_CLASSES)]
SCORE_COLUMNS = ("hand_id", "patient", "hand", "kind", "site", "grade")
ROW_COLUMNS = ["hand_id", "patient", "hand", "kind", "site", "grade", "eroded_pct", "split", "status", "image_row"]
#: Paper 004 Table 1: Ratingen stage from the percentage of eroded joint surface.
RATINGEN_UPPER_BOUNDS = (0.0, 20.0, 40.0, 60.0, 80.0, 100.0)


@dataclass
class GradingData:
    """Everything the stage trains and predicts on.

    ``rows``: one row per ``(hand_id, kind, site)`` to predict, with :data:`ROW_COLUMNS` (``status``:
    ``ok`` / ``flagged`` / ``no_crop``; ``image_row``: row of ``images``, -1 without a usable crop).
    ``images``: preprocessed usable crops ``(M, 1, crop_size, crop_size)``. ``counts``: how many rows
    were excluded and why.
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

    def tensors(self, rows: pd.DataFrame, column: str = "grade",
                dtype: torch.dtype = torch.long) -> tuple[torch.Tensor, torch.Tensor]:
        """The preprocessed crops of ``rows`` (usable rows of :meth:`select`) and their ``column`` as tensors."""
        return self.images[rows["image_row"].to_numpy()], torch.as_tensor(rows[column].to_numpy(), dtype=dtype)

    def has_percentages(self) -> bool:
        """Whether any usable training erosion crop has an eroded-surface percentage (paper 004's target)."""
        return bool(self.select(EROSION, "train")["eroded_pct"].notna().any())

    def split_table(self) -> pd.DataFrame:
        """Rows per kind and split (index) and status (columns ``ok``, ``flagged``, ``no_crop``)."""
        return (self.rows.groupby(["kind", "split", "status"]).size().unstack("status", fill_value=0)
                .reindex(columns=["ok", "flagged", "no_crop"], fill_value=0))


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
    pct = df["eroded_pct"].dropna()
    bad = pct[(pct < 0) | (pct > 100)]
    if len(bad):
        raise ValueError(f"{what}: column eroded_pct must lie in [0, 100], e.g. {bad.iloc[0]!r} at row {bad.index[0]}")


def ratingen_stage(pct) -> np.ndarray:
    """Ratingen stage 0-5 of eroded-surface percentages (0 -> 0, (0, 20] -> 1, ..., (80, 100] -> 5)."""
    pct = np.asarray(pct, dtype=float)
    if np.any((pct < 0) | (pct > 100)):
        raise ValueError("eroded-surface percentages must lie in [0, 100]")
    return np.searchsorted(RATINGEN_UPPER_BOUNDS, pct, side="left").astype(int)


def split_patients(patients, folds: pd.DataFrame, test_fold: int = 0) -> dict[str, str]:
    """``patient -> "train" / "val" / "test"`` by paper 001's rotation over the cohort's patient-disjoint
    folds (:func:`ra_lib.cohort.folds.rotation`): fold ``test_fold`` tests, the next fold validates, the
    rest train. ``folds``: the cohort's ``patient, fold`` table (stage 5 splits by the same)."""
    _require_columns(folds, ("patient", "fold"), "folds table")
    unique = sorted({str(p) for p in patients})
    if folds.empty and unique:
        raise ValueError("the cohort has no folds (cohort.folds is empty): cannot split its patients")
    first = folds.drop_duplicates("patient")
    fold_of = pd.Series(first["fold"].to_numpy(), index=first["patient"].astype(str))
    unknown = [p for p in unique if p not in fold_of.index]
    if unknown:
        raise ValueError(f"{len(unknown)} patient(s) have no fold in the folds table, e.g. {unknown[:3]}")
    _, val_fold, test_fold = rotation(fold_of.unique(), test_fold)
    names = {test_fold: "test", val_fold: "val"}
    return {p: names.get(fold_of[p], "train") for p in unique}


def preprocess_crops(images: np.ndarray, crop_size: int) -> torch.Tensor:
    """Grey crops ``(N, H, W)`` resized to ``crop_size`` (:func:`ra_lib.core.geometry.resize_batch`) and
    standardised per crop (zero mean, unit SD), as ``(N, 1, crop_size, crop_size)``."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3:
        raise ValueError(f"crop images must have shape (N, H, W), got {images.shape}")
    tensor = resize_batch(torch.from_numpy(images).unsqueeze(1), crop_size)
    mean = tensor.mean(dim=(1, 2, 3), keepdim=True)
    std = tensor.std(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
    return ((tensor - mean) / std).contiguous()


def _crop_rows(store, hand_keys: pd.DataFrame, counts: dict) -> pd.DataFrame:
    """The crop-store index rows of hand sites, checked."""
    index = store.index
    _require_columns(index, INDEX_COLUMNS, "crop store index")
    n_images = len(store.images)
    bad_idx = index[(index["crop_idx"] < 0) | (index["crop_idx"] >= n_images)]
    if len(bad_idx):
        raise ValueError(f"crop store index: crop_idx {bad_idx['crop_idx'].iloc[0]} at row {bad_idx.index[0]} "
                         f"is outside the {n_images} stored crops")
    crops = index.merge(hand_keys, on=["kind", "site"])
    _check_unique(crops, "crop store index")
    counts.update(crops_in_store=int(len(index)), crops_not_hand_sites=int(len(index) - len(crops)))
    return crops[["hand_id", "patient", "hand", "kind", "site", "crop_idx", "flagged", "grade"]]


def _scored_rows(scores: pd.DataFrame, crops: pd.DataFrame, hand_keys: pd.DataFrame, counts: dict) -> pd.DataFrame:
    """Every scored hand site, with its crop where the store has one."""
    _require_columns(scores, SCORE_COLUMNS, "cohort scores")
    scored = scores.merge(hand_keys, on=["kind", "site"])
    _check_unique(scored, "cohort scores")
    counts["scores_not_hand_sites"] = int(len(scores) - len(scored))
    if "eroded_pct" not in scored.columns:
        scored = scored.assign(eroded_pct=np.nan)
    scored = scored[[*SCORE_COLUMNS, "eroded_pct"]]
    rows = scored.merge(crops.drop(columns=["patient", "hand", "grade"]), on=["hand_id", "kind", "site"],
                        how="outer", indicator=True)
    counts["crops_without_score"] = int((rows["_merge"] == "right_only").sum())
    return rows[rows["_merge"] != "right_only"].drop(columns="_merge")


def prepare_data(store, scores: pd.DataFrame | None, folds: pd.DataFrame, crop_size: int,
                 test_fold: int = 0) -> GradingData:
    """Join the crop store with the cohort scores, split patients by ``folds``, preprocess the usable crops.

    ``store``: a :class:`ra_lib.stages.detection.crops.CropStore` (``.images`` ``(N, H, W)`` in [0, 1],
    ``.index`` with its ``INDEX_COLUMNS``). ``scores``: the cohort scores (``grade`` and optional
    ``eroded_pct`` per ``(hand_id, kind, site)``), or ``None`` to use the store's own ``grade`` column
    (then there is no ``eroded_pct``). ``folds``: the cohort's ``patient, fold`` table.
    """
    hand_keys = pd.DataFrame([(s.kind, s.site) for s in hand_sites()], columns=["kind", "site"])
    counts: dict = {}
    crops = _crop_rows(store, hand_keys, counts)
    rows = crops.assign(eroded_pct=np.nan) if scores is None else _scored_rows(scores, crops, hand_keys, counts)
    rows = rows.reset_index(drop=True)
    rows["eroded_pct"] = rows["eroded_pct"].where(rows["kind"] == EROSION)
    _check_grades(rows, "cohort scores" if scores is not None else "crop store index")
    flagged = rows["flagged"].eq(True)
    rows["status"] = np.where(rows["crop_idx"].isna(), "no_crop", np.where(flagged, "flagged", "ok"))
    counts.update({"rows": int(len(rows)), "flagged": int((rows["status"] == "flagged").sum()),
                   "no_crop": int((rows["status"] == "no_crop").sum()),
                   "ungraded": int(rows["grade"].isna().sum())})
    split = split_patients(rows["patient"], folds, test_fold)
    rows["split"] = rows["patient"].astype(str).map(split)
    usable = rows["status"] == "ok"
    rows["image_row"] = -1
    rows.loc[usable, "image_row"] = np.arange(int(usable.sum()))
    crop_idx = rows.loc[usable, "crop_idx"].astype(int).to_numpy()
    images = preprocess_crops(np.asarray(store.images)[crop_idx], crop_size) if len(crop_idx) else \
        torch.empty((0, 1, crop_size, crop_size))
    return GradingData(rows[ROW_COLUMNS], images, counts)
