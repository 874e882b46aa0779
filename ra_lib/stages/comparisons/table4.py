"""Paper 001 Table 4 with confidence intervals, from stage 3's out-of-fold predictions and the readers.

Every estimate has a patient-clustered bootstrap CI (:func:`ra_lib.evaluation.bootstrap.bootstrap_ci`);
models and readers are compared with SISO on the same joints (:func:`ra_lib.evaluation.bootstrap.bootstrap_diff`,
Holm-adjusted per block of the table) and each model with each reader
(:func:`ra_lib.evaluation.bootstrap.compare_to_reader`). Readers enter as rows of the out-of-fold table
(:func:`ra_lib.evaluation.readers.reader_rows`).
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from ra_lib.cohort.sites import FINGER_GROUPS, GROUPS, KINDS
from ra_lib.core.contracts import CLASSIFICATION
from ra_lib.core.errors import RaDataError
from ra_lib.evaluation import bootstrap, metrics, stats
from ra_lib.evaluation.published import TABLE4_COLUMNS, TABLE4_METRICS, TABLE4_REGIONS
from ra_lib.evaluation.readers import JOINT_KEYS, READER_PREFIX
from ra_lib.stages.comparisons.tables import format_ci, holm_within, recomputed

#: Stage 3's model codes in paper 001's column order; the reference of the significance marks.
MODEL_ORDER = ("siso", "mimo_local", "mimo_one_hand", "mimo_both_hands")
REFERENCE = "siso"
READER_MEAN = "mean of readers"

METRIC_LABELS = {"sensitivity": "sensitivity", "specificity": "specificity", "f_measure": "F-measure",
                 "pr_auc": "PR-AUC (AP)"}


def region_groups(kind: str, region: str) -> tuple[str, ...]:
    """Joint groups of a Table-4 region: ``finger`` (PIP-IP+MCP+CMC-M / PIP+MCP+CMC), ``wrist``, ``all``."""
    if region not in TABLE4_REGIONS:
        raise ValueError(f"unknown region {region!r}; expected one of {TABLE4_REGIONS}")
    return {"finger": FINGER_GROUPS[kind], "wrist": ("wrist",), "all": GROUPS[kind]}[region]


def decision_metrics(threshold: float = 0.5) -> dict[str, stats.MetricFn]:
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
                ci = bootstrap.bootstrap_ci(scored, fn, model=model, n_boot=n_boot, seed=seed, alpha=alpha)
                row = {"kind": kind, "region": region, "model": model, "metric": metric, "estimate": ci.estimate,
                       "lower": ci.lower, "upper": ci.upper, **counts, "n_valid": ci.n_valid}
                if paired is not None and len(paired):
                    d = bootstrap.bootstrap_diff(paired, fn, "score_a", "score_b", model_col=None, n_boot=n_boot,
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
    table["p_holm"] = holm_within(table, "p", ["kind", "region", "metric"])
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
    """Each model against each reader on the joints both scored (:func:`ra_lib.evaluation.bootstrap.compare_to_reader`).

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
        result = bootstrap.compare_to_reader(paired, "call", threshold=threshold, n_boot=n_boot, seed=seed, alpha=alpha)
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
    table["p_f_holm"] = holm_within(table, "p_f", ["kind", "region"])
    table["p_mcnemar_holm"] = holm_within(table, "p_mcnemar", ["kind", "region"])
    return table


#: Table 4 metrics that stage 3's headline reports (all joints), and its name of the readers' mean.
HEADLINE_METRICS = ("f_measure", "pr_auc")
HEADLINE_READER_MEAN = "readers_mean"


def table4_recomputed(long: pd.DataFrame) -> pd.DataFrame:
    """All-joint F-measure and PR-AUC of every model and of the readers' mean from :func:`table4_ci`,
    under stage 3's headline names ``<metric>/<model>/<kind>``."""
    rows = []
    for r in long.itertuples():
        if r.region == "all" and r.metric in HEADLINE_METRICS and not r.model.startswith(READER_PREFIX):
            model = HEADLINE_READER_MEAN if r.model == READER_MEAN else r.model
            rows.append((f"{r.metric}/{model}/{r.kind}", r.estimate, r.lower, r.upper,
                         f"{CLASSIFICATION} oof_predictions.csv, {r.n} joints, {r.n_patients} patients"))
    return recomputed(CLASSIFICATION, rows)
