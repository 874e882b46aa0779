"""Stage 1 run: the headline contract, the toy run's numbers, the one-class cohort, metrics.json."""
import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from fixtures.selection_cohorts import one_hand_cohort, oriented_toy_cohort, toy_cohort, toy_settings
from ra_lib.core import artifacts, contracts
from ra_lib.core.bundles import load_bundle
from ra_lib.stages.scoring.models import SelectionModel
from ra_lib.stages.selection import HEADLINE_NAMES, PROFILES, STAGE, run
from ra_lib.stages.selection.data import CLASSES
from ra_lib.stages.selection.evaluate import FUSION, PREDICTION_COLUMNS, THREE_CLASS
from ra_lib.stages.selection.stage import write_bundle

REQUIRED = ("accuracy/model1_one_hand", "accuracy/model2_both_hands", "accuracy/two_binary_fused",
            "accuracy/three_class", "accuracy/dicom_tags", "accuracy/majority_class",
            "accuracy_rotated/two_binary_fused", "test_images")


def test_stage_id_and_headline_names():
    assert STAGE == contracts.SELECTION
    assert set(REQUIRED) <= set(HEADLINE_NAMES) and len(set(HEADLINE_NAMES)) == len(HEADLINE_NAMES)


def test_toy_run_learns_and_fills_the_headline(toy_result):
    headline = toy_result.headline()
    assert tuple(headline) == HEADLINE_NAMES
    assert all(isinstance(v, float) for name, v in headline.items()
               if not name.startswith("accuracy/orientation/"))  # the toy has no orientation truth
    assert headline["accuracy/two_binary_fused"] >= 0.9
    assert headline["accuracy/two_binary_fused"] > headline["accuracy/majority_class"]
    test = toy_result.images["split"] == "test"
    assert headline["test_images"] == test.sum()
    fused = toy_result.predictions.query("model == @FUSION and split == 'test'")
    assert headline["accuracy/two_binary_fused"] == pytest.approx(accuracy_score(fused["view_true"],
                                                                                 fused["view_pred"]))
    assert headline["accuracy/model1_one_hand"] == pytest.approx(
        accuracy_score(fused["view_true"] == "one_hand", fused["p_one_hand"] >= 0.5))
    rotation = toy_result.rotation.set_index(["model", "orientation"])
    assert headline["accuracy_rotated/two_binary_fused"] == rotation.loc[(FUSION, "rotated"), "accuracy"]


def test_split_comes_from_the_cohort_folds(toy, toy_result):
    images = toy_result.images
    assert set(images.loc[images["split"] == "test", "fold"]) == {0}  # 5 folds: 1 test, 1 val, 3 train
    assert set(images.loc[images["split"] == "val", "fold"]) == {1}
    fold_of = dict(zip(toy.folds["patient"], toy.folds["fold"]))
    assert images["fold"].tolist() == images["patient"].map(fold_of).tolist()


def test_predictions_and_rotation_check(toy_result):
    predictions = toy_result.predictions
    assert list(predictions.columns) == PREDICTION_COLUMNS and len(predictions) == 3 * len(toy_result.images)
    assert set(predictions["view_pred"]) <= set(CLASSES)
    rotated = toy_result.rotated
    n_hands = ((toy_result.images["split"] == "test") & (toy_result.images["class"] != "other")).sum()
    assert len(rotated) == 4 * n_hands
    upright = rotated.query("orientation == 'upright' and model == @FUSION")
    expected = predictions.query("model == @FUSION").set_index("image_id").loc[upright["image_id"], "view_pred"]
    assert (upright["view_pred"].to_numpy() == expected.to_numpy()).all()
    assert set(toy_result.rotation["model"]) == {FUSION, THREE_CLASS}


def test_metrics_json_round_trip(toy_result, tmp_path):
    import dataclasses
    artifacts.write_metrics(tmp_path, toy_result.headline(), profile="smoke", seed=0,
                            settings=dataclasses.asdict(toy_result.settings), **toy_result.details())
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["headline"] == toy_result.headline()
    assert {"table2", "rotation_check", "split_counts", "test_metrics", "skipped"} <= set(written)


