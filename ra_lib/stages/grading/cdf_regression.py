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

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from ra_lib.evaluation import metrics
from ra_lib.stages.grading.pipeline import torch_threads, train_network
from ra_lib.core.training import predict

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


def stage_table(data) -> pd.DataFrame:
    """Counts of SvdH erosion grade (rows) against the Ratingen stage of the eroded surface (columns)."""
    rows = data.rows[(data.rows["kind"] == "erosion") & data.rows["eroded_pct"].notna() & data.rows["grade"].notna()]
    return pd.crosstab(rows["grade"].astype(int).rename("SvdH erosion grade"),
                       pd.Series(ratingen_stage(rows["eroded_pct"]), index=rows.index, name="Ratingen stage"))


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


# --- training and prediction -------------------------------------------------------------
CDF, ONE_OUTPUT = "cdf", "one_output"
REGRESSION_METHODS = (CDF, ONE_OUTPUT)
INTERVAL = (0.1, 0.9)  # the 80 % central predictive interval
PREDICTION_COLUMNS = ["hand_id", "patient", "site", "split", "method", "pct_true", "median", "q10", "q90",
                      "mean", "imputed"]


def has_targets(data) -> bool:
    """Whether any usable training crop of the cohort has an eroded-surface percentage."""
    rows = data.select("erosion", "train")
    return bool(rows["eroded_pct"].notna().any())


@dataclass
class RegressionResult:
    """Per-row predictions of each method and their (monotone) predictive survival curves.

    ``survival[method]`` has one row per row of ``predictions[predictions.method == method]``, in order.
    ``non_monotone[method]``: fraction of raw CDF-head curves that needed the monotonicity repair;
    ``max_rise[method]``: their largest increase from one threshold to the next, averaged over curves.
    """

    predictions: pd.DataFrame
    survival: dict
    non_monotone: dict
    max_rise: dict
    histories: pd.DataFrame
    timings: pd.DataFrame


def point_mass_survival(values) -> np.ndarray:
    """Survival curves of point forecasts: ``S(k) = 1[value >= k]`` (a one-output regression's CDF)."""
    values = np.clip(np.asarray(values, dtype=float), 0, 100)
    return (values[:, None] >= THRESHOLDS[None, :]).astype(float)


def train_regressor(data, method: str, settings, seed: int, device, progress: bool = True):
    """Train the CDF head (CRPS loss) or the one-output baseline (MSE on pct / 100) on erosion crops."""
    if method not in REGRESSION_METHODS:
        raise ValueError(f"unknown regression method {method!r}; expected one of {REGRESSION_METHODS}")

    def tensors(rows):
        rows = rows[rows["eroded_pct"].notna()]
        return (data.images[rows["image_row"].to_numpy()],
                torch.as_tensor(rows["eroded_pct"].to_numpy(), dtype=torch.float32))

    train, val = tensors(data.select("erosion", "train")), tensors(data.select("erosion", "val"))
    if len(train[1]) == 0:
        raise ValueError("no usable erosion crops with eroded_pct in the training split")

    def optimizer(params):
        return torch.optim.Adam(params, lr=settings.regression_lr)

    outputs, loss_fn = (N_THRESHOLDS, crps_loss) if method == CDF else (1, scaled_mse_loss)
    return train_network(*train, outputs, loss_fn, optimizer, settings, settings.regression_epochs, seed, device,
                         val=val if len(val[1]) else None, desc=f"regression {method}", progress=progress)


def _predict_outputs(model, images, device, method, threads) -> np.ndarray:
    loader = DataLoader(TensorDataset(images), batch_size=256)
    with torch_threads(threads):
        if method == CDF:
            return predict(model, loader, device, transform=torch.sigmoid)
        return predict(model, loader, device).reshape(-1) * 100.0


