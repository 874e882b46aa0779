"""Stage 1 evaluation: the fusion rule, the DICOM-tag baseline, the artifact table, accuracies, the rotation check.

Metrics come from :mod:`ra_lib.evaluation.metrics`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch

from ra_lib.core import geometry
from ra_lib.evaluation import metrics
from ra_lib.stages.selection.data import CLASSES
from ra_lib.stages.selection.train import TrainedModels

#: Model names in the artifact's ``model`` column.
FUSION, THREE_CLASS, TAGS = "two_binary_fused", "three_class", "dicom_tags"
PREDICTION_COLUMNS = ["image_id", "view_true", "view_pred", "p_one_hand", "p_both_hands", "model", "split"]
ROTATED_COLUMNS = ["image_id", "view_true", "orientation", "model", "view_pred", "p_one_hand", "p_both_hands"]
ROTATION_COLUMNS = ["model", "orientation", "n", "accuracy", "taken_for_other"]


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


def predictions_table(images: pd.DataFrame, probabilities: dict[str, np.ndarray],
                      threshold: float = 0.5) -> pd.DataFrame:
    """The stage artifact: one row per image and model (fused binary models, three-class, DICOM tags).

    ``images`` holds ``image_id``, ``class``, ``split`` (and ``body_part``) in the order of the
    ``probabilities``' rows. The tag baseline's probabilities are its 0/1 decisions. Train and
    validation images are predicted too (marked by ``split``) so later stages can start from every
    selected image.
    """
    base = images[["image_id"]].assign(view_true=images["class"].to_numpy())
    frames = [pd.concat([base, predicted.assign(model=model)], axis=1)
              for model, predicted in decide(probabilities, threshold).items()]
    tags = tag_baseline(images["body_part"] if "body_part" in images else [""] * len(images))
    frames.append(base.assign(view_pred=tags, p_one_hand=(tags == "one_hand").astype(float),
                              p_both_hands=(tags == "both_hands").astype(float), model=TAGS))
    out = pd.concat(frames, ignore_index=True)
    out["split"] = np.tile(images["split"].to_numpy(), len(frames))
    return out[PREDICTION_COLUMNS]


def selection_metrics(predictions: pd.DataFrame, split: str = "test", threshold: float = 0.5) -> dict:
    """Numbers on one split: per model three-class accuracy and confusion counts, the binary accuracies
    of Model 1 and Model 2 (paper Table 3), and the majority-class baseline (the most frequent training
    class predicted for every image; ``None`` without predictions)."""
    rows = predictions[predictions["split"] == split]
    train = predictions[predictions["split"] == "train"].drop_duplicates("image_id")
    majority = train["view_true"].mode().iloc[0] if len(train) else None
    out = {"split": split, "n": int(rows["image_id"].nunique()), "majority_class": majority,
           "majority_accuracy": None, "models": {}}
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
        if out["majority_accuracy"] is None and majority is not None:
            out["majority_accuracy"] = metrics.accuracy(truth, np.full(len(truth), majority, dtype=object))
    return out


def confusion_counts(predictions: pd.DataFrame, model: str, split: str = "test") -> pd.DataFrame:
    """Three-class confusion counts of one model on one split (paper Table 4)."""
    rows = predictions[(predictions["split"] == split) & (predictions["model"] == model)]
    return metrics.confusion_matrix(rows["view_true"], rows["view_pred"], labels=list(CLASSES), normalise=False)


def rotated_predictions(images: pd.DataFrame, cache: torch.Tensor, trained: TrainedModels, threshold: float,
                        batch_size: int, device: torch.device | str = "cpu", split: str = "test",
                        quarter_turns: int = 1) -> pd.DataFrame:
    """Predictions for the hand images of ``split``, upright and turned ``quarter_turns`` x 90 degrees
    counter-clockwise (``np.rot90`` convention; paper Fig. 4a: a rotated both-hands image read as "other").

    ``images`` (``image_id``, ``class``, ``split``) is in the order of ``cache``'s rows. The quarter turn
    is exact (:func:`ra_lib.core.geometry.rotate90`), not a resampling. Columns: :data:`ROTATED_COLUMNS`.
    """
    rows = np.flatnonzero((images["split"] == split).to_numpy() & (images["class"] != "other").to_numpy())
    base = pd.DataFrame({"image_id": images["image_id"].to_numpy()[rows],
                         "view_true": images["class"].to_numpy()[rows]})
    upright = cache[rows]
    frames = []
    for orientation, turned in (("upright", upright), ("rotated", geometry.rotate90(upright, quarter_turns))):
        for model, predicted in decide(trained.predict(turned, batch_size, device), threshold).items():
            frames.append(pd.concat([base.assign(orientation=orientation, model=model), predicted], axis=1))
    return pd.concat(frames, ignore_index=True)[ROTATED_COLUMNS] if frames else pd.DataFrame(columns=ROTATED_COLUMNS)


def rotation_summary(rotated: pd.DataFrame) -> pd.DataFrame:
    """Accuracy of each model on upright and rotated hands, and how many it took for "other"."""
    rows = []
    for (model, orientation), group in rotated.groupby(["model", "orientation"], sort=False):
        rows.append({"model": model, "orientation": orientation, "n": len(group),
                     "accuracy": metrics.accuracy(group["view_true"], group["view_pred"]),
                     "taken_for_other": int((group["view_pred"] == "other").sum())})
    return pd.DataFrame(rows, columns=ROTATION_COLUMNS)


def misclassified(predictions: pd.DataFrame, model: str = FUSION, split: str = "test") -> pd.DataFrame:
    """The wrongly selected images of one model on one split (paper Fig. 4)."""
    rows = predictions[(predictions["split"] == split) & (predictions["model"] == model)]
    return rows[rows["view_true"] != rows["view_pred"]].reset_index(drop=True)


def misclassified_rotated(rotated: pd.DataFrame, model: str = FUSION) -> pd.DataFrame:
    """The turned hands of :func:`rotated_predictions` that ``model`` gets wrong."""
    rows = rotated[(rotated["orientation"] == "rotated") & (rotated["model"] == model)]
    return rows[rows["view_true"] != rows["view_pred"]].reset_index(drop=True)
