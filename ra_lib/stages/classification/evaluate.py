"""Scoring the out-of-fold predictions: Table 4 blocks, PR curves (Fig. 6), joint outcomes (Fig. 7), the headline.

Every number comes from :mod:`ra_lib.evaluation.metrics`; readers are rows of the OOF table
(:func:`ra_lib.evaluation.readers.reader_rows`) scored like a model.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ra_lib.cohort.sites import FINGER_GROUPS, GROUPS, KINDS
from ra_lib.evaluation import metrics, published
from ra_lib.evaluation.readers import READER_PREFIX
from ra_lib.stages.classification.encoder import ENCODER
from ra_lib.stages.classification.models import MODEL_LABELS, MODEL_TYPES

REGIONS = published.TABLE4_REGIONS
#: The readers' mean row of a block (the paper's "average of surgeons").
READERS_MEAN = "mean of readers"
HEADLINE_METRICS = ("roc_auc", "pr_auc", "f_measure", "sensitivity", "specificity")
READER_METRICS = ("f_measure", "pr_auc")
#: ``metrics.json`` headline: all joints, out of fold (``pr_auc`` is the average precision).
HEADLINE_NAMES = (
    tuple(f"{metric}/{model}/{kind}" for metric in HEADLINE_METRICS for model in MODEL_TYPES for kind in KINDS)
    + tuple(f"{metric}/readers_mean/{kind}" for metric in READER_METRICS for kind in KINDS)
    + tuple(f"prevalence/{kind}" for kind in KINDS)
    + ("contralateral_pairs",)
)


def region_groups(kind: str, region: str) -> tuple[str, ...]:
    """Joint groups of a Table-4 region: ``finger`` (PIP-IP+MCP+CMC-M / PIP+MCP+CMC), ``wrist``, ``all``."""
    return {"finger": FINGER_GROUPS[kind], "wrist": ("wrist",), "all": GROUPS[kind]}[region]


def _blocks(predictions: pd.DataFrame, by: str):
    """``(kind, block, rows)`` per kind and region (or group) present in ``predictions``."""
    for kind in [k for k in KINDS if k in set(predictions["kind"])]:
        for block in (REGIONS if by == "region" else GROUPS[kind]):
            groups = region_groups(kind, block) if by == "region" else (block,)
            yield kind, block, predictions[(predictions["kind"] == kind) & predictions["group"].isin(groups)]


def evaluation_table(predictions: pd.DataFrame, threshold: float = 0.5, by: str = "region") -> pd.DataFrame:
    """Sensitivity, specificity, precision, F-measure, PR-AUC (AP), ROC-AUC per kind, region (or group) and model.

    ``by="region"`` gives paper 001's Table 4 blocks; ``by="group"`` one row per joint group.
    A block without positives has nan sensitivity and PR-AUC (not an error). Readers (models named
    ``reader ...``) get an extra :data:`READERS_MEAN` row per block.
    """
    rows = []
    for kind, block, part in _blocks(predictions, by):
        block_rows = []
        for model, scored in part.groupby("model", sort=False):
            report = metrics.binary_report(scored["label"].to_numpy(), scored["probability"].to_numpy(), threshold)
            block_rows.append({"kind": kind, by: block, "model": model, **report})
        readers = [r for r in block_rows if r["model"].startswith(READER_PREFIX)]
        if readers:
            mean = pd.DataFrame(readers).mean(numeric_only=True).to_dict()
            block_rows.append({"kind": kind, by: block, "model": READERS_MEAN, **mean})
        rows += block_rows
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["prevalence"] = table["n_pos"] / table["n"]
    return table


def table4(evaluation: pd.DataFrame) -> pd.DataFrame:
    """Our results in paper 001's Table 4 layout: rows (kind, region, metric), one column per model / reader."""
    shown = evaluation.assign(model=evaluation["model"].map(lambda m: MODEL_LABELS.get(m, m)),
                              pr_auc=evaluation["average_precision"])
    long = shown.melt(id_vars=["kind", "region", "model"],
                      value_vars=["sensitivity", "specificity", "f_measure", "pr_auc", "prevalence"], var_name="metric")
    wide = long.pivot_table(index=["kind", "region", "metric"], columns="model", values="value", sort=False,
                            dropna=False)
    return wide[list(dict.fromkeys(shown["model"]))]


