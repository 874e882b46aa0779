"""Stage 4's evaluation through :mod:`ra_lib.evaluation.metrics`: paper 004 Tables 2 and 3, paper 002's
accuracies, confusion matrices, CRPS and calibration of the predictive distributions.

Only rows of the test split with a usable crop and a target enter a metric (never ``imputed`` rows).
The class-normalised accuracy of paper 004 and the balanced accuracy of paper 002 are the same number
by definition (:func:`ra_lib.evaluation.metrics.balanced_accuracy`: mean per-grade recall); both
names are reported so that each paper's criterion can be looked up by its own name.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ra_lib.core.contracts import GRADING
from ra_lib.evaluation import metrics, published
from ra_lib.stages.grading.crps import pit_values
from ra_lib.stages.grading.data import N_CLASSES, GradingData, ratingen_stage
from ra_lib.stages.grading.regression import CdfResult
from ra_lib.stages.grading.settings import MAJORITY, METHOD_LABELS, METHODS

#: Criteria of a grade classifier, in the order of the headline.
GRADING_CRITERIA = ("accuracy", "balanced_accuracy", "class_normalised_accuracy", "class_normalised_accuracy_pm1",
                    "rmse")


def evaluable(predictions: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Rows that enter the metrics: the split's graded rows with a usable crop (not imputed)."""
    return predictions[(predictions["split"] == split) & ~predictions["imputed"].astype(bool)
                       & predictions["grade_true"].notna()]


def grading_metrics(predictions: pd.DataFrame, split: str = "test", by=("kind", "method")) -> pd.DataFrame:
    """Paper 004 Table 2 and paper 002's numbers per group: :data:`GRADING_CRITERIA` (the RMSE of the
    predicted grade in grades) and ``n``."""
    rows = []
    for key, group in evaluable(predictions, split).groupby(list(by), sort=False):
        t, p = group["grade_true"].astype(int), group["grade_pred"].astype(int)
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))),
                     "accuracy": metrics.accuracy(t, p),
                     "balanced_accuracy": metrics.balanced_accuracy(t, p),
                     "class_normalised_accuracy": metrics.class_normalised_accuracy(t, p),
                     "class_normalised_accuracy_pm1": metrics.within_one_accuracy(t, p, class_normalised=True),
                     "rmse": metrics.rmse(t, p),
                     "n": len(group)})
    return pd.DataFrame(rows, columns=[*by, *GRADING_CRITERIA, "n"])


def confusion_matrices(predictions: pd.DataFrame, split: str = "test") -> dict[tuple[str, str], pd.DataFrame]:
    """Row-normalised confusion matrices (paper 004 Fig. 6) per ``(kind, method)``, all grades as labels."""
    result = {}
    for (kind, method), group in evaluable(predictions, split).groupby(["kind", "method"], sort=False):
        result[(kind, method)] = metrics.confusion_matrix(group["grade_true"].astype(int),
                                                          group["grade_pred"].astype(int),
                                                          labels=range(N_CLASSES[kind]), normalise=True)
    return result


def learning_check(table: pd.DataFrame) -> pd.DataFrame:
    """Per kind: the majority-grade baseline's balanced accuracy against the best remedy's.

    ``table`` is :func:`grading_metrics` by ``(kind, method)``; ``learns`` says whether any remedy
    beats the baseline.
    """
    rows = []
    for kind, group in table.groupby("kind", sort=False):
        baseline = group.loc[group["method"] == MAJORITY, "balanced_accuracy"]
        models = group[(group["method"] != MAJORITY) & group["balanced_accuracy"].notna()]
        if baseline.empty or models.empty:
            continue
        best = models.loc[models["balanced_accuracy"].idxmax()]
        rows.append({"kind": kind, "baseline_balanced_accuracy": float(baseline.iloc[0]),
                     "best_method": best["method"], "best_balanced_accuracy": float(best["balanced_accuracy"]),
                     "learns": bool(best["balanced_accuracy"] > baseline.iloc[0])})
    return pd.DataFrame(rows, columns=["kind", "baseline_balanced_accuracy", "best_method", "best_balanced_accuracy",
                                       "learns"])


