"""Patient-clustered bootstrap intervals of metrics and of paired model differences; model vs reader.

Joints (and hands) of one patient are not independent, so every bootstrap here draws *patients*
with replacement and keeps all their rows; a model comparison draws the same patients for both
models (paired). Intervals are percentile intervals; replicates where the metric is undefined
(e.g. no positives drawn) are dropped and counted in ``n_valid``.
"""
from __future__ import annotations

import warnings
from typing import Callable, Iterator, NamedTuple

import numpy as np
import pandas as pd

from ra_lib.evaluation import metrics as _metrics
from ra_lib.evaluation.stats import McNemarResult, mcnemar

MetricFn = Callable[[np.ndarray, np.ndarray], float]


# --- patient-clustered bootstrap ---------------------------------------------------
class BootstrapResult(NamedTuple):
    estimate: float
    lower: float
    upper: float
    n_valid: int
    n_boot: int
    n_clusters: int


class BootstrapDiffResult(NamedTuple):
    estimate_a: float
    estimate_b: float
    diff: float  # estimate_a - estimate_b
    lower: float
    upper: float
    p: float
    n_valid: int
    n_boot: int
    n_clusters: int


def _column(df: pd.DataFrame, name: str, role: str) -> np.ndarray:
    if name not in df.columns:
        raise ValueError(f"{role} column {name!r} not in table; columns are {list(df.columns)}")
    return df[name].to_numpy()


def _cluster_resamples(clusters: np.ndarray, n_boot: int, seed: int) -> tuple[int, Iterator[np.ndarray]]:
    """Number of clusters and an iterator of row-index arrays, one per resample.

    Each resample draws as many clusters as there are, with replacement, and takes all
    rows of every drawn cluster, listed in row order. Clusters are ordered by their sorted
    ids, so the draws depend on the seed and the set of clusters, not on row order.
    """
    codes, uniques = pd.factorize(clusters, sort=True)
    if not len(codes):
        raise ValueError("the table to bootstrap has no rows")
    if (codes < 0).any():
        raise ValueError(f"cluster column has {int((codes < 0).sum())} missing value(s)")
    n_clusters = len(uniques)
    rows_by_cluster = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes, minlength=n_clusters)
    starts = np.cumsum(sizes) - sizes
    rng = np.random.default_rng(seed)

    def resamples() -> Iterator[np.ndarray]:
        for _ in range(n_boot):
            drawn = rng.integers(0, n_clusters, n_clusters)
            lengths = sizes[drawn]
            ends = np.cumsum(lengths)
            positions = np.repeat(starts[drawn] - (ends - lengths), lengths) + np.arange(ends[-1])
            yield np.sort(rows_by_cluster[positions])

    return n_clusters, resamples()


def _score_order(scores: np.ndarray) -> np.ndarray:
    """Row order by ascending score (identity for non-numeric scores).

    Resamples list their rows in row order, so with rows sorted by score the metric's
    own sort meets sorted input, which a stable sort handles in linear time. A speed-up
    only: metrics do not depend on row order.
    """
    if scores.dtype.kind not in "biuf":
        return np.arange(len(scores))
    return np.argsort(scores, kind="stable")


def _check_boot_args(n_boot: int, alpha: float) -> None:
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")


def _percentile_interval(values: np.ndarray, alpha: float) -> tuple[float, float]:
    if not len(values):
        return float("nan"), float("nan")
    lower, upper = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(lower), float(upper)


def _select_model(df: pd.DataFrame, model, model_col: str) -> pd.DataFrame:
    if model is not None:
        models = _column(df, model_col, "model")
        if not (models == model).any():
            raise ValueError(f"no rows with {model_col} == {model!r}; present: {list(pd.unique(models))[:10]}")
        return df[models == model]
    if model_col in df.columns and df[model_col].nunique() > 1:
        raise ValueError(
            f"table holds {df[model_col].nunique()} values of {model_col!r}; pass model= to pick one"
        )
    return df