def run_cdf_regression(data, settings, seed: int = 0, device="cpu", progress: bool = True) -> RegressionResult:
    """Train each ``settings.regression_methods`` and predict every erosion row (all splits).

    Rows without a usable crop get the training targets' empirical distribution (``imputed``).
    """
    rows = data.select("erosion", usable=False, graded=False)
    usable = (rows["image_row"] >= 0).to_numpy()
    train_pct = data.select("erosion", "train")["eroded_pct"].dropna()
    prior = survival_from_samples(train_pct)
    tables, survivals, non_monotone, max_rise, histories, timings = [], {}, {}, {}, [], []
    for method in settings.regression_methods:
        trained = train_regressor(data, method, settings, seed, device, progress)
        images = data.images[rows["image_row"].to_numpy()[usable]]
        survival = np.tile(prior, (len(rows), 1))
        if method == CDF:
            raw = _predict_outputs(trained.model, images, device, method, settings.threads)
            non_monotone[method] = float(np.mean(~is_monotone(raw))) if len(raw) else float("nan")
            max_rise[method] = float(np.mean(np.clip(np.diff(raw, axis=1).max(axis=1), 0, None))) \
                if len(raw) else float("nan")
            survival[usable] = monotone_survival(raw)
            q10, median, q90 = quantiles(survival, (INTERVAL[0], 0.5, INTERVAL[1])).T
            mean = expected_value(survival)
        else:
            mean = np.full(len(rows), expected_value(prior[None, :])[0])
            mean[usable] = np.clip(_predict_outputs(trained.model, images, device, method, settings.threads), 0, 100)
            survival = point_mass_survival(mean)
            median, q10, q90 = mean, np.full(len(rows), np.nan), np.full(len(rows), np.nan)
        survivals[method] = survival
        tables.append(pd.DataFrame({
            "hand_id": rows["hand_id"].to_numpy(), "patient": rows["patient"].to_numpy(),
            "site": rows["site"].to_numpy(), "split": rows["split"].to_numpy(), "method": method,
            "pct_true": rows["eroded_pct"].to_numpy(), "median": median, "q10": q10, "q90": q90,
            "mean": mean, "imputed": ~usable}))
        histories.append(trained.history.assign(method=method))
        timings.append({"method": method, "seconds": trained.seconds, "samples": trained.samples_seen,
                        "samples_per_s": trained.samples_seen / max(trained.seconds, 1e-9)})
    return RegressionResult(pd.concat(tables, ignore_index=True)[PREDICTION_COLUMNS], survivals, non_monotone,
                            max_rise, pd.concat(histories, ignore_index=True), pd.DataFrame(timings))


def _evaluable_mask(table: pd.DataFrame, split: str) -> np.ndarray:
    return ((table["split"] == split) & ~table["imputed"].astype(bool) & table["pct_true"].notna()).to_numpy()


def regression_metrics(result: RegressionResult, split: str = "test") -> pd.DataFrame:
    """Paper 004 Table 3 per method (MSE and MAE of the predictive mean), plus MAE of the median,
    the discrete CRPS, the 80 % interval coverage and the share and size of monotonicity repairs."""
    rows = []
    for method, survival in result.survival.items():
        table = result.predictions[result.predictions["method"] == method]
        mask = _evaluable_mask(table, split)
        sub = table[mask]
        y = sub["pct_true"].to_numpy()
        inside = ((sub["q10"] <= sub["pct_true"]) & (sub["pct_true"] <= sub["q90"])).to_numpy()
        has_interval = sub["q10"].notna().all() and len(sub)
        rows.append({
            "method": method, "n": int(mask.sum()),
            "mse": metrics.rmse(y, sub["mean"]) ** 2, "mae": metrics.mae(y, sub["mean"]),
            "mae_median": metrics.mae(y, sub["median"]),
            "crps": metrics.crps_grid(survival[mask], y, kind="survival") if len(sub) else float("nan"),
            # coverage = share of targets inside [q10, q90] (agreement of "inside" with True)
            "coverage_80": metrics.accuracy(inside, np.ones_like(inside)) if has_interval else float("nan"),
            "non_monotone_fraction": result.non_monotone.get(method, float("nan")),
            "mean_max_rise": result.max_rise.get(method, float("nan")),
        })
    return pd.DataFrame(rows)


