"""Stage 6: statistics across stages, assembled from the stages' artifacts alone.

Every number comes from :mod:`ra_lib.evaluation.metrics` and :mod:`ra_lib.evaluation.stats`; this module only selects
rows, pairs them and lays out tables. Confidence intervals are patient-clustered percentile
bootstraps (:func:`ra_lib.evaluation.stats.bootstrap_ci`): joints and hands of one patient are not independent.

* Paper 001 Table 4 with 95 % CIs (:func:`table4_ci`), differences against SISO
  (:func:`ra_lib.evaluation.stats.bootstrap_diff`, Holm-adjusted per row of the table), the readers in the same
  table (:func:`ra_lib.evaluation.readers.reader_rows`) and model-vs-reader tests (:func:`reader_comparisons`).
* Paper 003's agreement criteria and t-tests (:func:`score_agreement`, :func:`error_comparisons`).
* Paper 004 Table 2 with CIs and McNemar tests between methods (:func:`grading_ci`, :func:`grading_mcnemar`).
* The book's headline numbers beside the papers' (:func:`headline_table`).

Reading an artifact of a stage that has not run raises :class:`ra_lib.core.artifacts.MissingArtifactError`
naming the stage; a table lacking a contract column raises :class:`ra_lib.core.errors.RaDataError` naming
the file and the column.
"""
from __future__ import annotations

from itertools import combinations
from typing import Callable, Iterable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ra_lib.core import artifacts as store
from ra_lib.evaluation import metrics, stats
from ra_lib.core.errors import RaDataError
from ra_lib.evaluation.published import TABLE4_COLUMNS, TABLE4_METRICS, TABLE4_REGIONS
from ra_lib.cohort.sites import FINGER_GROUPS, GROUPS, KINDS
from ra_lib.evaluation.readers import JOINT_KEYS, OOF_COLUMNS, READER_PREFIX, reader_rows

STAGE = "06_comparisons"
SELECTION, DETECTION = "01_image_selection", "02_joint_detection"
CLASSIFICATION, GRADING, OVERALL = "03_joint_classification", "04_joint_grading", "05_overall_score"

PROFILES = {"smoke": {"n_boot": 50}, "quick": {"n_boot": 500}, "paper": {"n_boot": 2000}}

#: Artifact column contracts (docs/ARTIFACTS.md) this module relies on.
GRADE_COLUMNS = ("hand_id", "patient", "kind", "site", "split", "method", "grade_true", "grade_pred")
SCORE_COLUMNS = ("patient", "variant", "score_true", "score_pred", "split")

#: Stage 3's model codes in paper 001's column order; the reference of the significance marks.
MODEL_ORDER = ("siso", "mimo_local", "mimo_one_hand", "mimo_both_hands")
REFERENCE = "siso"
READER_MEAN = "mean of readers"
#: Stage 5's paper model when its metrics.json does not name one.
DEFAULT_MAIN_VARIANT = "IRB"
#: Stage 1's three-class model (two binary models fused), paper 000's software.
SELECTION_MODEL = "two_binary_fused"

MetricFn = Callable[[np.ndarray, np.ndarray], float]
METRIC_LABELS = {"sensitivity": "sensitivity", "specificity": "specificity", "f_measure": "F-measure",
                 "pr_auc": "PR-AUC (AP)"}


# --- reading artifacts --------------------------------------------------------------------------
def read_stage_table(stage: str, name: str, columns: Iterable[str], root=store.DEFAULT_ROOT) -> pd.DataFrame:
    """An upstream table with its contract columns checked (missing ones named with the file)."""
    table = store.read_table(stage, name, root)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise RaDataError(f"{root}/{stage}/{name}: missing column(s) {missing}; it has {list(table.columns)}")
    return table


def _no_missing(table: pd.DataFrame, columns: Iterable[str], where: str) -> None:
    for column in columns:
        absent = table[column].isna().to_numpy()
        if absent.any():
            row = int(np.flatnonzero(absent)[0]) + 2  # CSV line: header is line 1
            raise RaDataError(f"{where}: column {column!r} has {int(absent.sum())} empty value(s), first on line {row}")