def learning_summary(check: pd.DataFrame, settings) -> str:
    """Markdown: per kind the best remedy against the majority grade, and whether every kind learnt."""
    lines = [f"- {row.kind}: best balanced accuracy {row.best_balanced_accuracy:.3f} "
             f"({METHOD_LABELS[row.best_method]}) against {row.baseline_balanced_accuracy:.3f} for the "
             f"majority grade" for row in check.itertuples()]
    not_learned = check.loc[~check["learns"].astype(bool), "kind"]
    if check.empty:
        verdict = "No kind has test crops to compare with the majority-grade baseline."
    elif not_learned.empty:
        verdict = "Every kind beats the majority-grade baseline."
    else:
        verdict = (f"No remedy beats the majority-grade baseline for {', '.join(not_learned)}: with this "
                   f"profile's {settings.epochs} epoch(s) on {settings.crop_size}-px crops the network has not "
                   f"learnt to tell the grades apart.")
    return "\n".join(lines) + "\n\n" + verdict


def headline_table(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`grading_metrics` as one row per method (baseline first, then remedies a-c) and one column per
    criterion and kind."""
    wide = table.pivot(index="method", columns="kind",
                       values=["accuracy", "balanced_accuracy", "class_normalised_accuracy_pm1", "rmse"])
    order = [m for m in (MAJORITY, *METHODS) if m in wide.index]
    return wide.reindex(order).rename(index=METHOD_LABELS)


def stage_table(data: GradingData) -> pd.DataFrame:
    """Counts of SvdH erosion grade (rows) against the Ratingen stage of the eroded surface (columns)."""
    rows = data.rows[(data.rows["kind"] == "erosion") & data.rows["eroded_pct"].notna() & data.rows["grade"].notna()]
    return pd.crosstab(rows["grade"].astype(int).rename("SvdH erosion grade"),
                       pd.Series(ratingen_stage(rows["eroded_pct"]), index=rows.index, name="Ratingen stage"))


def evaluable_mask(table: pd.DataFrame, true_column: str, split: str = "test") -> np.ndarray:
    """Rows of a CDF predictions table that enter the metrics (split, not imputed, with a target)."""
    return ((table["split"] == split) & ~table["imputed"].astype(bool) & table[true_column].notna()).to_numpy()


def cdf_metrics(result: CdfResult, split: str = "test") -> pd.DataFrame:
    """Per method: paper 004 Table 3 (MSE and MAE of the predictive mean) and its RMSE, the MAE of the
    median, the discrete CRPS (a point forecast counts as a step), the 80 % interval coverage and the
    share and size of monotonicity repairs."""
    true_column = result.target.true_column
    rows = []
    for method, survival in result.survival.items():
        table = result.predictions[result.predictions["method"] == method]
        mask = evaluable_mask(table, true_column, split)
        sub = table[mask]
        y = sub[true_column].to_numpy()
        inside = ((sub["q10"] <= sub[true_column]) & (sub[true_column] <= sub["q90"])).to_numpy()
        has_interval = sub["q10"].notna().all() and len(sub)
        rows.append({
            "kind": result.target.kind, "method": method, "n": int(mask.sum()),
            "mse": metrics.rmse(y, sub["mean"]) ** 2, "rmse": metrics.rmse(y, sub["mean"]),
            "mae": metrics.mae(y, sub["mean"]), "mae_median": metrics.mae(y, sub["median"]),
            "crps": metrics.crps_grid(survival[mask], y, kind="survival") if len(sub) else float("nan"),
            # coverage = share of targets inside [q10, q90] (agreement of "inside" with True)
            "coverage_80": metrics.accuracy(inside, np.ones_like(inside)) if has_interval else float("nan"),
            "non_monotone_fraction": result.non_monotone.get(method, float("nan")),
            "mean_max_rise": result.max_rise.get(method, float("nan")),
        })
    return pd.DataFrame(rows)


def pit(result: CdfResult, method: str, split: str = "test", seed: int = 0) -> np.ndarray:
    """Randomised PIT values of the evaluable rows of one method (uniform when calibrated)."""
    true_column = result.target.true_column
    table = result.predictions[result.predictions["method"] == method]
    mask = evaluable_mask(table, true_column, split)
    return pit_values(result.survival[method][mask], table.loc[mask, true_column], np.random.default_rng(seed))


def coverage(table: pd.DataFrame, method: str) -> float:
    """The 80 % interval coverage of one method in a :func:`cdf_metrics` table."""
    return float(table.set_index("method").loc[method, "coverage_80"])


def published_comparison(headline: dict) -> pd.DataFrame:
    """The papers' stage-4 numbers (:mod:`ra_lib.evaluation.published`) beside this run's value of the same
    headline name (``book``; measured on this cohort, not the papers' patients)."""
    table = published.headline()
    table = table[table["stage"] == GRADING].reset_index(drop=True)
    return table.assign(book=table["book_name"].map(headline))[
        ["citation", "source", "quantity", "value", "book", "book_name", "note"]]
