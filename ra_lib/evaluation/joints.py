"""Per-joint predictions beside the true grades: P(damaged) against damage (grade >= 1), the predicted grade
and its interval against the true grade, per kind."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ra_lib.evaluation.metrics import accuracy, mae, roc_auc, within_one_accuracy

AGREEMENT_COLUMNS = ["kind", "joints", "damaged", "roc_auc", "accuracy_damaged", "grade_accuracy",
                     "grade_within_one", "grade_mae", "interval_coverage"]


def _damage(damaged: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    if not len(p):
        return {"roc_auc": float("nan"), "accuracy_damaged": float("nan")}
    return {"roc_auc": roc_auc(damaged, p),
            "accuracy_damaged": accuracy(damaged.astype(int), (p >= threshold).astype(int))}


def _grades(true: np.ndarray, graded: pd.DataFrame) -> dict:
    if not len(true):
        return dict.fromkeys(AGREEMENT_COLUMNS[5:], float("nan"))
    predicted = graded["grade_pred"].to_numpy(dtype=float)
    inside = (graded["grade_q10"].to_numpy(dtype=float) <= true) & (true <= graded["grade_q90"].to_numpy(dtype=float))
    return {"grade_accuracy": accuracy(true.astype(int), predicted.astype(int)),
            "grade_within_one": within_one_accuracy(true, predicted, class_normalised=False),
            "grade_mae": mae(true, graded["grade_expected"].to_numpy(dtype=float)),
            "interval_coverage": float(np.mean(inside))}


def joint_agreement(joints: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """One row per kind of ``joints`` (``kind``, ``grade_true`` and the scoring's ``p_damaged``,
    ``grade_pred``, ``grade_expected``, ``grade_q10``, ``grade_q90``; a missing prediction leaves its
    joint out of that measure): joints, damaged joints, ROC-AUC of P(damaged) (NaN unless both classes
    occur), accuracy of P(damaged) >= ``threshold``, exact and within-one grade accuracy, mean absolute
    error of the expected grade and the share of true grades inside the 10-90 % interval."""
    rows = []
    for kind, part in joints.groupby("kind", sort=False):
        damaged = (part["grade_true"] >= 1).to_numpy()
        scored = part["p_damaged"].notna().to_numpy()
        graded = part[part["grade_pred"].notna()]
        rows.append({"kind": kind, "joints": len(part), "damaged": int(damaged.sum()),
                     **_damage(damaged[scored], part["p_damaged"].to_numpy(dtype=float)[scored], threshold),
                     **_grades(graded["grade_true"].to_numpy(dtype=float), graded)})
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
