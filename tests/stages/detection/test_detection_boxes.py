import numpy as np
import pandas as pd
import pytest

from fixtures.detection_cases import truth_hand
from ra_lib.stages.detection import boxes


def test_box_sizes_follow_paper_and_scale():
    assert boxes.paper_box("pip3") == (250.0, 250.0)
    assert boxes.paper_box("radius") == (500.0, 300.0)
    assert boxes.paper_box("lunate") == (300.0, 300.0)
    assert boxes.box_size_px("mcp2", boxes.PAPER_PHALANX_PX / 2) == (125.0, 125.0)


def test_phalanx_length_is_median_over_fingers():
    truth = truth_hand()
    truth.loc[truth.landmark == "pip5", "y"] = 200.0  # one longer finger does not move the median
    assert boxes.phalanx_lengths(truth).loc["h:R"] == pytest.approx(40.0)
    no_fingers = truth[~truth.landmark.str.startswith("pip")]
    assert boxes.phalanx_lengths(no_fingers).isna().all()


def test_hand_without_phalanx_gets_the_median_or_the_paper_length():
    truth = pd.concat([truth_hand("a:R"), truth_hand("b:R").query("landmark == 'radius'")])
    assert np.allclose(boxes.hand_phalanx(truth, ["a:R", "b:R", "c:R"]), 40.0)
    radius_only = truth[truth.landmark == "radius"]
    assert np.allclose(boxes.hand_phalanx(radius_only, ["a:R"]), boxes.PAPER_PHALANX_PX)


def test_truth_boxes_use_paper_boxes():
    truth = truth_hand()
    table = boxes.truth_boxes(truth).set_index("label")
    radius = truth.set_index("landmark").loc["radius"]
    w, h = boxes.box_size_px("radius", 40.0)
    assert table.loc["radius", "x1"] - table.loc["radius", "x0"] == pytest.approx(w)
    assert table.loc["radius", "y1"] - table.loc["radius", "y0"] == pytest.approx(h)
    assert (table.loc["radius", "x0"] + table.loc["radius", "x1"]) / 2 == pytest.approx(radius.x)