def load_oof(root=store.DEFAULT_ROOT) -> pd.DataFrame:
    """Stage 3's out-of-fold predictions (``oof_predictions.csv``)."""
    table = read_stage_table(CLASSIFICATION, "oof_predictions.csv", OOF_COLUMNS, root)
    _no_missing(table, ("patient", "kind", "group", "model", "probability", "label"),
                f"{root}/{CLASSIFICATION}/oof_predictions.csv")
    return table


def load_grade_predictions(root=store.DEFAULT_ROOT) -> pd.DataFrame:
    """Stage 4's per-joint grade predictions (``grade_predictions.csv``)."""
    table = read_stage_table(GRADING, "grade_predictions.csv", GRADE_COLUMNS, root)
    _no_missing(table, ("patient", "kind", "split", "method", "grade_pred"), f"{root}/{GRADING}/grade_predictions.csv")
    return table


def load_score_predictions(root=store.DEFAULT_ROOT) -> pd.DataFrame:
    """Stage 5's overall-score predictions (``predictions.csv``, keyed by ``hand_id`` or ``image_id``)."""
    table = read_stage_table(OVERALL, "predictions.csv", SCORE_COLUMNS, root)
    where = f"{root}/{OVERALL}/predictions.csv"
    id_column(table, where)
    _no_missing(table, SCORE_COLUMNS, where)
    return table


def load_metrics(stage: str, root=store.DEFAULT_ROOT) -> dict:
    """A stage's ``metrics.json``."""
    return store.read_json(stage, "metrics.json", root)


def id_column(predictions: pd.DataFrame, where: str = "stage 5 predictions") -> str:
    """``hand_id`` or ``image_id``: the unit of stage 5's predictions."""
    for column in ("hand_id", "image_id"):
        if column in predictions.columns:
            return column
    raise RaDataError(f"{where}: needs a hand_id or image_id column; it has {list(predictions.columns)}")


def missing_note(stage: str, error: Exception) -> str:
    """Markdown note for a part of the page whose upstream ``stage`` has not been run."""
    return f"**Stage `{stage}` has not been run**: {error}. This part of the page is skipped."


def records(table: pd.DataFrame) -> list[dict]:
    """Rows as dicts with missing values as ``None`` (strict JSON for ``metrics.json``)."""
    return table.astype(object).where(table.notna(), None).to_dict("records")


# --- paper 001 Table 4 ----------------------------------------------------------------------------
def region_groups(kind: str, region: str) -> tuple[str, ...]:
    """Joint groups of a Table-4 region: ``finger`` (PIP-IP+MCP+CMC-M / PIP+MCP+CMC), ``wrist``, ``all``."""
    if region not in TABLE4_REGIONS:
        raise ValueError(f"unknown region {region!r}; expected one of {TABLE4_REGIONS}")
    return {"finger": FINGER_GROUPS[kind], "wrist": ("wrist",), "all": GROUPS[kind]}[region]


def decision_metrics(threshold: float = 0.5) -> dict[str, MetricFn]:
    """Table 4's metrics as ``fn(labels, scores)``: decisions are ``score >= threshold``; PR-AUC is AP."""
    return {
        "sensitivity": lambda y, s: metrics.sensitivity(y, s >= threshold),
        "specificity": lambda y, s: metrics.specificity(y, s >= threshold),
        "f_measure": lambda y, s: metrics.f_measure(y, s >= threshold),
        "pr_auc": metrics.average_precision,
    }


def ordered_models(names: Iterable[str]) -> list[str]:
    """Stage 3's models in paper order, other models, then readers (sorted)."""
    names = list(dict.fromkeys(names))
    models = [m for m in MODEL_ORDER if m in names]
    others = [m for m in names if m not in MODEL_ORDER and not m.startswith(READER_PREFIX) and m != READER_MEAN]
    readers = sorted(m for m in names if m.startswith(READER_PREFIX))
    return models + others + readers + ([READER_MEAN] if READER_MEAN in names else [])


def model_label(name: str) -> str:
    """Display name: paper 001's label for stage 3's models, the name itself otherwise."""
    return TABLE4_COLUMNS.get(name, name)


