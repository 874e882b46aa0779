"""Per-joint grade classifiers: one network per kind for all its sites, trained once per imbalance remedy.

Paper 002 (section 4.2) trains an EfficientNet-B4 on grey crops with SGD (lr 1e-3, momentum 0.9, L2 1e-3
for JSN and 5e-3 for erosion). The remedies (:mod:`ra_lib.stages.grading.remedies`) are trained on the
same data with the same network, optimiser and initial weights, so that only the remedy differs.
Every ``(hand_id, kind, site)`` gets a prediction, including hands whose crop is flagged or missing:
those rows get the training grade frequencies of their kind (``imputed=True``) and are left out of
every metric.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd
import torch

from ra_lib.cohort.sites import JSN
from ra_lib.stages.grading.data import MAX_CLASSES, N_CLASSES, PROBA_COLUMNS, GradingData
from ra_lib.stages.grading.remedies import class_counts, random_affine, remedy_loss
from ra_lib.stages.grading.settings import MAJORITY, METHODS, OVERSAMPLE
from ra_lib.stages.grading.train import TrainedModel, predict_outputs, train_network

PREDICTION_COLUMNS = ["hand_id", "patient", "kind", "site", "split", "method", "grade_true", "grade_pred",
                      *PROBA_COLUMNS, "imputed"]


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
    weight_decay = settings.weight_decay_jsn if kind == JSN else settings.weight_decay_erosion

    def optimizer(params):
        return torch.optim.SGD(params, lr=settings.lr, momentum=settings.momentum, weight_decay=weight_decay)

    oversample = method == OVERSAMPLE
    augment = partial(random_affine, max_rotation_deg=settings.max_rotation_deg,
                      max_shear_rad=settings.max_shear_rad, max_zoom=settings.max_zoom) if oversample else None
    return train_network(*data.tensors(train), n_classes, remedy_loss(method, labels, n_classes, device),
                         optimizer, settings, settings.epochs, seed, device,
                         val=data.tensors(val) if len(val) else None,
                         sampler_labels=labels if oversample else None, augment=augment,
                         desc=f"{kind} {method}", progress=progress)


def prediction_table(rows: pd.DataFrame, proba: np.ndarray, method: str, imputed: np.ndarray) -> pd.DataFrame:
    """``grade_predictions.csv`` rows of one method: probabilities padded to ``p_0..p_5``, the argmax grade."""
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
class RemedyRuns:
    """Grade predictions of every remedy and the majority baseline for every row, histories, timings and
    the trained networks of the kept methods (``models[method][kind]``)."""

    predictions: pd.DataFrame
    histories: pd.DataFrame
    timings: pd.DataFrame
    models: dict = field(default_factory=dict, repr=False)


def run_grading(data: GradingData, settings, seed: int = 0, device="cpu", progress: bool = True,
                kinds=tuple(N_CLASSES), keep=()) -> RemedyRuns:
    """Train every ``settings.methods`` for each of ``kinds``; predict every row of those kinds (all splits).

    Rows without a usable crop get the kind's training grade frequencies (``imputed``). A
    ``majority_baseline`` method predicts the most frequent training grade everywhere. The networks of
    methods ``keep`` are kept in the result.
    """
    tables, histories, timings, models = [], [], [], {}
    for kind in kinds:
        n_classes = N_CLASSES[kind]
        rows = data.select(kind, usable=False, graded=False)
        usable = (rows["image_row"] >= 0).to_numpy()
        prior = class_counts(data.select(kind, "train")["grade"].astype(int), n_classes).astype(float)
        prior /= prior.sum()
        majority = np.eye(n_classes)[np.argmax(prior)]
        tables.append(prediction_table(rows, np.tile(majority, (len(rows), 1)), MAJORITY, ~usable))
        for method in settings.methods:
            trained = train_grader(data, kind, method, settings, seed, device, progress)
            proba = np.tile(prior, (len(rows), 1))
            if usable.any():
                proba[usable] = predict_outputs(trained.model, data.images[rows["image_row"].to_numpy()[usable]],
                                                device, partial(torch.softmax, dim=1), settings.threads)
            tables.append(prediction_table(rows, proba, method, ~usable))
            if method in keep:
                models.setdefault(method, {})[kind] = trained.model.cpu()
            histories.append(trained.history.assign(kind=kind, method=method))
            timings.append(trained.timing(kind=kind, method=method))
    empty = pd.DataFrame(columns=PREDICTION_COLUMNS)
    return RemedyRuns(pd.concat(tables, ignore_index=True)[PREDICTION_COLUMNS] if tables else empty,
                      pd.concat(histories, ignore_index=True) if histories else pd.DataFrame(),
                      pd.DataFrame(timings), models)
