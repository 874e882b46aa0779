"""ra_lib.stages.comparisons.scores: paper 003's criteria, cross-checked with scikit-learn / scipy / statsmodels."""
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats
from sklearn import metrics as skm
from statsmodels.stats.multitest import multipletests

from fixtures.comparisons_artifacts import fake_scores
from ra_lib.core.contracts import OVERALL_SCORE
from ra_lib.stages.comparisons import scores

N_BOOT = 20


def test_score_agreement_matches_scipy():
    predictions = fake_scores()
    table = scores.score_agreement(predictions, n_boot=N_BOOT).set_index("variant")
    test = predictions[(predictions["split"] == "test") & (predictions["variant"] == "IRB")]
    reference = scipy_stats.ttest_rel(test["score_pred"], test["score_true"])
    assert table.loc["IRB", "t"] == pytest.approx(reference.statistic)
    assert table.loc["IRB", "p_t_test"] == pytest.approx(reference.pvalue)
    assert table.loc["IRB", "mae"] == pytest.approx(skm.mean_absolute_error(test["score_true"], test["score_pred"]))
    assert table.loc["IRB", "rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(test["score_true"],
                                                                                     test["score_pred"])))
    assert table.loc["IRB", "pearson_r"] == pytest.approx(scipy_stats.pearsonr(test["score_true"],
                                                                               test["score_pred"]).statistic)
    assert table.loc["IRB", "n"] == 12 and table.loc["IRB", "n_patients"] == 6
    assert math.isnan(table.loc["mean baseline", "pearson_r"])  # constant prediction


def test_error_comparisons_match_scipy_and_statsmodels():
    predictions = fake_scores()
    table = scores.error_comparisons(predictions)
    assert list(zip(table["variant_a"], table["variant_b"])) == [("mean baseline", "IRB"), ("mean baseline", "DSC"),
                                                                  ("IRB", "DSC")]
    test = predictions[predictions["split"] == "test"]
    err = {v: (g["score_pred"] - g["score_true"]).abs().to_numpy() for v, g in test.groupby("variant")}
    row = table.iloc[2]
    assert row["p_t_test"] == pytest.approx(scipy_stats.ttest_rel(err["IRB"], err["DSC"]).pvalue)
    assert row["p_wilcoxon"] == pytest.approx(scipy_stats.wilcoxon(err["IRB"], err["DSC"]).pvalue)
    assert row["mae_a"] == pytest.approx(err["IRB"].mean())
    assert table["p_t_test_holm"].tolist() == pytest.approx(multipletests(table["p_t_test"], method="holm")[1].tolist())


def test_scores_recomputed_uses_stage_5_headline_names():
    agreement = scores.score_agreement(fake_scores(), n_boot=N_BOOT)
    got = scores.scores_recomputed(agreement).set_index("book_name")
    assert {"mae/IRB", "rmse/IRB", "t_test_p/IRB", "mae/DSC", "mae/mean baseline"} <= set(got.index)
    assert (got["stage"] == OVERALL_SCORE).all()
    irb = agreement.set_index("variant").loc["IRB"]
    assert got.loc["mae/IRB", ["recomputed", "recomputed_lower", "recomputed_upper"]].tolist() == pytest.approx(
        [irb["mae"], irb["mae_lower"], irb["mae_upper"]])
    assert got.loc["t_test_p/IRB", "recomputed"] == irb["p_t_test"]
    assert math.isnan(got.loc["t_test_p/IRB", "recomputed_lower"])
    assert got.loc["rmse/IRB", "recomputed_source"].endswith("IRB, test, n = 12")
