"""The hand shape model: learnt from labelled hands, fitted robustly, mirror- and similarity-invariant."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ra_lib.stages.detection import shape as hand_shape

NAMES = ("ip", "pip2", "pip3", "pip4", "pip5", "mcp1", "mcp2", "mcp3", "mcp4", "mcp5")
#: A right hand, thumb right, in phalanges (MCP to PIP = 1 for fingers 2-5; y grows downwards).
BASE = np.array([[2.6, 0.4], [1.2, -0.9], [0.3, -1.1], [-0.6, -1.0], [-1.4, -0.6],
                 [2.0, 1.1], [1.0, 0.1], [0.2, -0.1], [-0.6, 0.0], [-1.3, 0.4]])
#: One way hands vary: the fingers spread (PIPs move apart sideways).
SPREAD = np.zeros_like(BASE)
SPREAD[1:5, 0] = [0.3, 0.1, -0.1, -0.3]


def _similar(points, scale, angle, shift, mirror=False):
    points = points * [-1.0, 1.0] if mirror else points
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return scale * points @ rotation.T + shift


def _labelled(n_hands=12, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for n, spread in enumerate(np.linspace(-1.5, 1.5, n_hands)):  # the mean hand is BASE
        points = BASE + spread * SPREAD + rng.normal(0, 0.01, BASE.shape)
        points = _similar(points, rng.uniform(80, 160), rng.uniform(-0.3, 0.3), rng.uniform(200, 400, 2), n % 2 == 1)
        rows += [(f"H{n}", lm, x, y) for lm, (x, y) in zip(NAMES, points)]
    return pd.DataFrame(rows, columns=["hand_id", "landmark", "x", "y"])


@pytest.fixture(scope="module")
def shape():
    return hand_shape.fit_shape(_labelled(), NAMES)


def test_the_shape_learns_the_mean_hand_and_its_spread(shape):
    assert shape.landmarks == NAMES and 1 <= len(shape.sd) <= hand_shape.MAX_MODES
    mapped = hand_shape._mapped(*hand_shape._similarity(BASE, shape.mean), BASE)
    assert np.abs(mapped - shape.mean).max() < 0.05 * shape.phalanx
    spread = shape.modes[0].reshape(-1) @ (hand_shape._mapped(*hand_shape._similarity(BASE, shape.mean),
                                                              BASE + SPREAD) - mapped).reshape(-1)
    assert abs(spread) / np.linalg.norm(shape.modes[0]) > 0.5 * np.linalg.norm(SPREAD) * shape.phalanx


@pytest.mark.parametrize("mirror", [False, True])
def test_a_hand_of_the_shape_fits_in_either_convention_at_any_scale_and_angle(shape, mirror):
    xy = _similar(BASE + 0.5 * SPREAD, 120.0, 0.2, [300.0, 250.0], mirror)
    predicted, distance, phalanx = shape.fit(NAMES, xy)
    assert distance.max() < 0.05 and phalanx == pytest.approx(120.0, rel=0.05)
    np.testing.assert_allclose(predicted, xy, atol=0.05 * 120)


def test_a_joint_that_snapped_onto_its_neighbour_is_found_and_predicted(shape):
    truth = _similar(BASE, 100.0, -0.1, [250.0, 300.0], mirror=True)
    xy = truth.copy()
    pip4, mcp4 = NAMES.index("pip4"), NAMES.index("mcp4")
    xy[pip4] = xy[mcp4] + [3.0, -4.0]  # the PIP refined onto its MCP
    predicted, distance, _ = shape.fit(NAMES, xy)
    outside = distance > shape.tolerance(NAMES)
    assert list(np.flatnonzero(outside)) == [pip4]
    assert np.hypot(*(predicted[pip4] - truth[pip4])) < 0.1 * 100


def test_missing_detections_are_predicted_but_not_measured(shape):
    truth = _similar(BASE, 90.0, 0.0, [200.0, 200.0])
    xy = truth.copy()
    xy[[0, 4]] = np.nan
    predicted, distance, _ = shape.fit(NAMES, xy)
    assert np.isnan(distance[[0, 4]]).all() and distance[~np.isnan(distance)].max() < 0.05
    np.testing.assert_allclose(predicted[[0, 4]], truth[[0, 4]], atol=0.05 * 90)
    lonely = np.full_like(xy, np.nan)
    lonely[1] = [10.0, 10.0]
    assert np.isnan(shape.fit(NAMES, lonely)[1]).all()


def test_the_shape_fits_any_subset_of_its_landmarks_in_any_order(shape):
    order = ["mcp5", "pip2", "mcp2", "pip5", "mcp3"]
    truth = _similar(BASE, 110.0, 0.1, [300.0, 300.0])
    xy = truth[[NAMES.index(lm) for lm in order]]
    predicted, distance, _ = shape.fit(order, xy)
    assert distance.max() < 0.05 and np.abs(predicted - xy).max() < 0.05 * 110


def test_tolerance_is_half_paper_001s_box_in_phalanges(shape):
    assert shape.tolerance(["pip3", "mcp2"]) == pytest.approx([125 / 400, 125 / 400])


def test_no_shape_without_enough_complete_hands_or_a_phalanx():
    labelled = _labelled(n_hands=4)
    assert hand_shape.fit_shape(labelled[labelled["hand_id"].isin(["H0", "H1"])], NAMES) is None
    incomplete = labelled[~((labelled["hand_id"] != "H0") & (labelled["landmark"] == "pip3"))]
    assert hand_shape.fit_shape(incomplete, NAMES) is None  # only H0 is labelled at every landmark
    assert hand_shape.fit_shape(labelled, ("ip", "mcp1", "mcp2")) is None  # no MCP-PIP pair


def test_the_shape_survives_a_bundles_json(shape):
    again = hand_shape.HandShape.from_dict(shape.to_dict())
    assert again.landmarks == shape.landmarks and again.phalanx == shape.phalanx
    np.testing.assert_array_equal(again.modes, shape.modes)
    xy = _similar(BASE, 100.0, 0.0, [0.0, 0.0])
    np.testing.assert_array_equal(again.fit(NAMES, xy)[0], shape.fit(NAMES, xy)[0])
