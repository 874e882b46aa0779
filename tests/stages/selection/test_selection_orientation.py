"""Stage 1 orientation: the 12 classes, the 8 exact variants and their labels, the model, the stage's outputs."""
import numpy as np
import pandas as pd
import pytest
import torch

from fixtures.selection_cohorts import oriented_settings, oriented_toy_cohort, toy_settings
from ra_lib.core import geometry
from ra_lib.core.errors import RaDataError
from ra_lib.stages.selection import HEADLINE_NAMES, PROFILES
from ra_lib.stages.selection.orientation import (CLASSES, VARIANTS, class_index, decode, orientation_truth, upright,
                                                 variant_classes, variant_orientation, variants)
from ra_lib.stages.selection.orientation_evaluate import TABLE_COLUMNS, VARIANT_COLUMNS
from ra_lib.stages.selection.orientation_model import predict_orientation, train_orientation

ORIENTATION_NAMES = ("accuracy/orientation/rotation", "accuracy/orientation/thumb_side",
                     "accuracy/orientation/twelve_class")


def _upright_hand(seed: int = 0) -> np.ndarray:
    """A random non-square image: no turn or mirror of it equals another."""
    return np.random.default_rng(seed).random((6, 9)).astype(np.float32)


def test_classes_follow_shs_net_numbering():
    assert len(CLASSES) == 12 and len(VARIANTS) == 8 == len(set(VARIANTS))
    assert [class_index("both_hands", "", k) for k in range(4)] == [0, 1, 2, 3]
    assert [class_index("one_hand", "right", k) for k in range(4)] == [4, 5, 6, 7]
    assert [class_index("one_hand", "left", k) for k in range(4)] == [8, 9, 10, 11]
    assert CLASSES[5] == "thumb_right/90"
    with pytest.raises(ValueError, match="other"):
        class_index("other", "", 0)


@pytest.mark.parametrize("mirrored", [False, True])
@pytest.mark.parametrize("k", range(4))
def test_undo_orientation_inverts_every_variant_exactly(k, mirrored):
    image = _upright_hand()
    turned = geometry.orient(image, k, mirrored)
    np.testing.assert_array_equal(geometry.undo_orientation(turned, k, mirrored), image)
    tensor = torch.from_numpy(image)
    assert torch.equal(geometry.undo_orientation(geometry.orient(tensor, k, mirrored), k, mirrored), tensor)


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("k0", range(4))
def test_the_8_variants_of_a_stored_hand_have_the_right_labels(k0, side):
    canonical = _upright_hand()  # upright, thumb right
    stored = geometry.orient(canonical, k0, side == "left")
    for turns, mirrored in VARIANTS:
        k, thumb = variant_orientation(k0, side, turns, mirrored)
        variant = geometry.orient(stored, turns, mirrored)
        np.testing.assert_array_equal(geometry.undo_orientation(variant, k, thumb == "left"), canonical)


def test_both_hands_variants_keep_their_group():
    canonical = _upright_hand(1)
    stored = geometry.rotate90(canonical, 3)
    for turns, mirrored in VARIANTS:
        k, side = variant_orientation(3, "", turns, mirrored)
        assert side == ""
        upright_again = geometry.rotate90(geometry.orient(stored, turns, mirrored), -k)
        np.testing.assert_array_equal(upright_again, geometry.mirror(canonical) if mirrored else canonical)
    assert sorted(set(variant_classes(["both_hands"], [""], [3])[0])) == [0, 1, 2, 3]


def test_variants_stack_image_by_image():
    images = torch.rand(2, 1, 5, 5)
    stacked = variants(images)
    assert stacked.shape == (16, 1, 5, 5)
    for i, (k, mirrored) in enumerate(VARIANTS):
        assert torch.equal(stacked[8 + i], geometry.orient(images[1], k, mirrored))
    labels = variant_classes(["one_hand", "both_hands"], ["right", ""], [0, 0])
    assert labels.shape == (2, 8)
    assert labels[0].tolist() == [4, 5, 6, 7, 8, 9, 10, 11]


def test_decode_and_upright():
    probabilities = np.full((1, 12), 0.01)
    probabilities[0, class_index("one_hand", "left", 1)] = 0.89
    row = decode(probabilities).iloc[0]
    assert (row["orientation_pred"], row["rot90_k_pred"], row["thumb_side_pred"], row["view_pred"]) == \
           ("thumb_left/90", 1, "left", "one_hand")
    canonical = _upright_hand()
    np.testing.assert_array_equal(upright(geometry.orient(canonical, 1, True), row), canonical)
    np.testing.assert_array_equal(upright(geometry.orient(canonical, 1, False), row, thumb_side="left"), canonical)
    with pytest.raises(ValueError, match="thumb_side"):
        upright(canonical, row, thumb_side="up")


