"""Tests of ra_lib.stages.grading.regression: CDF heads on the eroded surface and on the grades."""
import numpy as np
import pytest

from fixtures.crop_stores import tiny_settings
from ra_lib.cohort.sites import EROSION, JSN
from ra_lib.stages.grading import regression
from ra_lib.stages.grading.data import PROBA_COLUMNS
from ra_lib.stages.grading.settings import CDF, CDF_GRADES, ONE_OUTPUT


def test_targets():
    assert regression.PERCENT.n_thresholds == 101 and regression.PERCENT.methods == (CDF, ONE_OUTPUT)
    assert regression.grade_target(JSN).n_thresholds == 5 and regression.grade_target(EROSION).n_thresholds == 6
    assert "kind" not in regression.PERCENT.columns and "p_5" in regression.grade_target(JSN).columns


def test_tiny_cdf_training_reduces_crps(toy_data):
    trained = regression.train_cdf_model(toy_data, regression.PERCENT, CDF,
                                         tiny_settings(regression_epochs=4, regression_lr=0.01), seed=0,
                                         device="cpu", progress=False)
    losses = trained.history["train_loss"].to_numpy()
    assert losses[-1] < losses[0]
    with pytest.raises(ValueError, match="unknown regression method"):
        regression.train_cdf_model(toy_data, regression.grade_target(JSN), ONE_OUTPUT, tiny_settings(), 0, "cpu")


def test_percent_regression_predicts_every_erosion_row(toy_data):
    result = regression.run_cdf(toy_data, regression.PERCENT, (CDF, ONE_OUTPUT), tiny_settings(), progress=False)
    preds = result.predictions
    assert list(preds.columns) == regression.PERCENT.columns
    n_rows = (toy_data.rows["kind"] == EROSION).sum()
    for method in (CDF, ONE_OUTPUT):
        assert (preds["method"] == method).sum() == n_rows == len(result.survival[method])
    curves = preds[preds["method"] == CDF]
    assert (curves["q10"] <= curves["median"]).all() and (curves["median"] <= curves["q90"]).all()
    assert np.all(np.diff(result.survival[CDF], axis=1) <= 0)
    assert 0 <= result.non_monotone[CDF] <= 1 and ONE_OUTPUT not in result.non_monotone
    one = preds[preds["method"] == ONE_OUTPUT]
    assert one["q10"].isna().all() and one["mean"].between(0, 100).all()
    assert preds["imputed"].sum() == 2 * (toy_data.select(EROSION, usable=False, graded=False)["image_row"] < 0).sum()


def test_grade_cdf_gives_grade_distributions(toy_data):
    result = regression.run_cdf(toy_data, regression.grade_target(JSN), (CDF_GRADES,), tiny_settings(),
                                progress=False)
    preds = result.predictions
    assert list(preds.columns) == regression.grade_target(JSN).columns
    assert len(preds) == (toy_data.rows["kind"] == JSN).sum() and set(preds["kind"]) == {JSN}
    np.testing.assert_allclose(preds[PROBA_COLUMNS].sum(axis=1), 1.0, atol=1e-9)
    assert (preds["p_5"] == 0).all() and preds["median"].isin(range(5)).all()
    assert preds["mean"].between(0, 4).all()
    assert result.survival[CDF_GRADES].shape == (len(preds), 5)
