"""Stage 5's targets and splits: the overall SvdH score of each hand or bilateral radiograph.

A hand's overall score is the sum of its 31 SvdH grades (0-140); a both-hands radiograph's the sum of
its two hands (0-280, paper 003's setting). Only fully graded hands have a true score. Splits come
from the cohort's patient-disjoint folds (:func:`ra_lib.cohort.folds.rotation`).
"""
from __future__ import annotations

import pandas as pd

from ra_lib.cohort.folds import rotation
from ra_lib.cohort.sites import HAND_SITES
from ra_lib.stages.overall_score.settings import UNITS

N_HAND_SITES = len(HAND_SITES)
SPLITS = ("train", "val", "test")


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


def unit_ids(hand_ids: pd.Series, id_column: str) -> pd.Series:
    """The prediction unit of each hand id (``<image_id>:<hand>``): the hand itself, or its image."""
    return hand_ids if id_column == "hand_id" else hand_ids.str.rsplit(":", n=1).str[0]


def hands_per_unit(id_column: str) -> int:
    """Hands that make up one unit: 1 per hand, 2 per bilateral image."""
    return 1 if id_column == "hand_id" else 2


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
    """Add ``fold`` and ``split`` (train / val / test) from the cohort's patient folds.

    ``folds`` is ``cohort.folds`` (``patient, fold``, computed from the raw ids, so the split does not
    depend on the pseudonym salt); the rotation is paper 001's (validation: the fold after the test fold).
    """
    fold_of = folds.drop_duplicates("patient").set_index("patient")["fold"]
    unknown = sorted(set(units["patient"]) - set(fold_of.index))
    if unknown:
        raise ValueError(f"{len(unknown)} patient(s) have no fold in the folds table, e.g. {unknown[:3]}")
    train, val, test = rotation(fold_of.unique(), test_fold)
    out = units.copy()
    out["fold"] = out["patient"].map(fold_of).astype(int)
    out["split"] = out["fold"].map({**{f: "train" for f in train}, val: "val", test: "test"})
    return out


def scored_units(hands: pd.DataFrame, scores: pd.DataFrame, images: pd.DataFrame, folds: pd.DataFrame,
                 unit: str = "hand", test_fold: int = 0) -> tuple[pd.DataFrame, int]:
    """The fully graded units with their split, and how many units the cohort has in all."""
    targets = overall_targets(hands, scores, images, unit)
    units = assign_splits(targets[targets["complete"]], folds, test_fold).reset_index(drop=True)
    return units, len(targets)


def split_summary(units: pd.DataFrame) -> pd.DataFrame:
    """Units, patients and the score's mean / sd / range per split."""
    table = units.groupby("split").agg(units=("patient", "size"), patients=("patient", "nunique"),
                                       mean_score=("score", "mean"), sd_score=("score", "std"),
                                       min_score=("score", "min"), max_score=("score", "max"))
    return table.reindex([s for s in SPLITS if s in table.index])