def pit(result: RegressionResult, method: str = CDF, split: str = "test", seed: int = 0) -> np.ndarray:
    """Randomised PIT values of the evaluable rows of one method (uniform when calibrated)."""
    table = result.predictions[result.predictions["method"] == method]
    mask = _evaluable_mask(table, split)
    return pit_values(result.survival[method][mask], table.loc[mask, "pct_true"], np.random.default_rng(seed))


#: Paper 004 Table 3: the CDF model trained on (a) the data as they are, (b) oversampled, (c) class-weighted.
PAPER_004_TABLE3 = {"a": {"mse": 80.884, "mae": 4.046}, "b": {"mse": 83.017, "mae": 4.072},
                    "c": {"mse": 94.488, "mae": 4.057}}


# --- figures ------------------------------------------------------------------------------
def plot_survival_examples(result: RegressionResult, n: int = 6, split: str = "test", seed: int = 0):
    """Predicted survival curves ``P(y >= k)`` of ``n`` joints (spread over the target range), with the
    true percentage, the median and the 80 % interval."""
    import matplotlib.pyplot as plt

    table = result.predictions[result.predictions["method"] == CDF].reset_index(drop=True)
    mask = _evaluable_mask(table, split)
    candidates = np.flatnonzero(mask)
    order = candidates[np.argsort(table.loc[candidates, "pct_true"].to_numpy(), kind="stable")]
    chosen = order[np.linspace(0, len(order) - 1, min(n, len(order))).round().astype(int)] if len(order) else []
    fig, axes = plt.subplots(1, max(len(chosen), 1), figsize=(2.3 * max(len(chosen), 1), 2.4), sharey=True,
                             squeeze=False)
    for ax, i in zip(axes[0], chosen):
        row = table.loc[i]
        ax.axvspan(row["q10"], row["q90"], color="#a8dadc", alpha=0.6, label="80 % interval")
        ax.plot(THRESHOLDS, result.survival[CDF][i], color="#1d3557", label="P(y >= k)")
        ax.axvline(row["median"], color="#1d3557", ls=":", label="median")
        ax.axvline(row["pct_true"], color="#e63946", label="true")
        ax.set(xlabel="eroded surface k (%)", title=f"{row['site']}, true {row['pct_true']:.0f} %")
    axes[0][0].set_ylabel("P(y >= k)")
    axes[0][0].legend(fontsize=6, loc="upper right")
    fig.tight_layout()
    return fig


def plot_predicted_vs_true(result: RegressionResult, split: str = "test"):
    """Predicted median (the CDF head with its 80 % interval) against true eroded surface, one panel per method."""
    import matplotlib.pyplot as plt

    methods = list(result.survival)
    fig, axes = plt.subplots(1, len(methods), figsize=(3.4 * len(methods), 3.2), squeeze=False, sharey=True)
    for ax, method in zip(axes[0], methods):
        table = result.predictions[result.predictions["method"] == method]
        sub = table[_evaluable_mask(table, split)]
        if sub["q10"].notna().all():
            ax.errorbar(sub["pct_true"], sub["median"], yerr=[sub["median"] - sub["q10"], sub["q90"] - sub["median"]],
                        fmt="none", ecolor="#a8dadc", elinewidth=0.8, alpha=0.6)
        ax.scatter(sub["pct_true"], sub["median"], s=8, alpha=0.7, color="#1d3557")
        ax.plot([0, 100], [0, 100], color="grey", lw=1, ls="--")
        ax.set(xlabel="true eroded surface (%)", ylabel="predicted median (%)", title=method, xlim=(-3, 103))
    fig.tight_layout()
    return fig


def plot_pit(values: np.ndarray, bins: int = 10):
    """Histogram of PIT values against the uniform density of a calibrated forecast."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 2.6))
    ax.hist(values, bins=bins, range=(0, 1), density=True, color="#457b9d")
    ax.axhline(1.0, color="grey", ls="--", lw=1)
    ax.set(xlabel="PIT value", ylabel="density")
    fig.tight_layout()
    return fig