def paired_scores(predictions: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Joints scored by both ``a`` and ``b``: ``patient, label, score_a, score_b`` (one row per joint)."""
    left = predictions.loc[predictions["model"] == a, JOINT_KEYS + ["patient", "label", "probability"]]
    right = predictions.loc[predictions["model"] == b, JOINT_KEYS + ["label", "probability"]]
    for name, side in ((a, left), (b, right)):
        repeated = side.duplicated(JOINT_KEYS)
        if repeated.any():
            row = side[repeated].iloc[0]
            raise RaDataError(f"{name!r} scores joint {row.hand_id} {row.kind}/{row.site} more than once")
    both = left.merge(right, on=JOINT_KEYS, suffixes=("_a", "_b"))
    disagree = both["label_a"] != both["label_b"]
    if disagree.any():
        row = both[disagree].iloc[0]
        raise RaDataError(f"label of joint {row.hand_id} {row.kind}/{row.site} differs between {a!r} and {b!r}")
    return both.rename(columns={"label_a": "label", "probability_a": "score_a", "probability_b": "score_b"})[
        ["patient", "label", "score_a", "score_b"]]


def _holm(table: pd.DataFrame, column: str, by: list[str]) -> pd.Series:
    """Holm-adjusted ``column`` within each group of ``by``."""
    if table.empty:
        return pd.Series(dtype=float)
    return table.groupby(by, sort=False)[column].transform(stats.adjust_pvalues, "holm")


def table4_ci(predictions: pd.DataFrame, *, reference: str = REFERENCE, threshold: float = 0.5,
              n_boot: int = 2000, seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """Paper 001 Table 4 in long form, every estimate with a patient-clustered bootstrap CI.

    ``predictions``: OOF rows, optionally with :func:`reader_rows` appended. One row per kind, region,
    model and metric with ``estimate, lower, upper, n, n_pos, n_patients, n_valid``; models other than
    ``reference`` also get the paired difference to it (``diff, diff_lower, diff_upper, p``, joints
    scored by both), ``p_holm`` (Holm within each kind, region and metric) and ``significant``
    (``p_holm < alpha``). A region without positives gives nan sensitivity and PR-AUC, not an error.
    A ``mean of readers`` row per block averages the readers' estimates (the paper's "average of
    surgeons"; no interval).
    """
    fns = decision_metrics(threshold)
    blocks = [(k, r) for k in KINDS if k in set(predictions["kind"]) for r in TABLE4_REGIONS]
    rows = []
    for kind, region in blocks:
        part = predictions[(predictions["kind"] == kind) & predictions["group"].isin(region_groups(kind, region))]
        models = ordered_models(part["model"])
        for model in models:
            scored = part[part["model"] == model]
            counts = {"n": len(scored), "n_pos": int(scored["label"].sum()), "n_patients": scored["patient"].nunique()}
            paired = paired_scores(part, model, reference) if model != reference and reference in models else None
            for metric, fn in fns.items():
                ci = stats.bootstrap_ci(scored, fn, model=model, n_boot=n_boot, seed=seed, alpha=alpha)
                row = {"kind": kind, "region": region, "model": model, "metric": metric, "estimate": ci.estimate,
                       "lower": ci.lower, "upper": ci.upper, **counts, "n_valid": ci.n_valid}
                if paired is not None and len(paired):
                    d = stats.bootstrap_diff(paired, fn, "score_a", "score_b", model_col=None, n_boot=n_boot,
                                             seed=seed, alpha=alpha)
                    row.update(n_paired=len(paired), diff=d.diff, diff_lower=d.lower, diff_upper=d.upper, p=d.p)
                rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    for column in ("n_paired", "diff", "diff_lower", "diff_upper", "p"):
        if column not in table.columns:
            table[column] = np.nan
    table = pd.concat([table, _reader_mean_rows(table)], ignore_index=True)
    table["p_holm"] = _holm(table, "p", ["kind", "region", "metric"])
    table["significant"] = table["p_holm"] < alpha
    table["model_label"] = table["model"].map(model_label)
    return table


def _reader_mean_rows(table: pd.DataFrame) -> pd.DataFrame:
    readers = table[table["model"].str.startswith(READER_PREFIX)]
    if readers.empty:
        return pd.DataFrame()
    mean = readers.groupby(["kind", "region", "metric"], sort=False).agg(
        estimate=("estimate", "mean"), n=("n", "max"), n_pos=("n_pos", "max"), n_patients=("n_patients", "max"))
    return mean.reset_index().assign(model=READER_MEAN)


def format_ci(estimate: float, lower: float, upper: float, digits: int = 2) -> str:
    """``"0.65 [0.55, 0.72]"``; the bare estimate without an interval, ``"-"`` when undefined.

    The interval's inner space is non-breaking, so a narrow table cell breaks only before the interval.
    """
    if pd.isna(estimate):
        return "-"
    if pd.isna(lower) or pd.isna(upper):
        return f"{estimate:.{digits}f}"
    return f"{estimate:.{digits}f} [{lower:.{digits}f},\u00a0{upper:.{digits}f}]"


def _table4_layout(cells: pd.DataFrame, columns: list) -> pd.DataFrame:
    """Cells (kind, region, model, column key, cell) as rows (kind, region, model label) x ``columns``."""
    wide = cells.pivot_table(index=["kind", "region", "model"], columns="column", values="cell", aggfunc="first")
    models = ordered_models(cells["model"])
    rows = [(k, r, m) for k in KINDS for r in TABLE4_REGIONS for m in models if (k, r, m) in wide.index]
    wide = wide.reindex(index=pd.MultiIndex.from_tuples(rows), columns=columns).rename_axis(columns="metric")
    wide.index = pd.MultiIndex.from_tuples([(k, r, model_label(m)) for k, r, m in rows],
                                           names=["kind", "region", "model"])
    return wide


def table4_wide(long: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Table 4 as a page table: rows (kind, region, model / reader), one column per metric, cells
    ``"estimate [lower, upper]"`` with ``*`` where the Holm-adjusted difference to SISO is significant."""
    cells = long.assign(column=long["metric"].map(METRIC_LABELS),
                        cell=[format_ci(e, lo, hi, digits) + ("*" if sig else "") for e, lo, hi, sig in
                              zip(long["estimate"], long["lower"], long["upper"], long["significant"])])
    columns = [METRIC_LABELS[m] for m in TABLE4_METRICS if m in set(long["metric"])]
    return _table4_layout(cells, columns)


def table4_vs_published(long: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Book estimate and CI beside paper 001's value per model (and the readers' mean beside the
    surgeons' mean): rows (kind, region, model), columns (metric, ``book`` / ``paper``)."""
    paper = published.assign(model=published["column"].replace({"surgeon mean": READER_MEAN}))
    keys = ["kind", "region", "metric", "model"]
    merged = long.merge(paper[keys + ["value"]], on=keys, how="inner")
    book = merged[keys].assign(side="book", cell=[format_ci(e, lo, hi) for e, lo, hi in
                                                  zip(merged["estimate"], merged["lower"], merged["upper"])])
    their = merged[keys].assign(side="paper", cell=[f"{v:.2f}" for v in merged["value"]])
    cells = pd.concat([book, their], ignore_index=True)
    cells["column"] = list(zip(cells["metric"].map(METRIC_LABELS), cells["side"]))
    metrics_present = [m for m in TABLE4_METRICS if m in set(merged["metric"])]
    columns = [(METRIC_LABELS[m], side) for m in metrics_present for side in ("book", "paper")]
    wide = _table4_layout(cells, columns)
    wide.columns = pd.MultiIndex.from_tuples(columns, names=["metric", ""])
    return wide


def pr_auc_definitions(predictions: pd.DataFrame, models: Iterable[str] | None = None) -> pd.DataFrame:
    """Average precision (the book's PR-AUC) and the trapezoidal area side by side per kind, region, model.

    ``models`` defaults to SISO and every reader (binary calls, where the two differ most).
    """
    present = set(predictions["model"])
    chosen = list(models) if models is not None else [m for m in ordered_models(present)
                                                       if m == REFERENCE or m.startswith(READER_PREFIX)]
    rows = []
    for kind in [k for k in KINDS if k in set(predictions["kind"])]:
        for region in TABLE4_REGIONS:
            part = predictions[(predictions["kind"] == kind) & predictions["group"].isin(region_groups(kind, region))]
            for model in [m for m in chosen if m in set(part["model"])]:
                scored = part[part["model"] == model]
                y, s = scored["label"].to_numpy(), scored["probability"].to_numpy()
                ap, trapezoid = metrics.pr_auc(y, s, "ap"), metrics.pr_auc(y, s, "trapezoid")
                rows.append({"kind": kind, "region": region, "model": model_label(model), "average_precision": ap,
                             "trapezoid": trapezoid, "trapezoid_minus_ap": trapezoid - ap,
                             "distinct_scores": len(np.unique(s))})
    return pd.DataFrame(rows)


def reader_comparisons(predictions: pd.DataFrame, *, models: Iterable[str] | None = None,
                       regions: Iterable[str] = TABLE4_REGIONS, threshold: float = 0.5, n_boot: int = 2000,
                       seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """Each model against each reader on the joints both scored (:func:`ra_lib.evaluation.stats.compare_to_reader`).

    One row per kind, region, model and reader: F-measures and their paired bootstrap difference
    (``f_diff``, CI, ``p_f``), sensitivity and specificity of both, and McNemar's test of
    correctness (``b``: model right and reader wrong, ``c``: the reverse). p-values are
    Holm-adjusted within each kind and region.
    """
    present = ordered_models(predictions["model"])
    readers = [m for m in present if m.startswith(READER_PREFIX)]
    models = [m for m in present if not m.startswith(READER_PREFIX)] if models is None else list(models)
    plans = [(k, r, m, rd) for k in KINDS if k in set(predictions["kind"]) for r in regions for m in models
             for rd in readers]
    rows = []
    for kind, region, model, reader in plans:
        part = predictions[(predictions["kind"] == kind) & predictions["group"].isin(region_groups(kind, region))]
        paired = paired_scores(part, model, reader).rename(columns={"score_a": "probability", "score_b": "call"})
        if paired.empty:
            continue
        result = stats.compare_to_reader(paired, "call", threshold=threshold, n_boot=n_boot, seed=seed, alpha=alpha)
        t = result.table
        rows.append({"kind": kind, "region": region, "model": model_label(model), "reader": reader[len(READER_PREFIX):],
                     "n": len(paired), "f_model": t.loc["model", "f_measure"], "f_reader": t.loc["reader", "f_measure"],
                     "f_diff": result.f_diff.diff, "f_diff_lower": result.f_diff.lower,
                     "f_diff_upper": result.f_diff.upper, "p_f": result.f_diff.p,
                     "sens_model": t.loc["model", "sensitivity"], "sens_reader": t.loc["reader", "sensitivity"],
                     "spec_model": t.loc["model", "specificity"], "spec_reader": t.loc["reader", "specificity"],
                     "b": result.mcnemar.b, "c": result.mcnemar.c, "p_mcnemar": result.mcnemar.p})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["p_f_holm"] = _holm(table, "p_f", ["kind", "region"])
    table["p_mcnemar_holm"] = _holm(table, "p_mcnemar", ["kind", "region"])
    return table


def plot_table4_forest(long: pd.DataFrame, published: pd.DataFrame | None = None):
    """Forest plot of :func:`table4_ci`: one panel per kind and metric, one line per region and model,
    estimate with its CI; paper 001's values as grey crosses when ``published`` is given."""
    kinds = [k for k in KINDS if k in set(long["kind"])]
    models = [m for m in ordered_models(long["model"]) if m != READER_MEAN]
    regions = [r for r in TABLE4_REGIONS if r in set(long["region"])]
    palette = plt.get_cmap("tab10").colors
    colours = {m: palette[i % len(palette)] for i, m in enumerate(models)}
    height = 1.0 + 0.15 * (len(models) + 1) * len(regions) * len(kinds)
    fig, axes = plt.subplots(len(kinds), len(TABLE4_METRICS), figsize=(10, height), squeeze=False, sharex=True,
                             sharey=True)
    positions = {(r, m): -(i * (len(models) + 1) + j) for i, r in enumerate(regions) for j, m in enumerate(models)}
    paper = {} if published is None else {(p.kind, p.region, p.metric, p.column): p.value
                                          for p in published.itertuples()}
    for row_axes, kind in zip(axes, kinds):
        for ax, metric in zip(row_axes, TABLE4_METRICS):
            part = long[(long["kind"] == kind) & (long["metric"] == metric)]
            for rec in part.itertuples():
                if (rec.region, rec.model) not in positions:
                    continue
                y = positions[(rec.region, rec.model)]
                marker = "s" if rec.model.startswith(READER_PREFIX) else "o"
                if not (pd.isna(rec.lower) or pd.isna(rec.upper)):
                    ax.plot([rec.lower, rec.upper], [y, y], color=colours[rec.model], lw=1.5)
                ax.plot(rec.estimate, y, marker, color=colours[rec.model], ms=4)
                if (kind, rec.region, metric, rec.model) in paper:
                    ax.plot(paper[(kind, rec.region, metric, rec.model)], y, "x", color="0.45", ms=4)
            ax.set_title(f"{kind.replace('jsn', 'JSN')}: {METRIC_LABELS[metric]}", fontsize=10)
            ax.set_xlim(-0.02, 1.02)
            ax.grid(axis="x", alpha=0.3)
    ticks = list(positions.values())
    labels = [f"{r}: {model_label(m)}" for r, m in positions]
    for ax in axes[:, 0]:
        ax.set_yticks(ticks, labels, fontsize=8)
    fig.tight_layout()
    return fig


# --- paper 003: overall score ---------------------------------------------------------------------
def score_agreement(predictions: pd.DataFrame, split: str = "test", n_boot: int = 2000, seed: int = 0,
                    alpha: float = 0.05) -> pd.DataFrame:
    """Paper 003's criteria per variant on one split: MAE and RMSE (patient bootstrap CIs), Pearson r,
    and the two-sided paired t-test of predicted against true score (mean difference with its CI)."""
    rows = []
    chosen = predictions[predictions["split"] == split]
    for variant, part in chosen.groupby("variant", sort=False):
        true, pred = part["score_true"].to_numpy(float), part["score_pred"].to_numpy(float)
        boot = {name: stats.bootstrap_ci(part, fn, model=variant, model_col="variant", score="score_pred",
                                         label="score_true", n_boot=n_boot, seed=seed, alpha=alpha)
                for name, fn in (("mae", metrics.mae), ("rmse", metrics.rmse))}
        pearson = metrics.pearson_r(true, pred)
        test = stats.paired_t_test(pred, true)
        rows.append({"variant": variant, "n": len(part), "n_patients": part["patient"].nunique(),
                     "mae": boot["mae"].estimate, "mae_lower": boot["mae"].lower, "mae_upper": boot["mae"].upper,
                     "rmse": boot["rmse"].estimate, "rmse_lower": boot["rmse"].lower, "rmse_upper": boot["rmse"].upper,
                     "pearson_r": pearson.r, "pearson_p": pearson.p, "mean_diff": test.mean_diff,
                     "mean_diff_lower": test.lower, "mean_diff_upper": test.upper, "t": test.statistic,
                     "p_t_test": test.p})
    return pd.DataFrame(rows)


def error_comparisons(predictions: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Every pair of variants compared on the absolute errors of the units both predicted.

    ``mean_abs_diff`` is mean(|err_a|) - mean(|err_b|) (negative: ``a`` closer to the truth); paired
    t-test and Wilcoxon signed-rank test, each Holm-adjusted over all pairs.
    """
    unit = id_column(predictions)
    chosen = predictions[predictions["split"] == split]
    variants = list(dict.fromkeys(chosen["variant"]))
    rows = []
    for a, b in combinations(variants, 2):
        both = chosen.loc[chosen["variant"] == a, [unit, "score_true", "score_pred"]].merge(
            chosen.loc[chosen["variant"] == b, [unit, "score_pred"]], on=unit, suffixes=("_a", "_b"))
        true = both["score_true"].to_numpy(float)
        ea = np.abs(both["score_pred_a"].to_numpy(float) - true)
        eb = np.abs(both["score_pred_b"].to_numpy(float) - true)
        t = stats.paired_t_test(ea, eb)
        w = stats.wilcoxon_signed_rank(ea, eb)
        rows.append({"variant_a": a, "variant_b": b, "n": len(both), "mae_a": metrics.mae(true, both["score_pred_a"]),
                     "mae_b": metrics.mae(true, both["score_pred_b"]), "mean_abs_diff": t.mean_diff,
                     "diff_lower": t.lower, "diff_upper": t.upper, "t": t.statistic, "p_t_test": t.p,
                     "wilcoxon": w.statistic, "p_wilcoxon": w.p})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["p_t_test_holm"] = stats.adjust_pvalues(table["p_t_test"], "holm")
    table["p_wilcoxon_holm"] = stats.adjust_pvalues(table["p_wilcoxon"], "holm")
    return table


# --- paper 004: joint grading ---------------------------------------------------------------------
GRADING_METRICS: dict[str, MetricFn] = {
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
            ci = stats.bootstrap_ci(part, fn, model=method, model_col="method", score="grade_pred", label="grade_true",
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
    table["p_holm"] = _holm(table, "p", ["kind"])
    return table


# --- headline: the book beside the papers ---------------------------------------------------------
def _value(id_: str, value, source: str, lower=np.nan, upper=np.nan) -> dict:
    return {"id": id_, "book": float(value) if value is not None else np.nan, "book_lower": lower,
            "book_upper": upper, "book_source": source}


def numeric_leaves(obj, prefix: str = "") -> dict[str, float]:
    """Every number of a nested JSON object by its ``/``-joined key path (lists indexed by position)."""
    if isinstance(obj, bool):
        return {}
    if isinstance(obj, (int, float)):
        return {prefix: float(obj)}
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    out = {}
    for key, value in items:
        out.update(numeric_leaves(value, f"{prefix}/{key}" if prefix else str(key)))
    return out


def leaves_table(obj) -> pd.DataFrame:
    """:func:`numeric_leaves` as a table (``key``, ``value``), to show what a ``metrics.json`` holds."""
    leaves = numeric_leaves(obj)
    return pd.DataFrame({"key": list(leaves), "value": list(leaves.values())})


def find_number(leaves: dict[str, float], required: Iterable, excluded: Iterable[str] = (),
                preferred: Iterable[str] = ()) -> tuple[str, float] | None:
    """The shortest key path holding every ``required`` token (a string, or a tuple of alternatives;
    case-insensitive) and no ``excluded`` one; paths with more ``preferred`` tokens win. ``None`` when
    nothing matches."""
    required = [(t,) if isinstance(t, str) else tuple(t) for t in required]
    excluded, preferred = [t.lower() for t in excluded], [t.lower() for t in preferred]

    def holds(path: str) -> bool:
        path = path.lower()
        return all(any(t.lower() in path for t in alternatives) for alternatives in required) \
            and not any(t in path for t in excluded)

    hits = [p for p in leaves if holds(p)]
    if not hits:
        return None
    best = min(hits, key=lambda p: (-sum(t in p.lower() for t in preferred), len(p), p))
    return best, leaves[best]


def selection_values(stage1: dict) -> list[dict]:
    """Stage 1's headline numbers (paper 000) from its ``metrics.json``."""
    models = stage1.get("models") or {}
    name = SELECTION_MODEL if SELECTION_MODEL in models else next(iter(models), None)
    if name is None:
        return []
    model = models[name]
    pairs = (("000.model1_accuracy", "model1_accuracy"), ("000.model2_accuracy", "model2_accuracy"),
             ("000.three_class_accuracy", "accuracy"))
    n = stage1.get("n", "?")
    return [_value(id_, model[key], f"01 metrics.json models/{name}/{key} (n = {n})") for id_, key in pairs
            if isinstance(model.get(key), (int, float))]


#: Stage 2 lookups: (published id, key path stage 2 writes, then a token search as a fallback:
#: required, excluded and preferred tokens, see :func:`find_number`).
_NOT_DLC = ("frcnn", "baseline", "mean_position")
_DETECTION_LOOKUPS = (
    ("001.detection_rate.erosion", "detection_rate/dlc/erosion",
     ("rate", "erosion"), ("intact", "error", *_NOT_DLC), ("dlc", "all", "total")),
    ("001.detection_rate.jsn", "detection_rate/dlc/jsn",
     ("rate", "jsn"), ("intact", "error", *_NOT_DLC), ("dlc", "all", "total")),
    ("001.distance_error.erosion", "mean_error_paper_px/dlc/erosion",
     ("error", "erosion"), ("sd", "rel", "intact", *_NOT_DLC), ("dlc", "mean", "paper", "all")),
    ("001.distance_error.jsn", "mean_error_paper_px/dlc/jsn",
     ("error", "jsn"), ("sd", "rel", "intact", *_NOT_DLC), ("dlc", "mean", "paper", "all")),
    ("002.box_map50", "frcnn_map_iou50",
     (("map", "ap50", "ap_50", "ap@", "average_precision"),), ("baseline", "dlc", "heat"), ("frcnn", "50")),
)


def detection_values(stage2: dict) -> list[dict]:
    """Stage 2's headline numbers from its ``metrics.json``: the keys it writes, else found by key
    tokens (the key used is shown either way)."""
    leaves = numeric_leaves(stage2)
    out = []
    for id_, path, required, excluded, preferred in _DETECTION_LOOKUPS:
        found = (path, leaves[path]) if path in leaves else find_number(leaves, required, excluded, preferred)
        if found is not None:
            out.append(_value(id_, found[1], f"02 metrics.json {found[0]}"))
    return out


def classification_values(table4: pd.DataFrame) -> list[dict]:
    """All-joint F-measure and PR-AUC (AP) per model and the readers' mean, from :func:`table4_ci`."""
    part = table4[(table4["region"] == "all") & table4["metric"].isin(["f_measure", "pr_auc"])]
    out = []
    for rec in part.itertuples():
        model = "surgeon_mean" if rec.model == READER_MEAN else rec.model
        out.append(_value(f"001.table4.{rec.kind}.all.{rec.metric}.{model}", rec.estimate,
                          f"03 oof_predictions.csv, {rec.n} joints, {rec.n_patients} patients", rec.lower, rec.upper))
    return out


def grading_values(grading: pd.DataFrame, stage4: dict | None = None) -> list[dict]:
    """Paper 004 Table 2 (erosion) and paper 002's accuracies from :func:`grading_ci`; paper 004 Table 3
    from stage 4's ``metrics.json`` (``regression_test`` records of method ``cdf``) when present."""
    out = []
    for rec in grading.itertuples():
        source = f"04 grade_predictions.csv, {rec.kind}, {rec.method}, n = {rec.n}"
        if rec.kind == "erosion":
            out.append(_value(f"004.table2.{rec.metric}.{rec.method}", rec.estimate, source, rec.lower, rec.upper))
        if rec.method == "oversample_aug" and rec.metric in ("accuracy", "class_normalised_accuracy"):
            suffix = "accuracy" if rec.metric == "accuracy" else "balanced_accuracy"
            out.append(_value(f"002.{rec.kind}_{suffix}", rec.estimate, source, rec.lower, rec.upper))
    records = (stage4 or {}).get("regression_test") or []
    for record in records if isinstance(records, list) else []:
        if isinstance(record, dict) and record.get("method") == "cdf":
            for key in ("mse", "mae"):
                if isinstance(record.get(key), (int, float)):
                    out.append(_value(f"004.table3.{key}.cdf", record[key],
                                      f"04 metrics.json regression_test[cdf].{key} (n = {record.get('n', '?')})"))
    return out


def overall_values(agreement: pd.DataFrame, main_variant: str = DEFAULT_MAIN_VARIANT) -> list[dict]:
    """Paper 003's MAE, RMSE and t-test p of the main variant from :func:`score_agreement`."""
    part = agreement[agreement["variant"] == main_variant]
    if part.empty:
        return []
    rec = part.iloc[0]
    source = f"05 predictions.csv, {main_variant}, test, n = {rec['n']}"
    return [_value("003.mae", rec["mae"], source, rec["mae_lower"], rec["mae_upper"]),
            _value("003.rmse", rec["rmse"], source, rec["rmse_lower"], rec["rmse_upper"]),
            _value("003.t_test_p", rec["p_t_test"], source)]


def headline_table(published: pd.DataFrame, values: Iterable[dict], digits: int = 3) -> pd.DataFrame:
    """Every published headline number beside the book's (``"not run"`` where the stage's artifact is absent).

    ``values``: the ``*_values`` functions' rows. The papers measured their patients; the book
    measures its cohort (on the default build, synthetic phantoms): different data.
    """
    book = pd.DataFrame(list(values), columns=["id", "book", "book_lower", "book_upper", "book_source"])
    table = published.merge(book.drop_duplicates("id"), on="id", how="left")
    table["published"] = [("> " if rel == ">" else "") + f"{v:.4g}" for v, rel in
                          zip(table["value"], table["relation"])]
    table["book_value"] = [format_ci(v, lo, hi, digits) if not pd.isna(v) else "not run"
                           for v, lo, hi in zip(table["book"], table["book_lower"], table["book_upper"])]
    table["book_source"] = table["book_source"].fillna("")
    return table[["stage", "citation", "source", "quantity", "published", "book_value", "note", "book_source", "id",
                  "value", "book", "book_lower", "book_upper"]]
