"""Every evaluation metric of the book, in one place.

Conventions
-----------
* Inputs are array-likes (numpy, pandas, lists); outputs are Python floats, small
  NamedTuples or small DataFrames.
* Binary labels and binary decisions are 0/1 or bool; the positive class is 1
  ("non-intact" in stage 3). Scores become decisions with ``score >= threshold``.
* An undefined value (no positives for sensitivity or PR-AUC, one class for ROC-AUC,
  an empty input, ...) is ``nan``, silently: bootstrap loops call these functions
  thousands of times.
* Bad input (NaN scores, labels other than 0/1, length mismatch) raises ``ValueError``
  naming the argument.

PR-AUC: the book reports **average precision** (``pr_auc(method="ap")``, identical to
``sklearn.metrics.average_precision_score``) as "PR-AUC (AP)": precision at each
threshold times the recall gained there, a step-wise area. ``pr_auc_trapezoid``
(identical to ``sklearn.metrics.auc(recall, precision)`` on ``precision_recall_curve``)
joins the PR points, and the (recall 0, precision 1) anchor, with straight lines. Precision
does not vary linearly between operating points, so the trapezoid is optimistic (as
scikit-learn's documentation warns) wherever points are far apart: with tied or coarse
scores, and above all for binary decisions such as a reader's calls (about +0.2 on
simulated data). With many distinct scores the two nearly agree (the trapezoid is
then slightly lower). Paper 001 does not say which it used; the trapezoid is shown only
for that comparison.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats as _scipy_stats


# --- input checks ------------------------------------------------------------------
def _vector(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _no_missing(arr: np.ndarray, name: str) -> np.ndarray:
    missing = pd.isna(arr)
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        raise ValueError(f"{name} has {int(missing.sum())} missing value(s); first at position {first}")
    return arr


def _binary(x, name: str) -> np.ndarray:
    arr = _vector(x, name)
    if arr.dtype == bool:
        return arr
    arr = _real(arr, name)
    is_one = arr == 1
    valid = is_one | (arr == 0)
    if not valid.all():
        raise ValueError(f"{name} must hold only 0/1 or bool values; found {list(pd.unique(arr[~valid])[:5])}")
    return is_one


def _real(x, name: str) -> np.ndarray:
    arr = _vector(x, name)
    try:
        arr = arr.astype(float, copy=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None
    return _no_missing(arr, name)


def _labels(x, name: str) -> np.ndarray:
    return _no_missing(_vector(x, name), name)


def _same_length(**arrays: np.ndarray) -> None:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"inputs differ in length: {lengths}")


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else float("nan")


# --- binary decisions --------------------------------------------------------------
def _counts(y_true, y_pred) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) of binary labels against binary decisions."""
    t = _binary(y_true, "y_true")
    p = _binary(y_pred, "y_pred")
    _same_length(y_true=t, y_pred=p)
    tp = int(np.count_nonzero(t & p))
    fp = int(np.count_nonzero(p)) - tp
    fn = int(np.count_nonzero(t)) - tp
    return tp, fp, fn, len(t) - tp - fp - fn


def sensitivity(y_true, y_pred) -> float:
    """TP / (TP + FN) (recall); nan without positives."""
    tp, _, fn, _ = _counts(y_true, y_pred)
    return _ratio(tp, tp + fn)


def specificity(y_true, y_pred) -> float:
    """TN / (TN + FP); nan without negatives."""
    _, fp, _, tn = _counts(y_true, y_pred)
    return _ratio(tn, tn + fp)


def precision(y_true, y_pred) -> float:
    """TP / (TP + FP); nan without predicted positives."""
    tp, fp, _, _ = _counts(y_true, y_pred)
    return _ratio(tp, tp + fp)


