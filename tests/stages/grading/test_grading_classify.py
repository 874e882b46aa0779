"""Tests of ra_lib.stages.grading.classify: remedy training and per-row grade predictions."""
import numpy as np
import pandas as pd
import pytest

from fixtures.crop_stores import tiny_settings
from ra_lib.cohort.sites import EROSION, JSN, hand_sites
from ra_lib.stages.grading import classify
from ra_lib.stages.grading.data import PROBA_COLUMNS
from ra_lib.stages.grading.settings import MAJORITY, METHODS, OVERSAMPLE, PLAIN


def test_tiny_training_reduces_loss(toy_data):
    trained = classify.train_grader(toy_data, JSN, PLAIN, tiny_settings(epochs=4, lr=0.05), seed=0, device="cpu",
                                    progress=False)
    losses = trained.history["train_loss"].to_numpy()
    assert losses[-1] < losses[0]
    with pytest.raises(ValueError, match="unknown grading method"):
        classify.train_grader(toy_data, JSN, "focal", tiny_settings(), seed=0, device="cpu")


def test_run_grading_predicts_every_site_of_every_test_hand(toy_data):
    result = classify.run_grading(toy_data, tiny_settings(epochs=1), seed=0, progress=False)
    preds = result.predictions
    assert list(preds.columns) == classify.PREDICTION_COLUMNS
    test_hands = toy_data.rows.loc[toy_data.rows["split"] == "test", "hand_id"].unique()
    for method in (*METHODS, MAJORITY):
        sub = preds[(preds["method"] == method) & (preds["split"] == "test")]
        assert set(sub["hand_id"]) == set(test_hands)
        assert sub.groupby("hand_id").size().eq(len(hand_sites())).all()
    np.testing.assert_allclose(preds[PROBA_COLUMNS].sum(axis=1), 1.0, atol=1e-5)
    assert (preds.loc[preds["kind"] == JSN, "p_5"] == 0).all()
    assert preds["imputed"].sum() == toy_data.counts["flagged"] * (len(METHODS) + 1)
    flagged = preds[preds["imputed"] & (preds["method"] == PLAIN) & (preds["kind"] == EROSION)]
    prior = np.bincount(toy_data.select(EROSION, "train")["grade"].astype(int), minlength=6) / \
        len(toy_data.select(EROSION, "train"))
    np.testing.assert_allclose(flagged[PROBA_COLUMNS].to_numpy(), np.tile(prior, (len(flagged), 1)))
    assert len(result.timings) == 2 * len(METHODS)


def test_run_grading_trains_only_the_given_kinds(toy_data):
    result = classify.run_grading(toy_data, tiny_settings(methods=(PLAIN,)), seed=0, progress=False, kinds=(JSN,))
    assert set(result.predictions["kind"]) == {JSN} and set(result.predictions["method"]) == {PLAIN, MAJORITY}


def test_runs_are_deterministic(toy_data):
    settings = tiny_settings(methods=(OVERSAMPLE,))
    first = classify.run_grading(toy_data, settings, seed=4, progress=False).predictions
    second = classify.run_grading(toy_data, settings, seed=4, progress=False).predictions
    pd.testing.assert_frame_equal(first, second)
