"""Stage 5's evaluation: paper 003's agreement criteria, readers (its Table 2), the sums of stage 4's grades.

Every statistic comes from :mod:`ra_lib.evaluation.metrics` and :mod:`ra_lib.evaluation.stats`.
"""
from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from ra_lib.cohort.sites import Site
from ra_lib.evaluation import bootstrap, metrics, stats
from ra_lib.stages.grading import crps
from ra_lib.stages.grading.data import PROBA_COLUMNS
from ra_lib.stages.grading.site_priors import SitePriors, expected_grade, unlocated_sites
from ra_lib.stages.overall_score.settings import MAIN_VARIANT, N_BOOT
from ra_lib.stages.overall_score.targets import N_HAND_SITES, hand_scores, hands_per_unit, unit_ids
from ra_lib.stages.overall_score.train import MEAN_BASELINE, PREDICTION_COLUMNS

#: ``variant`` of the summed stage-4 grades of one grading method.
JOINT_SUM_PREFIX = "sum of stage-4 joint grades"
#: What a joint sum adds per site: the expected grade of its distribution, or its most likely grade.
EXPECTED, MOST_LIKELY = "expected", "most likely"
SUM_STATISTICS = {EXPECTED: "grade_expected", MOST_LIKELY: "grade_pred"}


def joint_sum_variant(method: str, statistic: str = EXPECTED) -> str:
    """The ``variant`` name of the sum of ``method``'s ``statistic`` grades (:data:`SUM_STATISTICS`)."""
    return f"{JOINT_SUM_PREFIX} ({method}, {statistic})"


def stage4_grades(grade_predictions: pd.DataFrame, grade_cdf_predictions: pd.DataFrame | None = None
                  ) -> pd.DataFrame:
    """Stage 4's grade distributions of every method in one table (its ``grade_predictions.csv`` and, when
    fitted, ``grade_cdf_predictions.csv``), with ``grade_expected`` (sum of ``k * p_k``) and, for the CDF head,
    ``grade_pred`` its most likely grade."""
    frames = [grade_predictions]
    if grade_cdf_predictions is not None and len(grade_cdf_predictions):
        probabilities = grade_cdf_predictions[PROBA_COLUMNS].to_numpy(dtype=float)
        frames.append(grade_cdf_predictions.assign(grade_pred=probabilities.argmax(axis=1)))
    grades = pd.concat(frames, ignore_index=True)
    survival = crps.survival_from_probabilities(grades[PROBA_COLUMNS].to_numpy(dtype=float))
    return grades.assign(grade_expected=crps.expected_value(survival))


def agreement(y_true, y_pred) -> dict:
    """Paper 003's criteria of one rater against another: MAE, RMSE, Pearson r, paired t-test of pred vs true."""
    test = stats.paired_t_test(y_pred, y_true)
    pearson = metrics.pearson_r(y_true, y_pred)
    return {"n": len(np.asarray(y_true)), "mae": metrics.mae(y_true, y_pred), "rmse": metrics.rmse(y_true, y_pred),
            "pearson_r": pearson.r, "mean_diff": test.mean_diff, "t": test.statistic, "p_t_test": test.p}


def agreement_table(predictions: pd.DataFrame, split: str = "test", by: str = "variant") -> pd.DataFrame:
    """:func:`agreement` per ``by`` group on one split, in order of first appearance."""
    rows = []
    chosen = predictions[predictions["split"] == split]
    for name, group in chosen.groupby(by, sort=False):
        rows.append({by: name, **agreement(group["score_true"], group["score_pred"])})
    return pd.DataFrame(rows)


def mae_difference(predictions: pd.DataFrame, variant: str, reference: str, split: str = "test",
                   id_column: str = "hand_id", n_boot: int = N_BOOT, seed: int = 0) -> bootstrap.BootstrapDiffResult:
    """MAE of ``variant`` minus ``reference``'s on the units of one split both predicted, with a paired
    patient-clustered bootstrap interval (:func:`ra_lib.evaluation.bootstrap.bootstrap_diff`)."""
    rows = predictions[(predictions["split"] == split) & predictions["variant"].isin([variant, reference])]
    shared = set.intersection(*(set(rows.loc[rows["variant"] == name, id_column]) for name in (variant, reference)))
    rows = rows[rows[id_column].isin(shared)]
    return bootstrap.bootstrap_diff(rows, metrics.mae, variant, reference, model_col="variant", score="score_pred",
                                label="score_true", keys=[id_column, "patient"], cluster="patient", n_boot=n_boot,
                                seed=seed)


def mae_versus_baseline(predictions: pd.DataFrame, variant: str = MAIN_VARIANT, split: str = "test",
                        id_column: str = "hand_id", n_boot: int = N_BOOT,
                        seed: int = 0) -> bootstrap.BootstrapDiffResult:
    """:func:`mae_difference` of ``variant`` and the mean baseline; the model has learned when the interval is
    below 0."""
    return mae_difference(predictions, variant, MEAN_BASELINE, split, id_column, n_boot, seed)