def f_measure(y_true, y_pred, beta: float = 1.0) -> float:
    """F-beta = (1+b^2) TP / ((1+b^2) TP + b^2 FN + FP); F1 for ``beta=1``.

    Zero when there are positives but no true positives; nan only when there are
    neither positives nor predicted positives.
    """
    if not beta > 0:
        raise ValueError(f"beta must be positive, got {beta}")
    tp, fp, fn, _ = _counts(y_true, y_pred)
    b2 = beta * beta
    return _ratio((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp)


# --- scores ------------------------------------------------------------------------
def _binary_curve(y_true, y_score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative (tps, fps) at each distinct score, highest score first, and the scores."""
    t = _binary(y_true, "y_true")
    s = _real(y_score, "y_score")
    _same_length(y_true=t, y_score=s)
    order = np.argsort(s, kind="stable")[::-1]
    s = s[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1] if len(s) else np.empty(0, int)
    tps = np.cumsum(t[order])[last_of_tie]
    fps = last_of_tie + 1 - tps
    return tps, fps, s[last_of_tie]


def pr_curve(y_true, y_score) -> pd.DataFrame:
    """Precision-recall points, one per distinct score (highest first); for plots.

    Columns ``threshold``, ``precision``, ``recall``; empty without positives.
    """
    tps, fps, thresholds = _binary_curve(y_true, y_score)
    if not len(tps) or tps[-1] == 0:
        return pd.DataFrame({"threshold": [], "precision": [], "recall": []})
    return pd.DataFrame({"threshold": thresholds, "precision": tps / (tps + fps), "recall": tps / tps[-1]})


def average_precision(y_true, y_score) -> float:
    """Step-wise PR-AUC, sum over thresholds of (R_i - R_{i-1}) * P_i; nan without positives.

    Equals ``sklearn.metrics.average_precision_score``. The book's "PR-AUC (AP)".
    """
    tps, fps, _ = _binary_curve(y_true, y_score)
    if not len(tps) or tps[-1] == 0:
        return float("nan")
    recall = tps / tps[-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * tps / (tps + fps)))


def pr_auc_trapezoid(y_true, y_score) -> float:
    """Trapezoidal area under the PR curve including the (recall 0, precision 1) point.

    Equals ``sklearn.metrics.auc(recall, precision)`` on ``precision_recall_curve``.
    Larger than :func:`average_precision` when scores are tied or binary (linear
    interpolation between distant PR points is optimistic); nan without positives.
    """
    tps, fps, _ = _binary_curve(y_true, y_score)
    if not len(tps) or tps[-1] == 0:
        return float("nan")
    recall = np.r_[0.0, tps / tps[-1]]
    prec = np.r_[1.0, tps / (tps + fps)]
    return float(np.sum(np.diff(recall) * (prec[1:] + prec[:-1]) / 2))


def pr_auc(y_true, y_score, method: str = "ap") -> float:
    """PR-AUC: ``"ap"`` (average precision, the book's default) or ``"trapezoid"``."""
    if method == "ap":
        return average_precision(y_true, y_score)
    if method == "trapezoid":
        return pr_auc_trapezoid(y_true, y_score)
    raise ValueError(f"method must be 'ap' or 'trapezoid', got {method!r}")


def roc_auc(y_true, y_score) -> float:
    """Area under the ROC curve (ties count one half); nan unless both classes occur."""
    tps, fps, _ = _binary_curve(y_true, y_score)
    if not len(tps) or tps[-1] == 0 or fps[-1] == 0:
        return float("nan")
    tpr = np.r_[0.0, tps / tps[-1]]
    fpr = np.r_[0.0, fps / fps[-1]]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def binary_report(y_true, y_score, threshold: float = 0.5) -> dict:
    """All stage-3 numbers for one set of scores; decisions are ``y_score >= threshold``."""
    t = _binary(y_true, "y_true")
    s = _real(y_score, "y_score")
    _same_length(y_true=t, y_score=s)
    decision = s >= threshold
    return {
        "sensitivity": sensitivity(t, decision),
        "specificity": specificity(t, decision),
        "precision": precision(t, decision),
        "f_measure": f_measure(t, decision),
        "average_precision": average_precision(t, s),
        "pr_auc_trapezoid": pr_auc_trapezoid(t, s),
        "roc_auc": roc_auc(t, s),
        "n": len(t),
        "n_pos": int(np.count_nonzero(t)),
        "threshold": float(threshold),
    }


# --- multi-class grades ------------------------------------------------------------
def accuracy(y_true, y_pred) -> float:
    """Fraction of exact agreements; nan when empty."""
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    _same_length(y_true=t, y_pred=p)
    return float(np.mean(t == p)) if len(t) else float("nan")


def per_class_accuracy(y_true, y_pred, tolerance: int = 0) -> pd.Series:
    """Per true class, the fraction predicted within ``tolerance`` grades (recall if 0).

    Indexed by the classes present in ``y_true`` (sorted). ``tolerance > 0`` needs
    numeric grades.
    """
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    _same_length(y_true=t, y_pred=p)
    if tolerance:
        hit = np.abs(_real(t, "y_true") - _real(p, "y_pred")) <= tolerance
    else:
        hit = t == p
    classes, inverse = np.unique(t, return_inverse=True)
    rate = np.bincount(inverse, weights=hit, minlength=len(classes)) / np.bincount(inverse, minlength=len(classes))
    return pd.Series(rate, index=pd.Index(classes, name="true"), name="accuracy")


def class_normalised_accuracy(y_true, y_pred, tolerance: int = 0) -> float:
    """Mean over the classes present in ``y_true`` of :func:`per_class_accuracy`.

    Paper 004 Table 2 ("class normalized accuracy"); nan when empty.
    """
    per_class = per_class_accuracy(y_true, y_pred, tolerance)
    return float(per_class.mean()) if len(per_class) else float("nan")


def balanced_accuracy(y_true, y_pred) -> float:
    """Mean per-class recall; the same number as :func:`class_normalised_accuracy`.

    Paper 002 calls it balanced accuracy (``sklearn.metrics.balanced_accuracy_score``).
    """
    return class_normalised_accuracy(y_true, y_pred)


def within_one_accuracy(y_true, y_pred, class_normalised: bool = True) -> float:
    """Fraction of predictions within +-1 grade (paper 004 "class normalized accuracy +-1").

    ``class_normalised=True`` averages the per-class fractions (as paper 004);
    ``False`` is the plain fraction over all rows.
    """
    if class_normalised:
        return class_normalised_accuracy(y_true, y_pred, tolerance=1)
    t, p = _real(y_true, "y_true"), _real(y_pred, "y_pred")
    _same_length(y_true=t, y_pred=p)
    return float(np.mean(np.abs(t - p) <= 1)) if len(t) else float("nan")


def confusion_matrix(y_true, y_pred, labels=None, normalise: bool = True) -> pd.DataFrame:
    """Confusion matrix, rows = true class, columns = predicted class.

    ``normalise=True`` divides each row by its count (rows sum to 1; a class absent
    from ``y_true`` gives a nan row). ``labels`` defaults to the sorted union of both.
    """
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    _same_length(y_true=t, y_pred=p)
    labels = np.unique(np.r_[t, p]) if labels is None else np.asarray(labels)
    ti = pd.Categorical(t, categories=labels).codes.astype(int)
    pi = pd.Categorical(p, categories=labels).codes.astype(int)
    if (ti < 0).any() or (pi < 0).any():
        unknown = pd.unique(np.r_[t[ti < 0], p[pi < 0]])[:5]
        raise ValueError(f"values not in labels: {list(unknown)}")
    k = len(labels)
    counts = np.bincount(ti * k + pi, minlength=k * k).reshape(k, k)
    table = counts.astype(float)
    if normalise:
        with np.errstate(invalid="ignore", divide="ignore"):
            table = table / counts.sum(axis=1, keepdims=True)
    else:
        table = counts
    return pd.DataFrame(table, index=pd.Index(labels, name="true"), columns=pd.Index(labels, name="predicted"))


# --- continuous scores -------------------------------------------------------------
def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t, p = _real(y_true, "y_true"), _real(y_pred, "y_pred")
    _same_length(y_true=t, y_pred=p)
    return t, p


def mae(y_true, y_pred) -> float:
    """Mean absolute error; nan when empty."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(p - t))) if len(t) else float("nan")


def rmse(y_true, y_pred) -> float:
    """Root mean squared error; nan when empty."""
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((p - t) ** 2))) if len(t) else float("nan")


class PearsonResult(NamedTuple):
    r: float
    p: float
    n: int


def pearson_r(x, y) -> PearsonResult:
    """Pearson correlation with its two-sided p-value (``scipy.stats.pearsonr``).

    nan for fewer than two pairs or a constant input.
    """
    a, b = _pair(x, y)
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return PearsonResult(float("nan"), float("nan"), len(a))
    result = _scipy_stats.pearsonr(a, b)
    return PearsonResult(float(result.statistic), float(result.pvalue), len(a))


# --- CRPS ----------------------------------------------------------------------------
def crps_grid(prob, y_true, thresholds=None, kind: str = "cdf", integral: bool = False, reduce: bool = True):
    """Discrete CRPS of predicted distributions on a threshold grid against observations.

    ``prob`` has shape (n, K): row i gives, at each threshold t_k,
    ``kind="cdf"``: P(y <= t_k), compared with the step 1[y_i <= t_k]; or
    ``kind="survival"``: P(y >= t_k), compared with 1[y_i >= t_k].
    ``thresholds`` defaults to 0..K-1 (101 thresholds = percentages 0..100).

    Paper 004 trains 101 sigmoids on P(y >= k) and writes
    CRPS = 1/(101 N) sum_n sum_k (P(y >= k) - H(k - R_n))^2; taken literally that pairs a
    survival function with a CDF step, so the book reads it as ``kind="survival"``.
    For integer observations the two kinds agree up to one grid point.

    ``integral=False`` (paper 004) averages over the K thresholds; ``integral=True``
    integrates over the threshold axis (trapezoid rule), which approximates the
    continuous CRPS (see :func:`crps_gaussian`) when the grid covers the support.
    Returns the mean over observations, or the per-observation array if not ``reduce``.
    """
    if kind not in ("cdf", "survival"):
        raise ValueError(f"kind must be 'cdf' or 'survival', got {kind!r}")
    p = np.asarray(prob, dtype=float)
    if p.ndim != 2:
        raise ValueError(f"prob must be 2-D (observations x thresholds), got shape {p.shape}")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("prob must hold probabilities in [0, 1] without NaN")
    y = _real(y_true, "y_true")
    if len(y) != p.shape[0]:
        raise ValueError(f"prob has {p.shape[0]} rows but y_true has {len(y)} values")
    grid = np.arange(p.shape[1], dtype=float) if thresholds is None else _real(thresholds, "thresholds")
    if len(grid) != p.shape[1] or np.any(np.diff(grid) <= 0):
        raise ValueError(f"thresholds must be {p.shape[1]} increasing values (one per column of prob)")
    observed = grid[None, :] >= y[:, None] if kind == "cdf" else y[:, None] >= grid[None, :]
    squared = (p - observed) ** 2
    if integral:  # trapezoid rule over the thresholds
        per_obs = np.sum(np.diff(grid) * (squared[:, 1:] + squared[:, :-1]) / 2, axis=1)
    else:
        per_obs = squared.mean(axis=1)
    if not reduce:
        return per_obs
    return float(per_obs.mean()) if len(per_obs) else float("nan")


def crps_gaussian(mu, sigma, y_true, reduce: bool = True):
    """Closed-form CRPS of N(mu, sigma^2) forecasts (Gneiting & Raftery 2007); for checks."""
    y = _real(y_true, "y_true")
    m = np.broadcast_to(np.asarray(mu, dtype=float), y.shape)
    s = np.broadcast_to(np.asarray(sigma, dtype=float), y.shape)
    if not (s > 0).all():
        raise ValueError("sigma must be positive")
    z = (y - m) / s
    per_obs = s * (z * (2 * _scipy_stats.norm.cdf(z) - 1) + 2 * _scipy_stats.norm.pdf(z) - 1 / np.sqrt(np.pi))
    if not reduce:
        return per_obs
    return float(per_obs.mean()) if len(per_obs) else float("nan")
