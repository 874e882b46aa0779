import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from fixtures.score_cohorts import grade_predictions, hand_grade_rows
from ra_lib.cohort.sites import HAND_SITES
from ra_lib.stages.grading.data import PROBA_COLUMNS
from ra_lib.stages.overall_score import evaluate
from ra_lib.stages.overall_score.train import MEAN_BASELINE


def test_agreement_matches_scipy():
    rng = np.random.default_rng(0)
    true = rng.uniform(0, 140, 30)
    pred = true + rng.normal(2, 8, 30)
    row = evaluate.agreement(true, pred)
    assert row["mae"] == pytest.approx(np.mean(np.abs(pred - true)))
    assert row["rmse"] == pytest.approx(np.sqrt(np.mean((pred - true) ** 2)))
    assert row["pearson_r"] == pytest.approx(scipy_stats.pearsonr(true, pred).statistic)
    reference = scipy_stats.ttest_rel(pred, true)
    assert row["t"] == pytest.approx(reference.statistic) and row["p_t_test"] == pytest.approx(reference.pvalue)


def test_agreement_table_per_variant_on_one_split():
    table = pd.DataFrame({"variant": ["a", "a", "b", "b", "a"], "split": ["test"] * 4 + ["train"],
                          "score_true": [1.0, 2.0, 1.0, 2.0, 9.0], "score_pred": [1.0, 3.0, 2.0, 2.0, 0.0]})
    out = evaluate.agreement_table(table)
    assert out["variant"].tolist() == ["a", "b"] and out["mae"].tolist() == [0.5, 0.5] and out["n"].tolist() == [2, 2]


def test_mae_versus_baseline_interval():
    rng = np.random.default_rng(1)
    true = rng.uniform(0, 60, 40)
    common = {"hand_id": [f"h{i}" for i in range(40)], "patient": [f"P{i // 2}" for i in range(40)],
              "score_true": true, "split": "test"}
    table = pd.concat([pd.DataFrame({**common, "variant": MEAN_BASELINE, "score_pred": 30.0}),
                       pd.DataFrame({**common, "variant": "IRB", "score_pred": true + rng.normal(0, 2, 40)})])
    result = evaluate.mae_versus_baseline(table, n_boot=200)
    assert result.diff == pytest.approx(np.mean(np.abs(table["score_pred"].iloc[40:] - true)) -
                                        np.mean(np.abs(30.0 - true)))
    assert result.upper < 0 and result.n_clusters == 20


def test_mae_difference_pairs_the_units_both_variants_predicted():
    common = {"patient": ["P1", "P1", "P2", "P3"], "score_true": [10.0, 20.0, 30.0, 40.0], "split": "test"}
    table = pd.concat([pd.DataFrame({**common, "hand_id": ["a", "b", "c", "d"], "variant": "IRB",
                                     "score_pred": [12.0, 20.0, 25.0, 0.0]}),
                       pd.DataFrame({**common, "hand_id": ["a", "b", "c", "x"], "variant": "sum",
                                     "score_pred": [10.0, 21.0, 30.0, 0.0]})])
    result = evaluate.mae_difference(table, "sum", "IRB", n_boot=50)
    assert result.estimate_a == pytest.approx(1 / 3) and result.estimate_b == pytest.approx(7 / 3)
    assert result.diff == pytest.approx(-2.0) and result.n_clusters == 2  # d and x are not shared


def test_reader_totals_and_table_2():
    readers = pd.concat([
        hand_grade_rows({"a:L": 1, "a:R": 2, "b:R": 0}).assign(reader_id="r1"),
        hand_grade_rows({"a:L": 2, "a:R": 2, "b:R": 1}).assign(reader_id="r2"),
    ])
    units = pd.DataFrame({"hand_id": ["a:L", "a:R", "b:R"]})
    totals = evaluate.reader_totals(readers, units)
    assert totals.set_index("hand_id").loc["a:L"].tolist() == [31, 62]
    table = evaluate.reader_agreement(totals)
    assert table[["reader_a", "reader_b"]].values.tolist() == [["r1", "r2"]]
    assert table["mae"].item() == pytest.approx((31 + 0 + 31) / 3) and "icc_2_1" in table
    per_image = evaluate.reader_totals(readers, pd.DataFrame({"image_id": ["a", "b"]}), id_column="image_id")
    assert per_image.set_index("image_id").loc["a"].tolist() == [93, 124] and "b" not in set(per_image["image_id"])
    no_readers = evaluate.reader_totals(readers.iloc[:0], units)
    assert no_readers.empty and list(no_readers.columns) == ["hand_id"]


