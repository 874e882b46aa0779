"""Orientation results: the artifact ``orientation.csv``, predictions on the test hands' 8 variants, accuracies.

The test hands are scored on all 8 exact variants of each image (truth composed from the cohort's
truth, :func:`~.orientation.variant_orientation`), so every quarter turn and both thumb sides are
measured on every cohort, whatever share of its images is stored turned or mirrored. Thumb-side
accuracy counts single hands only. Metrics come from :mod:`ra_lib.evaluation.metrics`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ra_lib.evaluation import metrics
from ra_lib.stages.selection.orientation import CLASSES, VARIANTS, class_index, decode, variant_orientation, variants
from ra_lib.stages.selection.orientation_model import OrientationCNN, predict_orientation

PROBABILITY_COLUMNS = [f"p_{c}" for c in CLASSES]
PREDICTED_COLUMNS = ["view_pred", "rot90_k_pred", "thumb_side_pred", "orientation_pred", *PROBABILITY_COLUMNS]
TRUTH_COLUMNS = ["view_true", "rot90_k_true", "thumb_side_true", "orientation_true"]
#: The artifact (:func:`orientation_table`) that later stages turn their images upright by.
ORIENTATION_FILE = "orientation.csv"
#: ``orientation.csv``: one row per hand image as stored.
TABLE_COLUMNS = ["image_id", "split", *TRUTH_COLUMNS, *PREDICTED_COLUMNS]
#: One row per test hand and variant (``turns``, ``mirrored``: :func:`ra_lib.core.geometry.orient`).
VARIANT_COLUMNS = ["image_id", "turns", "mirrored", *TRUTH_COLUMNS, *PREDICTED_COLUMNS]
ACCURACY_NAMES = ("rotation", "thumb_side", "twelve_class")


def _truth(view_classes, rot90_ks, thumb_sides) -> pd.DataFrame:
    views, turns, sides = list(view_classes), [int(k) for k in rot90_ks], list(thumb_sides)
    return pd.DataFrame({"view_true": views, "rot90_k_true": turns, "thumb_side_true": sides,
                         "orientation_true": [CLASSES[class_index(v, s, k)] for v, s, k in zip(views, sides, turns)]})


def orientation_table(hands: pd.DataFrame, probabilities: np.ndarray) -> pd.DataFrame:
    """``orientation.csv`` from ``hands`` (``image_id``, ``split``, ``class``, ``rot90_k``, ``thumb_side``)
    and their ``(N, 12)`` probabilities."""
    truth = _truth(hands["class"], hands["rot90_k"], hands["thumb_side"])
    table = pd.concat([hands[["image_id", "split"]].reset_index(drop=True), truth, decode(probabilities)], axis=1)
    return table[TABLE_COLUMNS]


def variant_predictions(hands: pd.DataFrame, cache: torch.Tensor, model: OrientationCNN, batch_size: int,
                        device: torch.device | str = "cpu") -> pd.DataFrame:
    """Predictions on the 8 variants of each of ``hands`` (rows as ``cache``), with their composed truth."""
    if not len(hands):
        return pd.DataFrame(columns=VARIANT_COLUMNS)
    composed = [(image_id, view, turns, mirrored, *variant_orientation(int(k), side, turns, mirrored))
                for image_id, view, k, side in zip(hands["image_id"], hands["class"], hands["rot90_k"],
                                                   hands["thumb_side"])
                for turns, mirrored in VARIANTS]
    keys = pd.DataFrame(composed, columns=["image_id", "view", "turns", "mirrored", "rot90_k", "thumb_side"])
    truth = _truth(keys["view"], keys["rot90_k"], keys["thumb_side"])
    predicted = decode(predict_orientation(model, variants(cache), batch_size, device))
    return pd.concat([keys[["image_id", "turns", "mirrored"]], truth, predicted], axis=1)[VARIANT_COLUMNS]


def accuracies(rows: pd.DataFrame) -> dict[str, float | None]:
    """Rotation, thumb-side (single hands) and 12-class accuracy of prediction rows; None when empty."""
    one_hand = rows[rows["view_true"] == "one_hand"]
    return {
        "rotation": metrics.accuracy(rows["rot90_k_true"], rows["rot90_k_pred"]) if len(rows) else None,
        "thumb_side": (metrics.accuracy(one_hand["thumb_side_true"], one_hand["thumb_side_pred"])
                       if len(one_hand) else None),
        "twelve_class": metrics.accuracy(rows["orientation_true"], rows["orientation_pred"]) if len(rows) else None,
    }


def accuracy_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Accuracies per true rotation (degrees) and thumb side (``both hands`` for two hands), with ``n``."""
    side = np.where(rows["view_true"] == "both_hands", "both hands", "thumb " + rows["thumb_side_true"].astype(str))
    out = []
    for (degrees, group), part in rows.assign(rotation_ccw_deg=90 * rows["rot90_k_true"].astype(int),
                                              side=side).groupby(["rotation_ccw_deg", "side"]):
        out.append({"rotation_ccw_deg": degrees, "side": group, "n": len(part), **accuracies(part)})
    return pd.DataFrame(out, columns=["rotation_ccw_deg", "side", "n", *ACCURACY_NAMES])


def confusion_counts(rows: pd.DataFrame) -> pd.DataFrame:
    """12 x 12 counts (rows: true class, columns: predicted)."""
    return metrics.confusion_matrix(rows["orientation_true"], rows["orientation_pred"], labels=list(CLASSES),
                                    normalise=False)


@dataclass
class OrientationResult:
    """The orientation model of one stage run; ``skipped`` says why nothing was trained."""

    table: pd.DataFrame  # the artifact ``orientation.csv`` (empty when skipped)
    variants: pd.DataFrame  # the test hands' 8 variants, predicted (empty when skipped)
    skipped: str | None = None
    model: OrientationCNN | None = field(default=None, repr=False)
    history: pd.DataFrame | None = None

    @classmethod
    def skip(cls, reason: str) -> "OrientationResult":
        return cls(pd.DataFrame(columns=TABLE_COLUMNS), pd.DataFrame(columns=VARIANT_COLUMNS), skipped=reason)

    def accuracy(self) -> dict[str, float | None]:
        """Test accuracies over the variants (:data:`ACCURACY_NAMES`); None when skipped."""
        return accuracies(self.variants)
