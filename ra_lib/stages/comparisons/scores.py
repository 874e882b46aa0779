"""Paper 003's agreement criteria and paired tests on stage 5's overall-score predictions."""
from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from ra_lib.core.contracts import OVERALL_SCORE
from ra_lib.evaluation import bootstrap, metrics, stats
from ra_lib.stages.comparisons.inputs import id_column
from ra_lib.stages.comparisons.tables import recomputed


def score_agreement(predictions: pd.DataFrame, split: str = "test", n_boot: int = 2000, seed: int = 0,
                    alpha: float = 0.05) -> pd.DataFrame:
    """Paper 003's criteria per variant on one split: MAE and RMSE (patient bootstrap CIs), Pearson r,
    and the two-sided paired t-test of predicted against true score (mean difference with its CI)."""
    rows = []
    chosen = predictions[predictions["split"] == split]
    for variant, part in chosen.groupby("variant", sort=False):
        true, pred = part["score_true"].to_numpy(float), part["score_pred"].to_numpy(float)
        boot = {name: bootstrap.bootstrap_ci(part, fn, model=variant, model_col="variant", score="score_pred",
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


def scores_recomputed(agreement: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """:func:`score_agreement` under stage 5's headline names ``mae/<variant>``, ``rmse/<variant>`` and
    ``t_test_p/<variant>`` (the t-test without an interval)."""
    rows = []
    for r in agreement.itertuples():
        source = f"{OVERALL_SCORE} predictions.csv, {r.variant}, {split}, n = {r.n}"
        rows += [(f"mae/{r.variant}", r.mae, r.mae_lower, r.mae_upper, source),
                 (f"rmse/{r.variant}", r.rmse, r.rmse_lower, r.rmse_upper, source),
                 (f"t_test_p/{r.variant}", r.p_t_test, np.nan, np.nan, source)]
    return recomputed(OVERALL_SCORE, rows)