def reader_totals(readers: pd.DataFrame, units: pd.DataFrame, id_column: str = "hand_id") -> pd.DataFrame:
    """Overall score of each unit by each reader (wide: ``<id>`` plus one column per reader).

    Only units every reader graded completely (all sites of all their hands) are kept.
    """
    rows = []
    for reader_id, table in readers.groupby("reader_id"):
        per_hand = hand_scores(table)
        rows.append(per_hand[["hand_id", "score", "complete"]].assign(reader_id=reader_id))
    if not rows:
        return pd.DataFrame(columns=[id_column])
    long = pd.concat(rows, ignore_index=True)
    long[id_column] = unit_ids(long["hand_id"], id_column)
    per_unit = long.groupby([id_column, "reader_id"]).agg(score=("score", "sum"), complete=("complete", "all"),
                                                          n_hands=("hand_id", "nunique")).reset_index()
    per_unit = per_unit[per_unit["complete"] & (per_unit["n_hands"] == hands_per_unit(id_column))]
    wide = per_unit.pivot(index=id_column, columns="reader_id", values="score").dropna()
    wide = wide[wide.index.isin(units[id_column])]
    wide.columns = [str(c) for c in wide.columns]
    return wide.reset_index()


def reader_agreement(totals: pd.DataFrame, id_column: str = "hand_id") -> pd.DataFrame:
    """Paper 003 Table 2: agreement of every pair of readers (second against first) plus ICC(2,1)."""
    readers = [c for c in totals.columns if c != id_column]
    rows = []
    for a, b in combinations(readers, 2):
        rows.append({"reader_a": a, "reader_b": b, **agreement(totals[a], totals[b]),
                     "icc_2_1": stats.icc(totals[[a, b]].to_numpy(dtype=float))})
    return pd.DataFrame(rows)


def filled_sites(grades: pd.DataFrame, priors: SitePriors | None) -> list[Site]:
    """The hand sites stage 4 graded on no hand (their landmark is not labelled in the cohort), which a
    joint sum takes from ``priors`` (:func:`ra_lib.stages.grading.site_priors.site_priors`); none when
    ``priors`` lack any of them, so a unit's sum then needs every site graded."""
    unlocated = unlocated_sites(set(zip(grades["kind"], grades["site"])))
    if not priors or any(expected_grade(priors, site.kind, site.site) is None for site in unlocated):
        return []
    return unlocated


def joint_sum_predictions(grades: pd.DataFrame, units: pd.DataFrame, id_column: str = "hand_id",
                          priors: SitePriors | None = None) -> pd.DataFrame:
    """Overall scores from stage 4's per-joint grades (:func:`stage4_grades`): per method, the sum of each
    :data:`SUM_STATISTICS` over each unit's 31 (or 62) sites, against the unit's true ``score``.

    Uses stage 4's held-out rows (``split == "test"``) and units whose every site stage 4 graded, except the
    :func:`filled_sites`, which add their mean grade under ``priors``; the returned rows carry this stage's
    split, so :func:`agreement_table` compares like with like.
    """
    columns = [id_column, *PREDICTION_COLUMNS]
    filled = filled_sites(grades, priors)
    fill = sum(expected_grade(priors, site.kind, site.site) for site in filled) if filled else 0.0
    test = grades[grades["split"] == "test"]
    frames = []
    for method, rows in test.groupby("method", sort=False):
        for statistic, column in SUM_STATISTICS.items():
            per_hand = rows.groupby("hand_id").agg(score_pred=(column, "sum"),
                                                   n_sites=(column, "size")).reset_index()
            per_hand = per_hand[per_hand["n_sites"] == N_HAND_SITES - len(filled)]
            per_hand[id_column] = unit_ids(per_hand["hand_id"], id_column)
            per_unit = per_hand.groupby(id_column).agg(score_pred=("score_pred", "sum"),
                                                       n_hands=("hand_id", "size")).reset_index()
            per_unit = per_unit[per_unit["n_hands"] == hands_per_unit(id_column)]
            per_unit["score_pred"] += fill * hands_per_unit(id_column)
            merged = per_unit.merge(units[[id_column, "patient", "split", "score"]], on=id_column)
            merged = merged.rename(columns={"score": "score_true"}).assign(
                variant=joint_sum_variant(method, statistic))
            frames.append(merged[columns])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def joint_sum_comparison(sums: pd.DataFrame, predictions: pd.DataFrame, id_column: str = "hand_id",
                         variant: str = MAIN_VARIANT) -> pd.DataFrame | None:
    """:func:`agreement_table` of ``variant`` and every stage-4 joint sum (``sums``, of
    :func:`joint_sum_predictions`) on the test units both predicted.

    ``None`` when no test unit has every site graded by stage 4 (or filled from its priors).
    """
    shared = sums.loc[sums["split"] == "test", id_column]
    if shared.empty:
        return None
    direct = predictions[(predictions["variant"] == variant) & (predictions["split"] == "test")]
    return agreement_table(pd.concat([direct[direct[id_column].isin(shared)], sums[sums[id_column].isin(shared)]]))
