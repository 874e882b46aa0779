"""Comparing two cohorts' images: foreground share, histograms, finger spacing, sampling and the summary."""
import numpy as np
import pandas as pd
import pytest

from fixtures.builders import make_ra2_cohort
from ra_lib.cohort import comparison, load_cohort
from ra_lib.core.errors import ManifestError


def _block_image(height=64, width=64, background=0.1, hand=0.8):
    """A dark frame with a bright block over a quarter of it."""
    image = np.full((height, width), background, np.float32)
    image[height // 4:3 * height // 4, width // 4:3 * width // 4] = hand
    return image


def test_otsu_threshold_splits_background_from_hand():
    threshold = comparison.otsu_threshold(_block_image())
    assert 0.1 <= threshold < 0.8


def test_a_blank_image_has_no_foreground():
    measured = comparison.measure_image(np.full((40, 30), 0.5, np.float32))
    assert measured["coverage"] == 0.0 and np.isnan(measured["hand_intensity"])
    assert not measured["hand_histogram"].any()


def test_measure_image_gives_size_coverage_and_histograms():
    measured = comparison.measure_image(_block_image(height=64, width=48))
    assert (measured["width"], measured["height"]) == (48, 64)
    assert measured["coverage"] == pytest.approx(0.25)
    assert measured["hand_intensity"] == pytest.approx(0.8)
    assert measured["frame_histogram"].sum() == pytest.approx(1.0)
    assert measured["frame_histogram"].shape == (comparison.HISTOGRAM_BINS,)
    assert measured["frame_histogram"][int(0.1 * comparison.HISTOGRAM_BINS)] == pytest.approx(0.75)


def test_coverage_is_measured_downsampled_and_keeps_the_aspect_ratio():
    small = comparison.downsampled(_block_image(height=512, width=256))
    assert small.shape == (comparison.FOREGROUND_SIDE, comparison.FOREGROUND_SIDE // 2)
    assert comparison.downsampled(_block_image()).shape == (64, 64)  # already small: kept
    assert comparison.measure_image(_block_image(height=512, width=256))["coverage"] == pytest.approx(0.25, abs=0.02)


def _hand(hand_id, mcp_step, pip_step, rows=("mcp", "pip")):
    """Fingers 2-5 with MCPs ``mcp_step`` apart at y = 100 and PIPs ``pip_step`` apart 40 px above them."""
    points = []
    for finger in range(2, 6):
        if "mcp" in rows:
            points.append((hand_id, f"mcp{finger}", mcp_step * finger, 100.0))
        if "pip" in rows:
            points.append((hand_id, f"pip{finger}", mcp_step * finger + (pip_step - mcp_step) * (finger - 3.5), 60.0))
    return points


def test_finger_spacing_is_scaled_by_the_proximal_phalanx():
    landmarks = pd.DataFrame(_hand("a:L", 10.0, 10.0) + _hand("b:R", 20.0, 20.0),
                             columns=["hand_id", "landmark", "x", "y"])
    spacing = comparison.finger_spacing(landmarks).set_index("hand_id")
    phalanx = np.hypot(0.0, 40.0)  # fingers 3 and 4 straight; median over fingers 2-5
    assert spacing.loc["a:L", "mcp_gap"] == pytest.approx(10.0 / phalanx, rel=0.05)
    assert spacing.loc["b:R", "mcp_gap"] == pytest.approx(2 * spacing.loc["a:L", "mcp_gap"], rel=0.05)


def test_spread_fingers_have_wider_pip_gaps_and_a_missing_row_is_nan():
    landmarks = pd.DataFrame(_hand("a:L", 10.0, 16.0) + _hand("b:L", 10.0, 10.0, rows=("mcp",)),
                             columns=["hand_id", "landmark", "x", "y"])
    spacing = comparison.finger_spacing(landmarks).set_index("hand_id")
    assert spacing.loc["a:L", "pip_gap"] > 1.5 * spacing.loc["a:L", "mcp_gap"]
    assert "b:L" not in spacing.index  # no PIP: no phalanx, nothing measurable


def test_finger_spacing_without_landmarks_is_empty():
    spacing = comparison.finger_spacing(pd.DataFrame(columns=["hand_id", "landmark", "x", "y"]))
    assert spacing.empty and list(spacing.columns) == ["hand_id", "mcp_gap", "pip_gap"]


def test_histogram_distance_is_zero_for_equal_and_the_bin_span_for_opposite_histograms():
    bins = comparison.HISTOGRAM_BINS
    dark, bright = np.eye(bins)[0], np.eye(bins)[-1]
    assert comparison.histogram_distance(dark, dark) == 0.0
    assert comparison.histogram_distance(dark, bright) == pytest.approx((bins - 1) / bins)


def test_sample_images_is_reproducible_bounded_and_prefers_hands():
    images = pd.DataFrame({"image_id": [f"i{k:02d}" for k in range(30)],
                           "view": ["other", "left_hand", "both_hands"] * 10})
    first = comparison.sample_images(images, max_images=8, seed=3)
    again = comparison.sample_images(images.iloc[::-1], max_images=8, seed=3)
    assert list(first["image_id"]) == list(again["image_id"]) and len(first) == 8
    assert set(first["view"]) <= {"left_hand", "both_hands"}
    others = comparison.sample_images(images[images["view"] == "other"], max_images=50)
    assert len(others) == 10  # no hand image: every image


def test_describe_and_summarise_two_cohorts(native, tmp_path):
    tiny = comparison.describe_images(load_cohort(native), max_images=5)
    ra2 = comparison.describe_images(load_cohort(make_ra2_cohort(tmp_path / "r", ["PA", "PB", "PC"], feet=False)))
    assert len(tiny.images) == 5 and tiny.frame_histograms.shape == (5, comparison.HISTOGRAM_BINS)
    assert len(tiny.spacing) and ra2.spacing.empty  # landmarks only in the native cohort
    table = comparison.summary_table([tiny, ra2])
    assert list(table.columns) == ["tiny-native", "tiny-ra2"]
    assert table.loc["images measured"].tolist() == [5, 6]
    assert table.loc["hand share of the frame (%)", "tiny-ra2"] == pytest.approx(37.5, abs=2)  # 32 x 48 of 64 x 64
    assert np.isnan(table.loc["MCP gap (% of proximal phalanx)", "tiny-ra2"])
    distances = comparison.histogram_distances(tiny, ra2)
    assert set(distances) == {"frame", "hand"} and all(d >= 0 for d in distances.values())


def test_an_unreadable_reference_names_its_manifest(tmp_path):
    missing = tmp_path / "real.yaml"
    with pytest.raises(ManifestError, match=r"real\.yaml.*compare_manifest"):
        comparison.load_reference(missing)