def published_table4() -> pd.DataFrame:
    """The paper's Table 4 in the layout of :func:`table4` (226 radiographs of 40 patients)."""
    paper = published.table4()
    wide = paper.pivot_table(index=["kind", "region", "metric"], columns="label", values="value", sort=False)
    return wide[list(published.TABLE4_COLUMNS.values())]


def pr_curves(predictions: pd.DataFrame) -> pd.DataFrame:
    """Precision-recall points per kind, region and model (Fig. 6), from :func:`ra_lib.evaluation.metrics.pr_curve`."""
    parts = []
    for kind, region, part in _blocks(predictions, "region"):
        for model, scored in part.groupby("model", sort=False):
            curve = metrics.pr_curve(scored["label"].to_numpy(), scored["probability"].to_numpy())
            parts.append(curve.assign(kind=kind, region=region, model=model))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def joint_outcomes(oof: pd.DataFrame, index: pd.DataFrame, hand_ids: Sequence[str],
                   threshold: float = 0.5) -> pd.DataFrame:
    """Per joint of ``hand_ids`` and model: TP / TN / FN / FP at ``threshold`` with its image position (Fig. 7)."""
    part = oof[oof["hand_id"].isin(hand_ids)]
    called = part["probability"] >= threshold
    truth = part["label"] == 1
    outcome = np.select([truth & called, ~truth & ~called, truth & ~called], ["TP", "TN", "FN"], "FP")
    where = index.drop_duplicates(["hand_id", "kind", "site"])[["hand_id", "kind", "site", "image_id", "x", "y"]]
    return part.assign(outcome=outcome).merge(where, on=["hand_id", "kind", "site"], how="left")


def showcase_hands(oof: pd.DataFrame, index: pd.DataFrame) -> list[str]:
    """The hands of the image with both hands predicted and the most non-intact joints (else the
    single hand with most), for Fig. 7."""
    truth = oof.drop_duplicates(["hand_id", "kind", "site"]).merge(
        index.drop_duplicates("hand_id")[["hand_id", "image_id"]], on="hand_id")
    per_image = truth.groupby("image_id").agg(hands=("hand", "nunique"), positives=("label", "sum"))
    if per_image.empty:
        return []
    best = per_image.sort_values(["hands", "positives"], ascending=False).index[0]
    return sorted(truth.loc[truth["image_id"] == best, "hand_id"].unique())


def learning_check(evaluation: pd.DataFrame) -> pd.DataFrame:
    """Per kind and block: the models' PR-AUC (AP) against prevalence, the AP of a constant score.

    ``learns`` is True where AP exceeds prevalence (undefined AP, no positives: False).
    """
    block = "region" if "region" in evaluation else "group"
    models = evaluation[evaluation["model"].isin(MODEL_TYPES)]
    return models.assign(pr_auc=models["average_precision"], learns=models["average_precision"] > models["prevalence"])[
        ["kind", block, "model", "n", "n_pos", "prevalence", "pr_auc", "learns"]].reset_index(drop=True)


def learning_verdict(evaluation: pd.DataFrame, by_group: pd.DataFrame, epochs: int, crop_size: int) -> str:
    """Markdown: SISO's all-joint PR-AUC against prevalence, groups where no model learnt, the best model."""
    check = learning_check(evaluation)
    overall = check[check["region"] == "all"]
    siso = overall[overall["model"] == "siso"]
    if siso.empty:
        return "SISO was not trained in this run."
    lines = [f"- {row.kind}: SISO PR-AUC {row.pr_auc:.2f} against a prevalence of {row.prevalence:.2f}"
             for row in siso.itertuples()]
    verdict = ("SISO beats the constant score on all joints of every kind run."
               if siso["learns"].all() else
               f"SISO does not beat the constant score for {', '.join(siso.loc[~siso['learns'], 'kind'])}: with "
               f"{epochs} epoch(s) on {crop_size}-pixel crops the network has not learnt that kind.")
    learnt = learning_check(by_group).groupby(["kind", "group"])["learns"].any()
    stuck = learnt[~learnt]
    if len(stuck):
        verdict += (" No model beats the prevalence in " + ", ".join(f"{k} {g}" for k, g in stuck.index) +
                    ": there the network found no usable sign of damage in this run.")
    scored = overall.dropna(subset=["pr_auc"])
    best = scored.loc[scored.groupby("kind")["pr_auc"].idxmax()]
    ranking = "; ".join(f"{row.kind} {MODEL_LABELS[row.model]} ({row.pr_auc:.2f})" for row in best.itertuples())
    paper = published.table4()
    paper = paper[(paper["region"] == "all") & (paper["metric"] == "pr_auc") & paper["column"].isin(MODEL_TYPES)]
    paper_best = paper.loc[paper.groupby("kind", sort=False)["value"].idxmax()]
    in_paper = "; ".join(f"{row.kind} {row.label} ({row.value:.2f})" for row in paper_best.itertuples())
    return ("\n".join(lines) + "\n\n" + verdict + f"\n\nHighest PR-AUC on all joints in this run: {ranking}; "
            f"in the paper: {in_paper}.")


