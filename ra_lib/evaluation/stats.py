"""Paired tests and agreement measures of the book (the bootstrap is :mod:`ra_lib.evaluation.bootstrap`).

Results are NamedTuples (unpack them, or ``pd.DataFrame([r._asdict() for r in results])``).
Undefined quantities are ``nan``; bad input raises ``ValueError`` naming the column.
"""
from __future__ import annotations

import gc

import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats as _scipy_stats
from statsmodels.stats.multitest import multipletests

from ra_lib.evaluation import metrics as _metrics



# --- paired tests ------------------------------------------------------------------
class TTestResult(NamedTuple):
    statistic: float
    p: float
    mean_diff: float
    lower: float  # confidence interval of mean_diff
    upper: float
    n: int


def paired_t_test(a, b, confidence: float = 0.95) -> TTestResult:
    """Two-sided paired t-test of mean(a - b) = 0 (``scipy.stats.ttest_rel``).

    Paper 003 tests predicted against true scores this way: ``paired_t_test(pred, true)``.
    Returns the confidence interval of the mean difference. With identical
    differences the statistic is +-inf (p = 0), or nan (p nan) when all are zero.
    """
    x, y = _metrics._pair(a, b)
    d = x - y
    n = len(d)
    if n < 2:
        mean = float(d.mean()) if n else float("nan")
        return TTestResult(float("nan"), float("nan"), mean, float("nan"), float("nan"), n)
    mean = float(d.mean())
    se = float(d.std(ddof=1) / np.sqrt(n))
    half = float(_scipy_stats.t.ppf(0.5 + confidence / 2, n - 1) * se)
    if se == 0:
        statistic = float("nan") if mean == 0 else float(np.copysign(np.inf, mean))
        p = float("nan") if mean == 0 else 0.0
    else:
        statistic = mean / se
        p = float(2 * _scipy_stats.t.sf(abs(statistic), n - 1))
    return TTestResult(statistic, p, mean, mean - half, mean + half, n)


class WilcoxonResult(NamedTuple):
    statistic: float
    p: float
    n: int
    n_nonzero: int