def test_model_trains_and_predicts_shapes():
    settings = oriented_settings(orientation_epochs=1, orientation_copies=1)
    images = torch.rand(6, 1, 24, 24)
    views, sides = ["one_hand"] * 3 + ["both_hands"] * 3, ["left", "right", "left", "", "", ""]
    model, history = train_orientation(images, views, sides, [0, 1, 2, 3, 0, 1], ["train"] * 4 + ["val"] * 2,
                                       settings, seed=0)
    assert list(history.columns) == ["epoch", "train_loss", "val_loss"] and len(history) == 1
    probabilities = predict_orientation(model, images)
    assert probabilities.shape == (6, 12)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert predict_orientation(model, images[:0]).shape == (0, 12)


def test_stage_learns_the_oriented_toy(oriented_result):
    headline = oriented_result.headline()
    assert set(ORIENTATION_NAMES) <= set(HEADLINE_NAMES) and tuple(headline) == HEADLINE_NAMES
    assert oriented_result.orientation.skipped is None
    assert all(headline[name] >= 0.9 for name in ORIENTATION_NAMES)


def test_orientation_csv_and_variant_rows(oriented_result):
    table, images = oriented_result.orientation.table, oriented_result.images
    hands = images[images["class"] != "other"]
    assert list(table.columns) == TABLE_COLUMNS and table["image_id"].tolist() == hands["image_id"].tolist()
    assert (table["rot90_k_true"].to_numpy() == hands["rot90_k"].to_numpy()).all()
    probabilities = table[[f"p_{c}" for c in CLASSES]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    tested = oriented_result.orientation.variants
    assert list(tested.columns) == VARIANT_COLUMNS and len(tested) == 8 * (hands["split"] == "test").sum()


def test_cohort_without_truth_skips_the_orientation_model(toy_result):
    orientation = toy_result.orientation
    assert "no orientation truth" in orientation.skipped
    assert orientation.table.empty and list(orientation.table.columns) == TABLE_COLUMNS
    assert all(toy_result.headline()[name] is None for name in ORIENTATION_NAMES)


class _Cohort:
    def __init__(self, images, data_root):
        self.images, self.data_root = images, data_root


def test_truth_is_read_from_the_synthetic_truth_file(tmp_path):
    images = pd.DataFrame({"image_id": ["a", "b", "c"], "view": ["left_hand", "both_hands", "other"]})
    pd.DataFrame({"image_id": ["c", "b", "a"], "rot90_k": [0, 2, 1], "thumb_side": ["", "", "left"],
                  "view": ["other", "both_hands", "left_hand"]}).to_csv(tmp_path / "truth_images.csv", index=False)
    truth = orientation_truth(_Cohort(images, tmp_path), ["one_hand", "both_hands", "other"])
    assert truth["rot90_k"].tolist() == [1, 2, 0] and truth["thumb_side"].tolist() == ["left", "", ""]
    assert orientation_truth(_Cohort(images, tmp_path / "absent"), ["one_hand", "both_hands", "other"]) is None


@pytest.mark.parametrize("rot90_k, thumb_side, message",
                         [(4, "left", "rot90_k '4'"), (1, "", "one hand with thumb_side ''")])
def test_bad_truth_names_the_file_and_image(tmp_path, rot90_k, thumb_side, message):
    images = pd.DataFrame({"image_id": ["a"], "view": ["left_hand"]})
    pd.DataFrame({"image_id": ["a"], "rot90_k": [rot90_k], "thumb_side": [thumb_side]}).to_csv(
        tmp_path / "truth_images.csv", index=False)
    with pytest.raises(RaDataError, match=f"truth_images.csv.*\n.*a: {message}"):
        orientation_truth(_Cohort(images, tmp_path), ["one_hand"])


def test_orientation_settings_per_profile_and_checks():
    assert {PROFILES[p].orientation_input_size for p in PROFILES} == {32, 64, 128}
    with pytest.raises(ValueError, match="orientation_input_size"):
        toy_settings(orientation_input_size=8)
    with pytest.raises(ValueError, match="orientation_copies"):
        toy_settings(orientation_copies=-1)


def test_oriented_toy_stores_the_truth_it_draws():
    cohort = oriented_toy_cohort()
    hands = cohort.images[cohort.images["view"] != "other"]
    assert set(hands["rot90_k"]) == {0, 1, 2, 3}
    assert set(cohort.images.loc[cohort.images["view"] == "left_hand", "thumb_side"]) == {"left", "right"}