def training_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per kind and model: trainings, mean epochs run and best epoch, training samples, seconds."""
    trained = runs[runs["status"] == "trained"] if len(runs) else runs
    if trained.empty:
        return pd.DataFrame(columns=["kind", "model", "trainings", "epochs_run", "best_epoch", "train_samples",
                                     "seconds"])
    summary = trained.groupby(["kind", "model"], sort=False).agg(
        trainings=("fold", "size"), epochs_run=("epochs_run", "mean"), best_epoch=("best_epoch", "mean"),
        train_samples=("n_train_balanced", "mean"), seconds=("seconds", "sum"))
    labels = {**MODEL_LABELS, ENCODER: "shared encoder (all groups)"}
    return summary.reset_index().assign(model=lambda t: t["model"].map(labels))


def masking_summary(sample_counts: pd.DataFrame) -> pd.DataFrame:
    """Per model over all groups: samples, masked inputs, samples lacking a whole hand."""
    labelled = sample_counts.assign(model=sample_counts["model"].map(MODEL_LABELS))
    return labelled.groupby("model", sort=False)[["samples", "masked_inputs", "samples_missing_hand"]].sum()


def headline_vs_paper(evaluation: pd.DataFrame) -> pd.DataFrame:
    """All-joint F-measure, PR-AUC and prevalence per kind and model (and readers' mean) beside the paper's."""
    ours = evaluation[(evaluation["region"] == "all") & evaluation["model"].isin([*MODEL_TYPES, READERS_MEAN])]
    paper = published.table4()
    paper = paper[(paper["region"] == "all") & paper["metric"].isin(READER_METRICS)].assign(
        model=lambda t: t["column"].replace({"surgeon mean": READERS_MEAN}))
    paper = paper.pivot_table(index=["kind", "model"], columns="metric", values="value")
    table = ours.set_index(["kind", "model"])[["f_measure", "average_precision", "prevalence"]].rename(
        columns={"average_precision": "pr_auc"}).join(paper, rsuffix="_paper")
    return table.rename(index=MODEL_LABELS, level="model")


def headline_values(evaluation: pd.DataFrame, oof: pd.DataFrame, contralateral: int) -> dict:
    """Every :data:`HEADLINE_NAMES` value (``None`` where a model, a kind or the readers are absent)."""
    overall = (evaluation[evaluation["region"] == "all"].set_index(["kind", "model"])
               if len(evaluation) else pd.DataFrame())
    column = {"pr_auc": "average_precision"}

    def value(kind: str, model: str, metric: str):
        return overall.loc[(kind, model), column.get(metric, metric)] if (kind, model) in overall.index else None

    values = {f"{m}/{model}/{kind}": value(kind, model, m)
              for m in HEADLINE_METRICS for model in MODEL_TYPES for kind in KINDS}
    values.update({f"{m}/readers_mean/{kind}": value(kind, READERS_MEAN, m) for m in READER_METRICS for kind in KINDS})
    joints = oof.drop_duplicates(["hand_id", "kind", "site"])
    for kind in KINDS:
        labels = joints.loc[joints["kind"] == kind, "label"]
        values[f"prevalence/{kind}"] = labels.mean() if len(labels) else None
    values["contralateral_pairs"] = contralateral
    return values
