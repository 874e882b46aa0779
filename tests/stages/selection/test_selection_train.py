"""Stage 1 training: the toy models learn, training is deterministic, tasks are checked."""
import numpy as np
import pytest

from fixtures.selection_cohorts import toy_cohort, toy_settings
from ra_lib.stages.selection.data import TASKS, preload_images, split_images, view_classes
from ra_lib.stages.selection.train import build_model, train_models


def _inputs(cohort, settings):
    images = cohort.images
    cache = preload_images(images["image_id"].tolist(), cohort.load_image, settings.input_size, progress=False)
    split = split_images(images["patient"], cohort.folds, settings.test_fraction, settings.val_fraction)["split"]
    return cache, view_classes(images["view"]), split.to_numpy()


def test_build_model_has_one_output_per_class():
    settings = toy_settings()
    assert [build_model(task, settings).classifier[-1].out_features for task in TASKS] == [2, 2, 3]


def test_training_is_deterministic(toy, toy_result):
    settings = toy_settings()
    again = train_models(*_inputs(toy, settings), settings, seed=0, tasks=("model1",), progress=False)
    np.testing.assert_allclose(again.probabilities["model1"], toy_result.trained.probabilities["model1"], atol=1e-6)
    assert list(again.histories["model1"].columns) == ["epoch", "train_loss", "val_loss"]


def test_model1_learns_the_toy_set(toy_result):
    probabilities = toy_result.trained.probabilities["model1"][:, 1]
    truth = toy_result.images["class"].to_numpy() == "one_hand"
    test = toy_result.images["split"].to_numpy() == "test"
    assert ((probabilities[test] >= 0.5) == truth[test]).mean() >= 0.9


def test_model2_rest_holds_one_hand_images_without_other():
    cohort = toy_cohort(["left_hand", "both_hands", "right_hand"] * 8, seed=2)
    settings = toy_settings(epochs=1)
    trained = train_models(*_inputs(cohort, settings), settings, seed=0, tasks=("model2",), progress=False)
    assert set(trained.plans["model2"]["label"]) == {"both_hands", "rest"}
    table2 = trained.table2
    assert (table2["augmented"] >= table2["original"]).all()


def test_unknown_task_is_named():
    settings = toy_settings()
    with pytest.raises(ValueError, match="model3"):
        train_models(None, None, None, settings, seed=0, tasks=("model3",))
