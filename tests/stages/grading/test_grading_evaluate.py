"""Tests of ra_lib.stages.grading.evaluate: grading criteria, confusion matrices, CDF metrics, published numbers."""
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score

from fixtures.crop_stores import tiny_settings
from ra_lib.cohort.sites import EROSION, JSN
from ra_lib.stages.grading import evaluate
from ra_lib.stages.grading.regression import PERCENT, grade_target, run_cdf
from ra_lib.stages.grading.settings import CDF, CDF_GRADES, MAJORITY, ONE_OUTPUT, PLAIN


def predictions(kind, truth, pred, method=PLAIN, split="test", imputed=None):
    n = len(truth)
    return pd.DataFrame({"hand_id": [f"h{i}" for i in range(n)], "patient": "P", "kind": kind, "site": "s",
                         "split": split, "method": method, "grade_true": truth, "grade_pred": pred,
                         "imputed": np.zeros(n, bool) if imputed is None else imputed})


def test_grading_metrics_match_scikit_learn_and_skip_imputed_rows():
    truth, pred = [0, 0, 0, 1, 1, 2, 3], [0, 0, 2, 1, 0, 2, 0]
    imputed = np.array([False] * 6 + [True])
    table = evaluate.grading_metrics(pd.concat([predictions(EROSION, truth, pred, imputed=imputed),
                                                predictions(EROSION, truth, pred, split="val")]))
    row = table.iloc[0]
    assert len(table) == 1 and row["n"] == 6
    assert row["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(truth[:6], pred[:6]))
    assert row["class_normalised_accuracy"] == row["balanced_accuracy"]  # the same by definition
    assert row["accuracy"] == pytest.approx(4 / 6)
    assert row["class_normalised_accuracy_pm1"] == pytest.approx(np.mean([2 / 3, 1, 1]))
    assert row["rmse"] == pytest.approx(np.sqrt(np.mean(np.subtract(truth[:6], pred[:6]) ** 2)))


def test_confusion_learning_check_and_headline_table():
    table_in = pd.concat([predictions(JSN, [0, 0, 1, 2], [0, 1, 1, 2]),
                          predictions(JSN, [0, 0, 1, 2], [0, 0, 0, 0], method=MAJORITY)])
    matrices = evaluate.confusion_matrices(table_in)
    assert matrices[(JSN, PLAIN)].shape == (5, 5) and matrices[(JSN, PLAIN)].loc[0, 1] == 0.5
    table = evaluate.grading_metrics(table_in)
    check = evaluate.learning_check(table)
    assert check.iloc[0]["learns"] and check.iloc[0]["best_method"] == PLAIN
    assert "Every kind beats" in evaluate.learning_summary(check, tiny_settings())
    assert list(evaluate.headline_table(table).index) == ["majority grade", "(a) plain"]


def test_stage_table_is_diagonal_for_consistent_scores(toy_data):
    table = evaluate.stage_table(toy_data)
    assert table.to_numpy().sum() == (toy_data.rows["kind"] == EROSION).sum()
    assert (table.to_numpy() == np.diag(np.diag(table.to_numpy()))).all()


def test_cdf_metrics_and_pit(toy_data):
    result = run_cdf(toy_data, PERCENT, (CDF, ONE_OUTPUT), tiny_settings(), progress=False)
    table = evaluate.cdf_metrics(result).set_index("method")
    assert table.loc[CDF, "crps"] >= 0 and 0 <= table.loc[CDF, "coverage_80"] <= 1
    assert table.loc[CDF, "mse"] == pytest.approx(table.loc[CDF, "rmse"] ** 2)
    assert np.isnan(table.loc[ONE_OUTPUT, "coverage_80"])
    assert evaluate.coverage(table.reset_index(), CDF) == table.loc[CDF, "coverage_80"]
    assert len(evaluate.pit(result, CDF)) == table.loc[CDF, "n"]
    grades = evaluate.cdf_metrics(run_cdf(toy_data, grade_target(JSN), (CDF_GRADES,), tiny_settings(), progress=False))
    assert grades.iloc[0]["kind"] == JSN and 0 <= grades.iloc[0]["crps"] <= 1


def test_published_comparison_looks_up_the_headline_names():
    table = evaluate.published_comparison({"accuracy/plain/erosion": 0.5})
    assert len(table) and set(table.columns) >= {"value", "book", "book_name"}
    assert table.loc[table["book_name"] == "accuracy/plain/erosion", "book"].tolist() == [0.5]
