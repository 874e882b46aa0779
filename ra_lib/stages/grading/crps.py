"""Predictive distributions on the integers ``0..T-1`` as survival curves, and their CRPS loss (paper 004, 3.5).

A CDF head ends in ``T`` sigmoid outputs, one per threshold ``k = 0..T-1``, each the predicted
probability ``S(k) = P(y >= k)``: ``T = 101`` for the eroded surface in percent (paper 004), ``T`` = the
number of grades for a grade distribution. It is trained with the discrete Continuous Ranked
Probability Score, the mean squared distance between the predicted survival curve and the observed
step, ``CRPS = 1 / (T N) * sum_n sum_k (S_n(k) - 1[y_n >= k])^2``. Paper 004 writes the step as
``H(k - R_n)``, the step of the Kaggle form ``P(y <= k)``; for the survival form it predicts, the
matching step is ``1[R_n >= k]``. For integer targets the two sums are the same terms shifted by one
threshold, so the loss is the paper's.

Predicted curves need not be monotone (the sigmoids are independent), so before reading quantiles
:func:`monotone_survival` repairs them, by default with the *rearrangement* of Chernozhukov,
Fernandez-Val and Galichon (2010): sorting each curve in decreasing order, which never moves a curve
further from a monotone truth. ``S(0) = 1`` is imposed (every target is >= 0).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

#: Paper 004's grid: the eroded surface in whole percent, 0..100.
N_THRESHOLDS = 101


def step_targets(target: torch.Tensor, n_thresholds: int = N_THRESHOLDS) -> torch.Tensor:
    """The observed survival step ``1[y >= k]`` for ``k = 0..n_thresholds-1``, shape ``(N, n_thresholds)``."""
    thresholds = torch.arange(n_thresholds, device=target.device, dtype=target.dtype)
    return (target.reshape(-1, 1) >= thresholds).to(target.dtype)


def crps_loss(logits: torch.Tensor, target: torch.Tensor, n_thresholds: int = N_THRESHOLDS,
              sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean discrete CRPS of ``n_thresholds`` logits (``sigmoid`` gives ``S(k)``) against the targets.

    With ``sample_weight`` the per-sample CRPS is averaged with those weights.
    """
    if logits.shape[-1] != n_thresholds:
        raise ValueError(f"CRPS needs {n_thresholds} outputs per sample, got {logits.shape[-1]}")
    target = target.to(logits.dtype)
    per_sample = (torch.sigmoid(logits) - step_targets(target, n_thresholds)).pow(2).mean(dim=1)
    if sample_weight is None:
        return per_sample.mean()
    return (per_sample * sample_weight).sum() / sample_weight.sum()


def scaled_mse_loss(output: torch.Tensor, pct: torch.Tensor) -> torch.Tensor:
    """Loss of the one-output baseline: MSE on the target scaled to [0, 1] (output is pct / 100)."""
    return F.mse_loss(output.reshape(-1), pct.reshape(-1) / 100.0)


def monotone_survival(survival: np.ndarray, method: str = "rearrange") -> np.ndarray:
    """A non-increasing survival curve per row with ``S(0) = 1``, values in [0, 1].

    ``method="rearrange"`` sorts each row in decreasing order; ``"cummin"`` takes the running
    minimum (never raises a probability, so it shifts mass towards low values).
    """
    survival = np.clip(np.asarray(survival, dtype=float), 0.0, 1.0)
    if survival.ndim != 2 or survival.shape[1] < 2:
        raise ValueError(f"survival curves must have shape (N, thresholds >= 2), got {survival.shape}")
    survival = survival.copy()
    survival[:, 0] = 1.0
    if method == "rearrange":
        return -np.sort(-survival, axis=1)
    if method == "cummin":
        return np.minimum.accumulate(survival, axis=1)
    raise ValueError(f"unknown monotonicity repair {method!r}; expected 'rearrange' or 'cummin'")


def is_monotone(survival: np.ndarray) -> np.ndarray:
    """Per row: whether the raw predicted survival curve is non-increasing."""
    return np.all(np.diff(np.asarray(survival), axis=1) <= 0, axis=1)


