"""Tests of ra_lib.stages.grading.pipeline: run() and its headline contract."""
from types import SimpleNamespace

import pytest

from fixtures.crop_stores import tiny_settings
from ra_lib.core import contracts
from ra_lib.stages import grading
from ra_lib.stages.grading.pipeline import HEADLINE_NAMES


@pytest.fixture(scope="module")
def result(toy):
    store, cohort = toy
    return grading.run(cohort, tiny_settings(), seed=0, device="cpu", crop_store=store, progress=False)


def test_public_api():
    assert grading.STAGE == contracts.GRADING
    assert grading.HEADLINE_NAMES is HEADLINE_NAMES
    assert {"GradingSettings", "PROFILES", "run", "GradingResult"} <= set(grading.__all__)


def test_headline_names_are_the_declared_contract():
    names = set(HEADLINE_NAMES)
    assert len(names) == len(HEADLINE_NAMES) == 5 * 4 * 2 + 4 + 2 + 4
    for name in ("accuracy/plain/erosion", "class_normalised_accuracy_pm1/majority_baseline/jsn",
                 "rmse/class_weights/jsn", "balanced_accuracy/oversample_aug/erosion", "mse_pct/cdf",
                 "mae_pct/one_output", "crps/cdf/erosion", "crps/one_output/erosion", "crps/cdf_grades/jsn",
                 "rmse/cdf_grades/erosion"):
        assert name in names


def test_run_fills_every_headline_value(result):
    headline = result.headline()
    assert list(headline) == list(HEADLINE_NAMES)
    assert all(isinstance(value, float) for value in headline.values())
    grading_table = result.grading_table().set_index(["kind", "method"])
    assert headline["accuracy/plain/jsn"] == grading_table.loc[("jsn", "plain"), "accuracy"]
    regression = result.regression_table().set_index("method")
    assert headline["mse_pct/cdf"] == regression.loc["cdf", "mse"]
    assert headline["crps/one_output/erosion"] == regression.loc["one_output", "crps"]
    assert headline["rmse/cdf_grades/jsn"] == result.grade_cdf_table().set_index("kind").loc["jsn", "rmse"]


def test_result_tables_for_the_artifacts(result):
    details = result.details()
    assert {"counts", "grading_test", "learning_check", "regression_test", "grade_cdf_test", "train_seconds"} \
        <= set(details)
    assert set(details["train_seconds"]) == {"plain", "oversample_aug", "class_weights", "cdf", "one_output",
                                             "cdf_grades"}
    assert len(result.grade_cdf_predictions()) == len(result.data.rows)
    assert set(result.histories()["method"]) == set(details["train_seconds"])


def test_missing_data_gives_none(toy):
    store, cohort = toy
    no_pct = SimpleNamespace(scores=cohort.scores.drop(columns="eroded_pct"), folds=cohort.folds)
    erosion_only = SimpleNamespace(scores=no_pct.scores[no_pct.scores["kind"] == "erosion"], folds=cohort.folds)
    store = type(store)(store.images, store.index[store.index["kind"] == "erosion"])
    result = grading.run(erosion_only, tiny_settings(methods=("plain",)), seed=0, crop_store=store, progress=False)
    headline = result.headline()
    assert result.regression is None and set(result.grade_cdf) == {"erosion"}
    assert headline["mse_pct/cdf"] is None and headline["crps/cdf/erosion"] is None
    assert headline["accuracy/plain/jsn"] is None and headline["rmse/cdf_grades/jsn"] is None
    assert headline["accuracy/class_weights/erosion"] is None  # not trained by this profile
    assert headline["accuracy/plain/erosion"] is not None and headline["crps/cdf_grades/erosion"] is not None


def test_write_tables_removes_a_table_this_run_did_not_fit(result, tmp_path):
    (tmp_path / "cdf_predictions.csv").write_text("from an earlier run\n")
    result.write_tables(tmp_path)
    assert (tmp_path / "grade_predictions.csv").exists() and (tmp_path / "grade_cdf_predictions.csv").exists()
    assert (tmp_path / "cdf_predictions.csv").exists() == (result.regression is not None)
    without = grading.GradingResult(result.settings, result.data, result.remedies, None, {})
    without.write_tables(tmp_path)
    assert not (tmp_path / "cdf_predictions.csv").exists() and not (tmp_path / "grade_cdf_predictions.csv").exists()