def test_one_class_cohort_trains_nothing():
    cohort = one_hand_cohort()
    result = run(cohort, toy_settings(), seed=0, device="cpu", progress=False)
    assert "one class (one_hand)" in result.skipped
    assert cohort.reads == 0 and result.trained is None
    headline = result.headline()
    assert tuple(headline) == HEADLINE_NAMES
    assert headline["test_images"] == (result.images["split"] == "test").sum() > 0
    assert all(v is None for name, v in headline.items() if name != "test_images")
    assert result.predictions.empty and list(result.predictions.columns) == PREDICTION_COLUMNS
    assert result.table2.empty and result.rotation.empty


def test_cohort_without_other_images_still_runs():
    cohort = toy_cohort(["left_hand", "both_hands", "right_hand"] * 8, seed=2)
    result = run(cohort, toy_settings(epochs=2), seed=0, progress=False)
    assert result.skipped is None
    confusion = result.metrics["models"][FUSION]["confusion"]
    assert confusion["other"] == {"one_hand": 0, "both_hands": 0, "other": 0}
    assert np.isfinite(result.headline()["accuracy/two_binary_fused"])


def test_smoke_profile_runs_on_auto_device():
    cohort = toy_cohort(["left_hand", "both_hands", "other"] * 6, seed=1)
    result = run(cohort, PROFILES["smoke"], seed=0, device="auto", progress=False)
    assert result.headline()["test_images"] > 0


def test_bundle_gives_the_trained_models_probabilities(toy, toy_result, tmp_path):
    bundle = load_bundle(write_bundle(toy_result, tmp_path / "bundle"), STAGE)
    assert bundle.models == ("model1", "model2", "three_class")
    assert bundle.settings["input_size"] == toy_result.settings.input_size
    assert bundle.headline == toy_result.headline()
    model = SelectionModel(bundle)
    for row, image_id in enumerate(toy_result.images["image_id"][:6]):
        predicted = model.predict(toy.load_image(image_id))
        assert predicted["p_one_hand"] == pytest.approx(toy_result.trained.probabilities["model1"][row, 1], abs=1e-5)
        assert predicted["p_both_hands"] == pytest.approx(toy_result.trained.probabilities["model2"][row, 1], abs=1e-5)


def test_bundle_keeps_the_orientation_model_and_its_predictions(oriented_result, tmp_path):
    bundle = load_bundle(write_bundle(oriented_result, tmp_path / "bundle"), STAGE)
    assert "orientation" in bundle.models and len(bundle.extra["orientation_classes"]) == 12
    model = SelectionModel(bundle)
    cohort = oriented_toy_cohort()
    for _, row in oriented_result.orientation.table.head(6).iterrows():
        predicted = model.orient(cohort.load_image(row["image_id"]))
        assert predicted["orientation_pred"] == row["orientation_pred"]
        assert predicted["rot90_k_pred"] == row["rot90_k_pred"]
        assert predicted["thumb_side_pred"] == row["thumb_side_pred"]
        assert predicted["p_thumb_right/0"] == pytest.approx(row["p_thumb_right/0"], abs=1e-5)


def test_bundle_without_an_orientation_model_orients_nothing(toy_result, tmp_path):
    model = SelectionModel(load_bundle(write_bundle(toy_result, tmp_path / "bundle"), STAGE))
    assert model.orientation is None and model.orient(np.zeros((8, 8), np.float32)) is None


def test_a_one_hand_cohort_bundles_its_class_and_takes_every_image_as_one_hand(tmp_path):
    cohort = one_hand_cohort()
    run(cohort, toy_settings(), seed=0, device="cpu", progress=False, bundle_dir=tmp_path / "bundle")
    bundle = load_bundle(tmp_path / "bundle", STAGE)
    assert bundle.extra["assumed_class"] == "one_hand" and not {"model1", "model2"} & set(bundle.models)
    model = SelectionModel(bundle)
    assert model.predict(np.zeros((8, 8), np.float32)) == {"selection": "one_hand", "p_one_hand": None,
                                                           "p_both_hands": None}
    assert not model.uncertain(None, None, 0.1)


def test_a_cohort_of_other_images_alone_writes_no_bundle(tmp_path):
    (tmp_path / "bundle").mkdir()
    run(toy_cohort(["other"] * 12), toy_settings(), seed=0, device="cpu", progress=False,
        bundle_dir=tmp_path / "bundle")
    assert not (tmp_path / "bundle").exists()
