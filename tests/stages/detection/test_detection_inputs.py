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
    image, frame = inputs.load_model_input(cohort, f"img:{hand}", size=80, mirror_to_right=True)
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