def bootstrap_ci(
    df: pd.DataFrame,
    metric_fn: MetricFn,
    *,
    model=None,
    model_col: str = "model",
    score: str = "probability",
    label: str = "label",
    cluster: str = "patient",
    n_boot: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
) -> BootstrapResult:
    """Metric with a patient-clustered percentile bootstrap interval.

    ``metric_fn(labels, scores) -> float`` is called on the ``label`` and ``score``
    columns, e.g. ``bootstrap_ci(long_table, metrics.average_precision, model="SISO")``;
    for a decision metric pass e.g. ``lambda y, s: metrics.f_measure(y, s >= 0.5)``.
    ``model`` selects rows of a long table by ``model_col``; a table holding several
    models without ``model`` is refused.
    """
    _check_boot_args(n_boot, alpha)
    rows = _select_model(df, model, model_col)
    s = _column(rows, score, "score")
    order = _score_order(s)
    s, y, clusters = s[order], _column(rows, label, "label")[order], _column(rows, cluster, "cluster")[order]
    n_clusters, resamples = _cluster_resamples(clusters, n_boot, seed)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        estimate = float(metric_fn(y, s))
        replicates = np.array([metric_fn(y[i], s[i]) for i in resamples], dtype=float)
    valid = replicates[np.isfinite(replicates)]
    lower, upper = _percentile_interval(valid, alpha)
    return BootstrapResult(estimate, lower, upper, len(valid), n_boot, n_clusters)


def _paired_rows(df, a, b, model_col, score, label, keys, cluster) -> pd.DataFrame:
    """Wide table (keys..., label, _a, _b: the two models' scores) of a long table."""
    models = _column(df, model_col, "model")
    keys = [c for c in df.columns if c not in (model_col, score, label)] if keys is None else list(keys)
    if cluster not in keys:
        raise ValueError(f"cluster column {cluster!r} must be one of the pairing keys {keys}")
    sides = {}
    for name in (a, b):
        part = df.loc[models == name, keys + [label, score]]
        if part.empty:
            raise ValueError(f"no rows with {model_col} == {name!r}; present: {list(pd.unique(models))[:10]}")
        duplicated = part.duplicated(keys)
        if duplicated.any():
            raise ValueError(
                f"model {name!r} has {int(duplicated.sum())} rows repeating the keys {keys}, "
                f"e.g. {part.loc[duplicated, keys].iloc[0].to_dict()}; pass keys= that identify one item"
            )
        sides[name] = part.set_index(keys)
    left, right = sides[a], sides[b]
    if len(left) != len(right) or not left.index.isin(right.index).all():
        missing = left.index.difference(right.index).union(right.index.difference(left.index))
        example = missing[0] if isinstance(missing[0], tuple) else (missing[0],)
        raise ValueError(
            f"models {a!r} and {b!r} are not scored on the same items ({len(left)} vs {len(right)} rows, "
            f"{len(missing)} unmatched, e.g. {dict(zip(keys, example))}); "
            f"filter the table or pass keys="
        )
    right = right.loc[left.index]
    disagree = left[label].to_numpy() != right[label].to_numpy()
    if disagree.any():
        raise ValueError(f"column {label!r} differs between models {a!r} and {b!r} on {int(disagree.sum())} items")
    wide = left[[label]].assign(_a=left[score], _b=right[score].to_numpy())
    return wide.reset_index()


def bootstrap_diff(
    df: pd.DataFrame,
    metric_fn: MetricFn,
    a,
    b,
    *,
    model_col: str | None = "model",
    score: str = "probability",
    label: str = "label",
    keys=None,
    cluster: str = "patient",
    n_boot: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
) -> BootstrapDiffResult:
    """metric(a) - metric(b) on the same items, with a paired patient-clustered bootstrap.

    Long table (default): ``a`` and ``b`` are values of ``model_col``; rows are paired on
    ``keys`` (default: every column except ``model_col``, ``score`` and ``label``, e.g.
    patient, hand, site, kind), and both models must cover the same items with the same
    labels. Example: ``bootstrap_diff(long_table, metrics.average_precision, "MIMO local", "SISO")``.
    Wide table: ``model_col=None`` and ``a``, ``b`` name two score columns.

    Each replicate draws patients once and scores both models on them. The two-sided
    p-value is 2 * min(P*(diff <= 0), P*(diff >= 0)) with the +1 correction
    ((count + 1) / (n_valid + 1)), capped at 1, so p < alpha roughly when the
    percentile interval excludes 0; the smallest possible p is 2 / (n_valid + 1).
    """
    _check_boot_args(n_boot, alpha)
    if model_col is None:
        y, va, vb = (_column(df, c, role) for c, role in ((label, "label"), (a, "score"), (b, "score")))
        clusters = _column(df, cluster, "cluster")
    else:
        wide = _paired_rows(df, a, b, model_col, score, label, keys, cluster)
        y, va, vb, clusters = (wide[c].to_numpy() for c in (label, "_a", "_b", cluster))
    return _paired_bootstrap(metric_fn, y, va, vb, clusters, n_boot, seed, alpha)