def test_joint_sum_predictions_sum_complete_held_out_hands():
    grades = evaluate.stage4_grades(pd.concat([grade_predictions(["a:L"], "test", ("m",)),
                                               grade_predictions(["b:R"], "train", ("m",))]))
    units = pd.DataFrame({"hand_id": ["a:L", "b:R"], "patient": ["P1", "P2"], "split": ["test", "test"],
                          "score": [31, 31]})
    out = evaluate.joint_sum_predictions(grades, units)
    row = {"hand_id": "a:L", "patient": "P1", "score_true": 31, "score_pred": 62.0, "split": "test"}
    assert out.to_dict("records") == [{**row, "variant": evaluate.joint_sum_variant("m", statistic)}
                                      for statistic in (evaluate.EXPECTED, evaluate.MOST_LIKELY)]
    assert evaluate.joint_sum_predictions(grades.iloc[1:], units).empty  # a:L lacks one site
    per_image = evaluate.joint_sum_predictions(evaluate.stage4_grades(grade_predictions(["a:L", "a:R"], "test", ("m",))),
                                               pd.DataFrame({"image_id": ["a"], "patient": ["P1"], "split": ["test"],
                                                             "score": [62]}),
                                               id_column="image_id")
    assert per_image[["image_id", "score_true", "score_pred"]].values.tolist() == [["a", 62, 124]] * 2


def test_expected_and_most_likely_sums_differ_for_uncertain_grades():
    grades = grade_predictions(["a:L"], "test", ("m",))
    grades[PROBA_COLUMNS] = [0.6, 0.4, 0, 0, 0, 0]  # most likely 0, expected 0.4
    grades["grade_pred"] = 0
    cdf = grades.drop(columns="grade_pred").assign(method="cdf_grades", mean=0.4)
    cdf[PROBA_COLUMNS] = [0.3, 0.3, 0.4, 0, 0, 0]  # most likely 2, expected 1.1
    table = evaluate.stage4_grades(grades, cdf)
    assert table.loc[table["method"] == "cdf_grades", "grade_pred"].eq(2).all()
    units = pd.DataFrame({"hand_id": ["a:L"], "patient": ["P1"], "split": ["test"], "score": [20]})
    sums = evaluate.joint_sum_predictions(table, units).set_index("variant")["score_pred"]
    n = len(HAND_SITES)
    assert sums[evaluate.joint_sum_variant("m", evaluate.EXPECTED)] == pytest.approx(0.4 * n)
    assert sums[evaluate.joint_sum_variant("m", evaluate.MOST_LIKELY)] == 0
    assert sums[evaluate.joint_sum_variant("cdf_grades", evaluate.EXPECTED)] == pytest.approx(1.1 * n)
    assert sums[evaluate.joint_sum_variant("cdf_grades", evaluate.MOST_LIKELY)] == 2 * n


def test_joint_sum_fills_sites_located_on_no_hand_from_priors():
    wrist = {(site.kind, site.site) for site in HAND_SITES if site.group == "wrist"}
    grades = evaluate.stage4_grades(grade_predictions(["a:L", "b:R"], "test", ("m",)))
    grades = grades[[(k, s) not in wrist for k, s in zip(grades["kind"], grades["site"])]]
    grades = grades[~((grades["hand_id"] == "b:R") & (grades["site"] == grades["site"].iloc[0]))]  # b:R lacks a finger
    units = pd.DataFrame({"hand_id": ["a:L", "b:R"], "patient": ["P1", "P2"], "split": "test", "score": [40, 50]})
    priors = {kind: {site: [0.5, 0.5] for k, site in wrist if k == kind} for kind in ("erosion", "jsn")}
    assert {f"{s.kind}/{s.site}" for s in evaluate.filled_sites(grades, priors)} == {f"{k}/{s}" for k, s in wrist}
    out = evaluate.joint_sum_predictions(grades, units, priors=priors)
    assert out[["hand_id", "score_true", "score_pred"]].values.tolist() == [["a:L", 40, 2 * (31 - len(wrist)) +
                                                                             0.5 * len(wrist)]] * 2
    assert evaluate.joint_sum_predictions(grades, units).empty  # without priors no hand is complete
    assert evaluate.filled_sites(grades, {"erosion": {}}) == []  # priors lacking a site fill none


def test_joint_sum_comparison_on_shared_test_units():
    units = pd.DataFrame({"hand_id": ["a:L", "b:R", "c:R"], "patient": ["P1", "P2", "P3"],
                          "split": ["test", "test", "train"], "score": 31})
    predictions = units.drop(columns="score").assign(variant="IRB", score_true=31.0, score_pred=[30.0, 20.0, 31.0])
    def sums(hand_ids):
        return evaluate.joint_sum_predictions(evaluate.stage4_grades(grade_predictions(hand_ids)), units)

    table = evaluate.joint_sum_comparison(sums(["a:L", "c:R"]), predictions)
    assert table["variant"].tolist() == ["IRB", *(evaluate.joint_sum_variant(method, statistic)
                                                  for method in ("oversample_aug", "class_weights")
                                                  for statistic in (evaluate.EXPECTED, evaluate.MOST_LIKELY))]
    assert table["n"].tolist() == [1] * 5 and table["mae"].tolist() == [1.0] + [31.0] * 4
    assert evaluate.joint_sum_comparison(sums(["c:R"]), predictions) is None
