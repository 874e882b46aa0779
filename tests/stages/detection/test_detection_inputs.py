from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ra_lib.core import geometry
from ra_lib.stages.detection import inputs


def _blob_cohort(x: float, y: float, hand: str = "R", x0: int = 20, x1: int = 60, height: int = 40):
    """One image, one hand spanning columns x0:x1, a Gaussian blob centred on (x, y)."""
    yy, xx = np.mgrid[:height, :80]
    image = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 2.0 ** 2)).astype(np.float32)
    hands = pd.DataFrame({"hand_id": [f"img:{hand}"], "image_id": ["img"], "patient": ["P-1"], "hand": [hand],
                          "x0": [x0], "x1": [x1]})

    def load_hand(hand_id, size=None, mirror_to_right=False):
        crop = image[:, x0:x1]
        return np.ascontiguousarray(crop[:, ::-1] if mirror_to_right and hand == "L" else crop)

    return SimpleNamespace(hands=hands, load_hand=load_hand)


def _centroid(image):
    yy, xx = np.mgrid[:image.shape[0], :image.shape[1]]
    return (image * xx).sum() / image.sum(), (image * yy).sum() / image.sum()


@pytest.mark.parametrize("hand", ["R", "L"])
def test_model_coordinates_follow_the_resized_pixels(hand):
    cohort = _blob_cohort(37.3, 18.6, hand=hand)
    image, frame = inputs.load_model_input(cohort, f"img:{hand}", size=80)
    assert image.shape == (80, 80) and frame.mirrored == (hand == "L")
    mx, my = frame.to_model(37.3, 18.6)
    cx, cy = _centroid(image)
    assert abs(cx - mx) < 0.2 and abs(cy - my) < 0.2
    back = frame.to_image(mx, my)
    assert np.allclose(back, (37.3, 18.6))


def test_model_inputs_are_resized_by_the_geometry_module():
    cohort = _blob_cohort(30, 20)
    images, frames = inputs.load_model_inputs(cohort, ["img:R"], size=16, progress=False)
    expected = geometry.resize(cohort.load_hand("img:R", mirror_to_right=True), 16)
    np.testing.assert_array_equal(images[0], expected)
    assert images.dtype == np.float32 and frames[0].size == 16
    empty, none = inputs.load_model_inputs(cohort, [], size=16, progress=False)
    assert empty.shape == (0, 16, 16) and none == []


def test_crop_width_must_match_the_hand_table():
    cohort = _blob_cohort(30, 20)
    cohort.hands.loc[0, "x1"] = 70
    with pytest.raises(ValueError, match="img:R.*crop width 40"):
        inputs.load_model_input(cohort, "img:R", size=32)
    with pytest.raises(KeyError, match="nope"):
        inputs.load_model_input(cohort, "nope", size=32)


def _frame(hand_id="h:R", mirrored=False):
    return inputs.HandFrame(hand_id, x0=100, width=50, height=100, size=25, mirrored=mirrored)


def test_keypoints_and_predictions_round_trip():
    frames = [_frame("a:R"), _frame("b:L", mirrored=True)]
    landmarks = pd.DataFrame({"hand_id": ["a:R", "b:L", "b:L"], "landmark": ["pip2", "pip2", "radius"],
                              "x": [110.0, 120.0, 140.0], "y": [30.0, 50.0, 90.0]})
    points = inputs.keypoints_in_model(landmarks, frames, ["pip2", "radius"])
    assert points.shape == (2, 2, 2) and np.isnan(points[0, 1]).all()
    preds = np.concatenate([points, np.ones((2, 2, 1))], axis=2)
    table = inputs.predictions_to_table(preds, frames, ["pip2", "radius"], "dlc")
    assert list(table.columns) == list(inputs.DETECTION_COLUMNS)
    merged = table.merge(landmarks, on=["hand_id", "landmark"], suffixes=("", "_true"))
    assert np.allclose(merged[["x", "y"]], merged[["x_true", "y_true"]])
    with pytest.raises(ValueError, match="expected \\(2, 3, 3\\)"):
        inputs.predictions_to_table(preds, frames, ["pip2", "radius", "ulna"], "dlc")


def test_mirrored_frame_flips_columns():
    frame = _frame(mirrored=True)
    x, _ = frame.to_model(100.0, 0.0)  # the first column of a left hand is the last of the model input
    assert x == pytest.approx(24.5 - 0.25)


def _hands_table(sides):
    return pd.DataFrame({"hand_id": [f"h{n}:{side}" for n, side in enumerate(sides)], "hand": list(sides)})


def _thumb_landmarks(hand_ids, thumb_left):
    rows = []
    for hand_id, left in zip(hand_ids, thumb_left):
        thumb, little = (10.0, 90.0) if left else (90.0, 10.0)
        rows += [(hand_id, "mcp1", thumb, 50.0), (hand_id, "ip", thumb, 30.0), (hand_id, "mcp5", little, 50.0)]
    return pd.DataFrame(rows, columns=["hand_id", "landmark", "x", "y"])


def test_thumb_right_sides_follow_the_cohorts_display_convention():
    hands = _hands_table("LLRR")
    palmar = _thumb_landmarks(hands["hand_id"], [True, True, False, False])  # left hands: thumb on the left
    dorsal = _thumb_landmarks(hands["hand_id"], [False, False, True, True])  # RA2-DREAM: left hand, thumb right
    assert inputs.thumb_right_sides(palmar, hands) == {"L"}
    assert inputs.thumb_right_sides(dorsal, hands) == {"R"}
    only_left = _thumb_landmarks(hands["hand_id"][:2], [False, False])
    assert inputs.thumb_right_sides(only_left, hands) == {"R"}  # the right hands: the mirror image
    assert inputs.thumb_right_sides(palmar.iloc[0:0], hands) == inputs.DEFAULT_MIRRORED_SIDES


def test_mirrored_sides_decide_which_hands_are_flipped():
    cohort = _blob_cohort(30, 20, hand="R")
    image, frame = inputs.load_model_input(cohort, "img:R", size=16, mirrored_sides=frozenset({"R"}))
    assert frame.mirrored
    np.testing.assert_array_equal(image, geometry.resize(geometry.mirror(cohort.load_hand("img:R")), 16))