def _paired_bootstrap(metric_fn, y, va, vb, clusters, n_boot, seed, alpha) -> BootstrapDiffResult:
    order_a = _score_order(va)
    y, va, vb, clusters = y[order_a], va[order_a], vb[order_a], clusters[order_a]
    order_b = _score_order(vb)  # a second copy sorted by b's scores, same rows
    y_b, vb_sorted = y[order_b], vb[order_b]
    position_b = np.empty(len(order_b), dtype=int)
    position_b[order_b] = np.arange(len(order_b))
    n_clusters, resamples = _cluster_resamples(clusters, n_boot, seed)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        estimate_a, estimate_b = float(metric_fn(y, va)), float(metric_fn(y, vb))
        replicates = np.empty(n_boot)
        for r, rows in enumerate(resamples):
            rows_b = np.sort(position_b[rows])
            replicates[r] = metric_fn(y[rows], va[rows]) - metric_fn(y_b[rows_b], vb_sorted[rows_b])
    valid = replicates[np.isfinite(replicates)]
    lower, upper = _percentile_interval(valid, alpha)
    if len(valid):
        tail = min(np.count_nonzero(valid <= 0), np.count_nonzero(valid >= 0))
        p = float(min(1.0, 2 * (tail + 1) / (len(valid) + 1)))
    else:
        p = float("nan")
    return BootstrapDiffResult(
        estimate_a, estimate_b, estimate_a - estimate_b, lower, upper, p, len(valid), n_boot, n_clusters
    )


# --- model vs reader ---------------------------------------------------------------
class ReaderComparison(NamedTuple):
    table: pd.DataFrame  # rows model / reader / difference; sensitivity, specificity, precision, f_measure
    mcnemar: McNemarResult  # correctness of model vs reader on the same joints
    f_diff: BootstrapDiffResult  # F(model) - F(reader), paired patient bootstrap


def compare_to_reader(
    df: pd.DataFrame,
    reader: str,
    *,
    score: str = "probability",
    label: str = "label",
    threshold: float = 0.5,
    cluster: str = "patient",
    n_boot: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
) -> ReaderComparison:
    """A model's decisions (``score >= threshold``) against a reader's 0/1 calls.

    ``df`` has one row per joint with the ``label``, the model's ``score`` and the
    reader's call in column ``reader``; rows without a reader call must be removed
    by the caller (they are refused, not dropped).
    """
    y = _metrics._binary(_column(df, label, "label"), label)
    model_call = _metrics._real(_column(df, score, "score"), score) >= threshold
    reader_call = _metrics._binary(_column(df, reader, "reader"), reader)
    rows = {}
    for name, call in (("model", model_call), ("reader", reader_call)):
        rows[name] = {
            "sensitivity": _metrics.sensitivity(y, call),
            "specificity": _metrics.specificity(y, call),
            "precision": _metrics.precision(y, call),
            "f_measure": _metrics.f_measure(y, call),
        }
    table = pd.DataFrame(rows).T
    table.loc["difference"] = table.loc["model"] - table.loc["reader"]
    test = mcnemar(model_call == y, reader_call == y)
    f_diff = _paired_bootstrap(
        _metrics.f_measure, y, model_call, reader_call, _column(df, cluster, "cluster"), n_boot, seed, alpha
    )
    return ReaderComparison(table, test, f_diff)
