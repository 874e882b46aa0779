"""Stage 5's training: paper 003's smooth loss and optimiser, predictions in score units, network sizes."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader

from ra_lib.core.training import fit, predict, seed_everything
from ra_lib.stages.overall_score.data import Augmentation, ScoreData
from ra_lib.stages.overall_score.models import FAMILY_BLOCKS, build_model, count_macs, count_parameters
from ra_lib.stages.overall_score.settings import EVAL_BATCH_SIZE, OverallScoreSettings
from ra_lib.stages.overall_score.targets import SPLITS

#: The trivial model's name in ``predictions.csv`` (and the headline): the training split's mean score everywhere.
MEAN_BASELINE = "mean_baseline"
PREDICTION_COLUMNS = ("patient", "variant", "score_true", "score_pred", "split")


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


def make_loss(settings: OverallScoreSettings, delta: float | None = None) -> SmoothLoss:
    """The settings' :class:`SmoothLoss` (``delta`` overrides ``settings.loss_delta``, alpha then smooth)."""
    if delta is not None:
        return SmoothLoss(delta)
    return SmoothLoss(settings.loss_delta, settings.loss_alpha)


def model_kwargs(variant: str, settings: OverallScoreSettings) -> dict:
    """``build_model`` arguments of a variant under the settings."""
    if variant in FAMILY_BLOCKS:
        kwargs = dict(layers=settings.layers, width_mult=settings.width_mult, expansion=settings.expansion)
    elif variant == "tv_resnet50":
        kwargs = dict(layers=settings.tv_layers)
    else:
        kwargs = dict(width_mult=settings.tv_width_mult)
    return dict(kwargs, weights_path=settings.weights_path)


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

    def size_row(self) -> dict:
        """Size and cost of the trained network: one row of the stage's test table."""
        return {"variant": self.variant, "parameters": self.n_parameters, "gmacs_input": self.macs / 1e9,
                "train_seconds": self.train_seconds, "epochs": len(self.history)}


def train_variant(variant: str, data: ScoreData, settings: OverallScoreSettings, loss: SmoothLoss | None = None,
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
    for split in SPLITS:
        idx = data.indices(split)
        z = predict(model, DataLoader(data.dataset(split), batch_size=EVAL_BATCH_SIZE), device)
        frames.append(prediction_rows(data, idx, variant, data.zscore.inverse(z.reshape(-1))))
    return pd.concat(frames, ignore_index=True)


def mean_baseline(data: ScoreData) -> pd.DataFrame:
    """The trivial model: every unit predicted at the training split's mean score."""
    idx = np.arange(len(data.units))
    return prediction_rows(data, idx, MEAN_BASELINE, np.full(len(idx), data.zscore.mean))


def prediction_rows(data: ScoreData, idx: np.ndarray, variant: str, pred: np.ndarray) -> pd.DataFrame:
    """``predictions.csv`` rows of the units ``idx`` predicted ``pred`` by ``variant``."""
    units = data.units.iloc[idx]
    return pd.DataFrame({data.id_column: units[data.id_column].to_numpy(), "patient": units["patient"].to_numpy(),
                         "variant": variant, "score_true": units["score"].to_numpy(dtype=float),
                         "score_pred": pred, "split": units["split"].to_numpy()})


def complexity_table(variants: Sequence[str], input_sizes: Sequence[int],
                     settings: OverallScoreSettings | None = None) -> pd.DataFrame:
    """Parameters and multiply-adds (GMACs) per variant at each input size.

    Full-size networks unless ``settings`` selects its tiny members.
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
