"""CDF regression of the eroded joint surface (paper 004, section 3.5).

The network ends in 101 sigmoid outputs, one per threshold ``k = 0..100``, each the predicted
probability ``S(k) = P(y >= k)`` that the eroded surface ``y`` (percent) reaches ``k``. It is trained
with the discrete Continuous Ranked Probability Score,

    CRPS = 1 / (101 N) * sum_n sum_k (S_n(k) - 1[y_n >= k])^2,

the squared distance between the predicted survival curve and the observed step. Paper 004 writes
the step as ``H(k - R_n)``, which is the step of the Kaggle form ``P(y <= k)``; for the survival
form it predicts, the matching step is ``1[R_n >= k]``. For integer targets the two sums are the
same terms shifted by one threshold, so the loss is the paper's.

Predicted curves need not be monotone (the 101 sigmoids are independent), so before reading
quantiles :func:`monotone_survival` repairs them, by default with the *rearrangement* of
Chernozhukov, Fernandez-Val and Galichon (2010): sorting each curve in decreasing order, which
never moves a curve further from a monotone truth. ``S(0) = 1`` is imposed (every target is >= 0).
The predictive distribution is read as one on the integers 0..100.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

N_THRESHOLDS = 101
THRESHOLDS = np.arange(N_THRESHOLDS)
#: Paper 004 Table 1: Ratingen stage from the percentage of eroded joint surface.
RATINGEN_UPPER_BOUNDS = (0.0, 20.0, 40.0, 60.0, 80.0, 100.0)


def ratingen_stage(pct) -> np.ndarray:
    """Ratingen stage 0-5 of eroded-surface percentages (0 -> 0, (0, 20] -> 1, ..., (80, 100] -> 5)."""
    pct = np.asarray(pct, dtype=float)
    if np.any((pct < 0) | (pct > 100)):
        raise ValueError("eroded-surface percentages must lie in [0, 100]")
    return np.searchsorted(RATINGEN_UPPER_BOUNDS, pct, side="left").astype(int)


def step_targets(pct: torch.Tensor) -> torch.Tensor:
    """The observed survival step ``1[y >= k]`` for ``k = 0..100``, shape ``(N, 101)``."""
    thresholds = torch.arange(N_THRESHOLDS, device=pct.device, dtype=pct.dtype)
    return (pct.reshape(-1, 1) >= thresholds).to(pct.dtype)


def crps_loss(logits: torch.Tensor, pct: torch.Tensor, sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean discrete CRPS of 101 logits (``sigmoid`` gives ``S(k)``) against targets in percent.

    With ``sample_weight`` the per-sample CRPS is averaged with those weights.
    """
    if logits.shape[-1] != N_THRESHOLDS:
        raise ValueError(f"CRPS needs {N_THRESHOLDS} outputs per sample, got {logits.shape[-1]}")
    per_sample = (torch.sigmoid(logits) - step_targets(pct)).pow(2).mean(dim=1)
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
    if survival.ndim != 2 or survival.shape[1] != N_THRESHOLDS:
        raise ValueError(f"survival curves must have shape (N, {N_THRESHOLDS}), got {survival.shape}")
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


def cdf_from_survival(survival: np.ndarray) -> np.ndarray:
    """``F(k) = P(y <= k) = S(k + 1)`` complement on the integers, ``k = 0..100``; ``F(100) = 1``."""
    survival = np.asarray(survival, dtype=float)
    upper = np.concatenate([survival[:, 1:], np.zeros((len(survival), 1))], axis=1)
    return 1.0 - upper


def quantiles(survival: np.ndarray, probs=(0.1, 0.5, 0.9)) -> np.ndarray:
    """Predictive quantiles, shape ``(N, len(probs))``: smallest integer ``k`` with ``F(k) >= p``.

    ``survival`` must be monotone (see :func:`monotone_survival`).
    """
    cdf = cdf_from_survival(survival)
    probs = np.asarray(probs, dtype=float)
    if np.any((probs <= 0) | (probs >= 1)):
        raise ValueError("quantile levels must lie strictly between 0 and 1")
    # argmax of a boolean row finds the first True; F(100) = 1 guarantees one exists.
    return np.stack([np.argmax(cdf >= p - 1e-12, axis=1) for p in probs], axis=1).astype(float)


def expected_value(survival: np.ndarray) -> np.ndarray:
    """Predictive mean on the integers 0..100: ``E[y] = sum_{k>=1} P(y >= k)``."""
    return np.asarray(survival, dtype=float)[:, 1:].sum(axis=1)


def pit_values(survival: np.ndarray, pct, rng: np.random.Generator) -> np.ndarray:
    """Randomised probability integral transform of the targets under the (monotone) predictions.

    ``u = P(Y < y) + v * P(Y = y)`` with ``v ~ U(0, 1)``: uniform on [0, 1] when the forecasts are
    calibrated, also for a discrete predictive distribution.
    """
    survival = np.asarray(survival, dtype=float)
    pct = np.asarray(pct, dtype=float)
    padded = np.concatenate([survival, np.zeros((len(survival), 1))], axis=1)  # S(101) = 0
    rows = np.arange(len(pct))
    below = 1.0 - padded[rows, np.ceil(pct).astype(int)]  # P(Y < y)
    at_or_below = 1.0 - padded[rows, np.floor(pct).astype(int) + 1]  # P(Y <= y)
    return below + rng.uniform(size=len(pct)) * (at_or_below - below)


def survival_from_samples(pct) -> np.ndarray:
    """Empirical survival curve of a sample of targets, shape ``(101,)`` (the no-image prior)."""
    pct = np.asarray(pct, dtype=float)
    if pct.size == 0:
        raise ValueError("cannot build an empirical survival curve from no targets")
    return (pct[:, None] >= THRESHOLDS[None, :]).mean(axis=0)
