"""CDF regression (paper 004, section 3.5): a network whose outputs are a predictive distribution, trained
with the CRPS (:mod:`ra_lib.stages.grading.crps`), against a one-output regression.

Two targets: the percentage of eroded joint surface (:data:`PERCENT`, 101 thresholds, paper 004's
model and its one-output baseline trained on ``pct / 100`` with the squared error), and the grade of
each kind (:func:`grade_target`, one threshold per grade: an ordinal regression that needs no
percentages). Rows without a usable crop get the training targets' empirical distribution
(``imputed``). The predictive distribution is read on the integers of the grid.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd
import torch

from ra_lib.cohort.sites import EROSION
from ra_lib.stages.grading import crps
from ra_lib.stages.grading.data import MAX_CLASSES, N_CLASSES, PROBA_COLUMNS, GradingData
from ra_lib.stages.grading.settings import CDF, CDF_GRADES, ONE_OUTPUT
from ra_lib.stages.grading.train import TrainedModel, predict_outputs, train_network

INTERVAL = (0.1, 0.9)  # the 80 % central predictive interval
_SUMMARY_COLUMNS = ["median", "q10", "q90", "mean", "imputed"]


@dataclass(frozen=True)
class CdfTarget:
    """What a CDF regression predicts: ``column`` of the ``kind`` rows, on the grid ``0..n_thresholds-1``.

    ``true_column`` names the target in the predictions table; ``methods`` are the models it can train.
    """

    kind: str
    column: str
    n_thresholds: int
    true_column: str
    methods: tuple[str, ...]

    @property
    def columns(self) -> list[str]:
        """Columns of the predictions table (grade targets add ``kind`` and the grade probabilities)."""
        if self.column == "grade":
            return ["hand_id", "patient", "kind", "site", "split", "method", self.true_column, *_SUMMARY_COLUMNS,
                    *PROBA_COLUMNS]
        return ["hand_id", "patient", "site", "split", "method", self.true_column, *_SUMMARY_COLUMNS]


#: Paper 004's target: the eroded joint surface in percent (``cdf_predictions.csv``).
PERCENT = CdfTarget(EROSION, "eroded_pct", crps.N_THRESHOLDS, "pct_true", (CDF, ONE_OUTPUT))


def grade_target(kind: str) -> CdfTarget:
    """The grades of one kind as the target of a CDF head (``grade_cdf_predictions.csv``)."""
    return CdfTarget(kind, "grade", N_CLASSES[kind], "grade_true", (CDF_GRADES,))


@dataclass
class CdfResult:
    """Per-row predictions of each method of one target and their (monotone) predictive survival curves.

    ``survival[method]`` has one row per row of ``predictions[predictions.method == method]``, in order.
    ``non_monotone[method]``: fraction of raw CDF-head curves that needed the monotonicity repair;
    ``max_rise[method]``: their largest increase from one threshold to the next, averaged over curves;
    ``models[method]``: the trained network (on the CPU).
    """

    target: CdfTarget
    predictions: pd.DataFrame
    survival: dict
    non_monotone: dict
    max_rise: dict
    histories: pd.DataFrame
    timings: pd.DataFrame
    models: dict = field(default_factory=dict, repr=False)


def target_rows(data: GradingData, target: CdfTarget, split: str) -> pd.DataFrame:
    """Usable rows of ``split`` that have the target."""
    rows = data.select(target.kind, split)
    return rows[rows[target.column].notna()]


def train_cdf_model(data: GradingData, target: CdfTarget, method: str, settings, seed: int, device,
                    progress: bool = True) -> TrainedModel:
    """Train a CDF head (CRPS loss, Adam) or, for the percentages, the one-output baseline (MSE on pct / 100)."""
    if method not in target.methods:
        raise ValueError(f"unknown regression method {method!r} for {target.column}; expected one of {target.methods}")
    train = data.tensors(target_rows(data, target, "train"), target.column, torch.float32)
    val = data.tensors(target_rows(data, target, "val"), target.column, torch.float32)
    if len(train[1]) == 0:
        raise ValueError(f"no usable {target.kind} crops with {target.column} in the training split")

    def optimizer(params):
        return torch.optim.Adam(params, lr=settings.regression_lr)

    if method == ONE_OUTPUT:
        outputs, loss_fn = 1, crps.scaled_mse_loss
    else:
        outputs, loss_fn = target.n_thresholds, partial(crps.crps_loss, n_thresholds=target.n_thresholds)
    desc = f"regression {method}" if target is PERCENT else f"{target.kind} {method}"
    return train_network(*train, outputs, loss_fn, optimizer, settings, settings.regression_epochs, seed, device,
                         val=val if len(val[1]) else None, desc=desc, progress=progress)


def _table(rows: pd.DataFrame, target: CdfTarget, method: str, survival: np.ndarray, summary: dict) -> pd.DataFrame:
    table = pd.DataFrame({"hand_id": rows["hand_id"].to_numpy(), "patient": rows["patient"].to_numpy(),
                          "kind": rows["kind"].to_numpy(), "site": rows["site"].to_numpy(),
                          "split": rows["split"].to_numpy(), "method": method,
                          target.true_column: rows[target.column].to_numpy(), **summary})
    if target.column == "grade":
        padded = np.zeros((len(rows), MAX_CLASSES))
        padded[:, :target.n_thresholds] = crps.probabilities(survival)
        table[PROBA_COLUMNS] = padded
    return table[target.columns]


def run_cdf(data: GradingData, target: CdfTarget, methods, settings, seed: int = 0, device="cpu",
            progress: bool = True) -> CdfResult:
    """Train each of ``methods`` on ``target`` and predict every row of its kind (all splits)."""
    rows = data.select(target.kind, usable=False, graded=False)
    usable = (rows["image_row"] >= 0).to_numpy()
    images = data.images[rows["image_row"].to_numpy()[usable]]
    prior = crps.survival_from_samples(target_rows(data, target, "train")[target.column], target.n_thresholds)
    tables, survivals, non_monotone, max_rise, histories, timings, models = [], {}, {}, {}, [], [], {}
    for method in methods:
        trained = train_cdf_model(data, target, method, settings, seed, device, progress)
        survival = np.tile(prior, (len(rows), 1))
        if method == ONE_OUTPUT:
            mean = np.full(len(rows), crps.expected_value(prior[None, :])[0])
            if usable.any():
                mean[usable] = np.clip(predict_outputs(trained.model, images, device, threads=settings.threads)
                                       .reshape(-1) * 100.0, 0, 100)
            survival = crps.point_mass_survival(mean, target.n_thresholds)
            summary = {"median": mean, "q10": np.nan, "q90": np.nan, "mean": mean}
        else:
            raw = predict_outputs(trained.model, images, device, torch.sigmoid, settings.threads) if usable.any() \
                else np.empty((0, target.n_thresholds))
            non_monotone[method] = float(np.mean(~crps.is_monotone(raw))) if len(raw) else float("nan")
            max_rise[method] = float(np.mean(crps.largest_rise(raw))) if len(raw) else float("nan")
            if usable.any():
                survival[usable] = crps.monotone_survival(raw)
            q10, median, q90 = crps.quantiles(survival, (INTERVAL[0], 0.5, INTERVAL[1])).T
            summary = {"median": median, "q10": q10, "q90": q90, "mean": crps.expected_value(survival)}
        survivals[method] = survival
        tables.append(_table(rows, target, method, survival, {**summary, "imputed": ~usable}))
        histories.append(trained.history.assign(kind=target.kind, method=method))
        timings.append(trained.timing(kind=target.kind, method=method))
        models[method] = trained.model.cpu()
    return CdfResult(target, pd.concat(tables, ignore_index=True), survivals, non_monotone, max_rise,
                     pd.concat(histories, ignore_index=True), pd.DataFrame(timings), models)
