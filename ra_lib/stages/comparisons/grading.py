"""Paper 004 Table 2 with confidence intervals and McNemar tests, from stage 4's grade predictions."""
from __future__ import annotations

from itertools import combinations

import pandas as pd

from ra_lib.core.contracts import GRADING
from ra_lib.evaluation import bootstrap, metrics, stats
from ra_lib.stages.comparisons.tables import format_ci, holm_within, recomputed

GRADING_METRICS: dict[str, stats.MetricFn] = {
    "accuracy": metrics.accuracy,
    "class_normalised_accuracy": metrics.class_normalised_accuracy,
    "class_normalised_accuracy_pm1": lambda t, p: metrics.within_one_accuracy(t, p, class_normalised=True),
}


def evaluable_grades(predictions: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Rows that enter stage 4's metrics: the split's graded rows with a usable crop (not ``imputed``)."""
    keep = (predictions["split"] == split) & predictions["grade_true"].notna()
    if "imputed" in predictions.columns:
        keep &= ~predictions["imputed"].astype(bool)
    rows = predictions[keep]
    return rows.assign(grade_true=rows["grade_true"].astype(int), grade_pred=rows["grade_pred"].astype(int))


def grading_ci(predictions: pd.DataFrame, split: str = "test", n_boot: int = 2000, seed: int = 0,
               alpha: float = 0.05) -> pd.DataFrame:
    """Paper 004 Table 2 per kind and method with patient bootstrap CIs: accuracy, class-normalised
    accuracy (= balanced accuracy, paper 002) and class-normalised accuracy within +-1 grade."""
    rows = []
    evaluable = evaluable_grades(predictions, split)
    for (kind, method), part in evaluable.groupby(["kind", "method"], sort=False):
        for metric, fn in GRADING_METRICS.items():
            ci = bootstrap.bootstrap_ci(part, fn, model=method, model_col="method", score="grade_pred", label="grade_true",
                                    n_boot=n_boot, seed=seed, alpha=alpha)
            rows.append({"kind": kind, "method": method, "metric": metric, "estimate": ci.estimate, "lower": ci.lower,
                         "upper": ci.upper, "n": len(part), "n_patients": part["patient"].nunique(),
                         "n_valid": ci.n_valid})
    return pd.DataFrame(rows)


def grading_wide(long: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Table 2 layout: rows (kind, metric), one column per method, cells ``"estimate [lower, upper]"``."""
    cells = long.assign(cell=[format_ci(e, lo, hi, digits) for e, lo, hi in
                              zip(long["estimate"], long["lower"], long["upper"])])
    wide = cells.pivot_table(index=["kind", "metric"], columns="method", values="cell", aggfunc="first", sort=False)
    return wide[list(dict.fromkeys(long["method"]))]


def grading_mcnemar(predictions: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """McNemar's test on exact-grade correctness for every pair of methods, per kind (same joints),
    Holm-adjusted within each kind. ``b``: ``method_a`` right and ``method_b`` wrong; ``c``: the reverse."""
    evaluable = evaluable_grades(predictions, split)
    keys = ["hand_id", "site"]
    rows = []
    for kind, part in evaluable.groupby("kind", sort=False):
        for a, b in combinations(list(dict.fromkeys(part["method"])), 2):
            both = part.loc[part["method"] == a, keys + ["grade_true", "grade_pred"]].merge(
                part.loc[part["method"] == b, keys + ["grade_pred"]], on=keys, suffixes=("_a", "_b"))
            true = both["grade_true"].to_numpy()
            pred_a, pred_b = both["grade_pred_a"].to_numpy(), both["grade_pred_b"].to_numpy()
            test = stats.mcnemar(pred_a == true, pred_b == true)
            rows.append({"kind": kind, "method_a": a, "method_b": b, "n": test.n,
                         "accuracy_a": metrics.accuracy(true, pred_a), "accuracy_b": metrics.accuracy(true, pred_b),
                         "b": test.b, "c": test.c, "statistic": test.statistic, "test": test.method, "p": test.p})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["p_holm"] = holm_within(table, "p", ["kind"])
    return table


#: Stage 4's headline metric names of :data:`GRADING_METRICS`; class-normalised accuracy is also
#: reported as paper 002's balanced accuracy (the same number).
HEADLINE_METRICS = {"accuracy": ("accuracy",), "class_normalised_accuracy": ("class_normalised_accuracy",
                                                                           "balanced_accuracy"),
                    "class_normalised_accuracy_pm1": ("class_normalised_accuracy_pm1",)}


def grading_recomputed(long: pd.DataFrame) -> pd.DataFrame:
    """:func:`grading_ci` under stage 4's headline names ``<metric>/<method>/<kind>``."""
    rows = [(f"{name}/{r.method}/{r.kind}", r.estimate, r.lower, r.upper,
             f"{GRADING} grade_predictions.csv, {r.kind}, {r.method}, n = {r.n}")
            for r in long.itertuples() for name in HEADLINE_METRICS[r.metric]]
    return recomputed(GRADING, rows)