def largest_rise(survival: np.ndarray) -> np.ndarray:
    """Per row: the largest increase of a raw curve from one threshold to the next (0 when monotone)."""
    return np.clip(np.diff(np.asarray(survival), axis=1).max(axis=1), 0, None)


def cdf_from_survival(survival: np.ndarray) -> np.ndarray:
    """``F(k) = P(y <= k) = 1 - S(k + 1)`` on the integers ``k = 0..T-1``; ``F(T-1) = 1``."""
    survival = np.asarray(survival, dtype=float)
    upper = np.concatenate([survival[:, 1:], np.zeros((len(survival), 1))], axis=1)
    return 1.0 - upper


def probabilities(survival: np.ndarray) -> np.ndarray:
    """``P(y = k) = S(k) - S(k + 1)`` of a monotone survival curve, shape ``(N, T)``."""
    survival = np.asarray(survival, dtype=float)
    return survival - np.concatenate([survival[:, 1:], np.zeros((len(survival), 1))], axis=1)


def survival_from_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """``S(k) = P(y >= k)`` of ``(N, T)`` probabilities of the integers ``0..T-1`` (the inverse of
    :func:`probabilities`)."""
    return np.cumsum(np.asarray(probabilities, dtype=float)[:, ::-1], axis=1)[:, ::-1]


def quantiles(survival: np.ndarray, probs=(0.1, 0.5, 0.9)) -> np.ndarray:
    """Predictive quantiles, shape ``(N, len(probs))``: smallest integer ``k`` with ``F(k) >= p``.

    ``survival`` must be monotone (see :func:`monotone_survival`).
    """
    cdf = cdf_from_survival(survival)
    probs = np.asarray(probs, dtype=float)
    if np.any((probs <= 0) | (probs >= 1)):
        raise ValueError("quantile levels must lie strictly between 0 and 1")
    # argmax of a boolean row finds the first True; F(T-1) = 1 guarantees one exists.
    return np.stack([np.argmax(cdf >= p - 1e-12, axis=1) for p in probs], axis=1).astype(float)


def expected_value(survival: np.ndarray) -> np.ndarray:
    """Predictive mean on the integers: ``E[y] = sum_{k>=1} P(y >= k)``."""
    return np.asarray(survival, dtype=float)[:, 1:].sum(axis=1)


def pit_values(survival: np.ndarray, target, rng: np.random.Generator) -> np.ndarray:
    """Randomised probability integral transform of the targets under the (monotone) predictions.

    ``u = P(Y < y) + v * P(Y = y)`` with ``v ~ U(0, 1)``: uniform on [0, 1] when the forecasts are
    calibrated, also for a discrete predictive distribution.
    """
    survival = np.asarray(survival, dtype=float)
    target = np.asarray(target, dtype=float)
    padded = np.concatenate([survival, np.zeros((len(survival), 1))], axis=1)  # S(T) = 0
    rows = np.arange(len(target))
    below = 1.0 - padded[rows, np.ceil(target).astype(int)]  # P(Y < y)
    at_or_below = 1.0 - padded[rows, np.floor(target).astype(int) + 1]  # P(Y <= y)
    return below + rng.uniform(size=len(target)) * (at_or_below - below)


def survival_from_samples(values, n_thresholds: int = N_THRESHOLDS) -> np.ndarray:
    """Empirical survival curve of a sample of targets, shape ``(n_thresholds,)`` (the no-image prior)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise ValueError("cannot build an empirical survival curve from no targets")
    return (values[:, None] >= np.arange(n_thresholds)[None, :]).mean(axis=0)


def point_mass_survival(values, n_thresholds: int = N_THRESHOLDS) -> np.ndarray:
    """Survival curves of point forecasts: ``S(k) = 1[value >= k]`` (a one-output regression's CDF)."""
    values = np.clip(np.asarray(values, dtype=float), 0, n_thresholds - 1)
    return (values[:, None] >= np.arange(n_thresholds)[None, :]).astype(float)
