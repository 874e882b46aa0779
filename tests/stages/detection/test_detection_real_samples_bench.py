import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fixtures.builders import make_native_cohort
from fixtures.real_samples import write_hands_joints
from ra_lib.cohort import load_cohort
from ra_lib.stages.detection import inputs

BENCH = Path(__file__).resolve().parents[3] / "bench" / "detection_real_samples.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("detection_real_samples", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_real_hands_read_as_a_cohort_with_the_books_landmarks(bench, tmp_path):
    real = bench.RealHands(write_hands_joints(tmp_path))
    assert list(real.hands["hand_id"]) == ["test_img1_L:L", "test_img5_R:R"]
    assert list(real.hands["patient"]) == ["test_img1", "test_img5"] and (real.hands["x1"] == 63).all()
    assert set(real.landmarks["landmark"]) == set(bench.LANDMARK_NAMES.values())  # W1 left out
    ip = real.landmarks[(real.landmarks.hand_id == "test_img1_L:L") & (real.landmarks.landmark == "mcp1")]
    assert ip[["x", "y"]].iloc[0].tolist() == [25.0, 40.0]  # MP is the thumb MCP
    left = real.load_hand("test_img1_L:L", mirror_to_right=True)
    assert left.shape == (91, 63) and left[:, 62 - 10].min() == 1.0  # left hands mirrored, as stage 2 does
    images, frames = inputs.load_model_inputs(real, list(real.hands["hand_id"]), 32, progress=False)
    assert images.shape == (2, 32, 32) and frames[0].mirrored and not frames[1].mirrored


def test_scores_follow_paper_001s_box_rule(bench, tmp_path):
    real = bench.RealHands(write_hands_joints(tmp_path))
    detections = real.landmarks.assign(likelihood=1.0, detector="dlc")
    detections.loc[detections.landmark == "ip", "x"] += 1000.0
    figures = bench.score(detections, real, ["test_img1_L:L"])
    assert figures["transfer/detection_rate"] == pytest.approx(0.9) and figures["transfer/landmarks"] == 10
    assert figures["transfer/mean_error_px"] == pytest.approx(100.0)
    assert np.isfinite(bench.per_landmark(detections, real, ["test_img1_L:L"]).loc["ip", "error_px"])
    assert isinstance(bench.per_landmark(detections, real, ["test_img1_L:L"]), pd.DataFrame)


def test_the_synthetic_cohort_is_turned_upright_by_its_generators_truth(bench, tmp_path):
    cohort = load_cohort(make_native_cohort(tmp_path / "c", n_patients=3))
    assert bench.upright_by_truth(cohort) is cohort  # no truth_images.csv: as stored
    first = cohort.images["image_id"].iloc[0]
    pd.DataFrame({"image_id": cohort.images["image_id"], "rot90_k": [1] + [0] * (len(cohort.images) - 1),
                  "thumb_side": "left"}).to_csv(
        cohort.data_root / "truth_images.csv", index=False)
    upright = bench.upright_by_truth(cohort)
    before, after = (c.images.set_index("image_id").loc[first, ["width", "height"]].tolist() for c in (cohort, upright))
    assert after == before[::-1] and upright.load_image(first).shape == tuple(before)