def wilcoxon_signed_rank(a, b) -> WilcoxonResult:
    """Two-sided Wilcoxon signed-rank test of a - b (``scipy.stats.wilcoxon`` defaults:
    zero differences dropped, exact or normal approximation chosen by scipy).

    nan when every difference is zero.
    """
    x, y = _metrics._pair(a, b)
    n_nonzero = int(np.count_nonzero(x - y))
    if n_nonzero == 0:
        return WilcoxonResult(float("nan"), float("nan"), len(x), 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = _scipy_stats.wilcoxon(x, y)
    return WilcoxonResult(float(result.statistic), float(result.pvalue), len(x), n_nonzero)


class McNemarResult(NamedTuple):
    statistic: float
    p: float
    b: int  # a correct, b wrong
    c: int  # a wrong, b correct
    n: int
    method: str  # "exact" or "chi2"


def mcnemar(correct_a, correct_b, exact_below: int = 25) -> McNemarResult:
    """McNemar test of paired binary outcomes (e.g. "decision correct" of two raters).

    Exact two-sided binomial test when the discordant count b + c < ``exact_below``
    (statistic = min(b, c)); otherwise chi-square with continuity correction,
    (|b - c| - 1)^2 / (b + c). Matches ``statsmodels...contingency_tables.mcnemar``.
    No discordant pairs gives p = 1.
    """
    ca = _metrics._binary(correct_a, "correct_a")
    cb = _metrics._binary(correct_b, "correct_b")
    _metrics._same_length(correct_a=ca, correct_b=cb)
    b = int(np.count_nonzero(ca & ~cb))
    c = int(np.count_nonzero(~ca & cb))
    if b + c < exact_below:
        statistic = float(min(b, c))
        p = float(min(1.0, 2 * _scipy_stats.binom.cdf(min(b, c), b + c, 0.5)))
        return McNemarResult(statistic, p, b, c, len(ca), "exact")
    statistic = (abs(b - c) - 1) ** 2 / (b + c)
    return McNemarResult(float(statistic), float(_scipy_stats.chi2.sf(statistic, 1)), b, c, len(ca), "chi2")


def adjust_pvalues(pvalues, method: str = "holm"):
    """Multiple-comparison adjustment (``statsmodels.stats.multitest.multipletests``).

    ``method`` is any statsmodels name ("holm", "bonferroni", "fdr_bh", ...). nan
    p-values stay nan and do not count as tests. A Series keeps its index.

    statsmodels runs ``gc.collect()`` on every call (0.1-0.5 s once torch is loaded, and a table
    needs dozens of calls), so objects that already exist are frozen for the collector meanwhile.
    """
    values = np.asarray(pvalues, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"pvalues must be one-dimensional, got shape {values.shape}")
    present = ~np.isnan(values)
    if ((values[present] < 0) | (values[present] > 1)).any():
        raise ValueError("pvalues must lie in [0, 1]")
    adjusted = np.full_like(values, np.nan)
    if present.any():
        gc.freeze()
        try:
            adjusted[present] = multipletests(values[present], method=method)[1]
        finally:
            gc.unfreeze()
    if isinstance(pvalues, pd.Series):
        return pd.Series(adjusted, index=pvalues.index, name=pvalues.name)
    return adjusted


# --- agreement ---------------------------------------------------------------------
class BlandAltmanResult(NamedTuple):
    mean_diff: float
    sd_diff: float
    lower: float  # mean_diff - 1.96 sd
    upper: float  # mean_diff + 1.96 sd
    n: int
    means: np.ndarray  # (pred + true) / 2, x of the plot
    diffs: np.ndarray  # pred - true, y of the plot


def bland_altman(pred, true) -> BlandAltmanResult:
    """Bias and 95 % limits of agreement of ``pred - true`` (sd with ddof=1)."""
    p, t = _metrics._pair(pred, true)
    diffs = p - t
    n = len(diffs)
    mean = float(diffs.mean()) if n else float("nan")
    sd = float(diffs.std(ddof=1)) if n > 1 else float("nan")
    return BlandAltmanResult(mean, sd, mean - 1.96 * sd, mean + 1.96 * sd, n, (p + t) / 2, diffs)


def icc(ratings, form: str = "2,1") -> float:
    """Intraclass correlation of a complete (subjects x raters) table (Shrout & Fleiss 1979).

    ``"2,1"``: two-way random effects, absolute agreement, single rater.
    ``"3,1"``: two-way mixed effects, consistency, single rater.
    nan for fewer than two subjects or raters, or no variance at all.
    """
    if form not in ("2,1", "3,1"):
        raise ValueError(f"form must be '2,1' or '3,1', got {form!r}")
    y = np.asarray(ratings, dtype=float)
    if y.ndim != 2:
        raise ValueError(f"ratings must be 2-D (subjects x raters), got shape {y.shape}")
    if np.isnan(y).any():
        raise ValueError(f"ratings has {int(np.isnan(y).sum())} missing value(s); ICC needs a complete table")
    n, k = y.shape
    if n < 2 or k < 2:
        return float("nan")
    grand = y.mean()
    subject_means, rater_means = y.mean(axis=1), y.mean(axis=0)
    ms_subjects = k * np.sum((subject_means - grand) ** 2) / (n - 1)
    ms_raters = n * np.sum((rater_means - grand) ** 2) / (k - 1)
    residual = y - subject_means[:, None] - rater_means[None, :] + grand
    ms_error = np.sum(residual**2) / ((n - 1) * (k - 1))
    denominator = ms_subjects + (k - 1) * ms_error
    if form == "2,1":
        denominator += k * (ms_raters - ms_error) / n
    return _metrics._ratio(ms_subjects - ms_error, denominator)


def cohen_kappa(a, b, weights: str | None = None, labels=None) -> float:
    """Cohen's kappa of two raters' grades; ``weights`` None, "linear" or "quadratic".

    Weights use the positions of the grades in ``labels`` (default: sorted grades seen),
    as ``sklearn.metrics.cohen_kappa_score``; pass ``labels=range(6)`` to fix the scale.
    nan when chance agreement is perfect (e.g. both raters constant).
    """
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
    table = _metrics.confusion_matrix(a, b, labels=labels, normalise=False).to_numpy(dtype=float)
    k = len(table)
    if table.sum() == 0:
        return float("nan")
    distance = np.abs(np.subtract.outer(np.arange(k), np.arange(k))).astype(float)
    if weights is None:
        w = (distance > 0).astype(float)
    else:
        w = distance if weights == "linear" else distance**2
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    return 1 - _metrics._ratio(np.sum(w * table), np.sum(w * expected))
