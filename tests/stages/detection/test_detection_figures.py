from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd

from fixtures.detection_cases import shifted_detections, site_scores, truth_hand
from ra_lib.stages.detection import evaluate, figures

matplotlib.use("Agg")


def _evaluated(offsets):
    truth = truth_hand()
    return evaluate.evaluate_detections(shifted_detections(truth, offsets), truth, site_scores())


def test_table3_layout():
    rates = evaluate.detection_rates(_evaluated({"pip3": (13.0, 0.0), "pip2": (13.0, 0.0), "mcp5": (100.0, 0.0)}))
    table = figures.format_table3(rates)
    assert table.loc[("erosion", "PIP-IP"), ("dlc", "total")] == "3/5 (60.0%)"
    assert list(table.index.get_level_values("group"))[:5] == ["PIP-IP", "MCP", "CMC-M", "wrist", "All joints"]
    assert figures.paper_table3().loc[("jsn", "All joints"), "total"] == 97.3


def test_distance_error_layout():
    ev = _evaluated({"pip2": (3.0, 4.0), "pip3": (6.0, 8.0)})
    expected = np.array([50.0, 100.0, 0.0, 0.0, 0.0])
    table = figures.format_distance_errors(evaluate.distance_errors(ev))
    assert table.loc[("erosion", "PIP-IP"), "dlc"] == f"30 ± {expected.std(ddof=1):.0f} (0)"
    assert table.loc[("jsn", "PIP"), "paper 001"] == "5.4 ± 9.4"
    assert list(table.index.get_level_values("group"))[5:] == ["PIP", "MCP", "CMC", "wrist", "All joints"]


def _cohort(with_scores=True):
    hands = pd.DataFrame({"hand_id": ["a:R", "b:R"], "image_id": ["a", "b"], "x0": [150, 150], "x1": [450, 450]})
    scores = pd.concat([site_scores("a:R", damaged=()), site_scores("b:R")]) if with_scores else site_scores().iloc[:0]
    return SimpleNamespace(hands=hands, scores=scores, load_image=lambda image_id: np.zeros((400, 500), np.float32))


def test_examples_are_the_least_and_most_damaged_hands():
    assert figures.example_hands(_cohort(), ["a:R", "b:R"]) == {"mild damage": ("a:R", 0.0),
                                                                 "severe damage": ("b:R", 6.0)}
    only = figures.example_hands(_cohort(with_scores=False), ["b:R", "a:R"])
    assert list(only) == ["example"] and only["example"][0] == "b:R"


def test_figures_draw_every_detector_and_example():
    truth = pd.concat([truth_hand("a:R"), truth_hand("b:R")])
    offsets = {lm: (1.0, 1.0) for lm in truth.landmark}
    detections = pd.concat([shifted_detections(truth, offsets, d) for d in ("dlc", "frcnn")])
    ev = evaluate.evaluate_detections(detections, truth, pd.concat([site_scores("a:R"), site_scores("b:R")]))
    fig = figures.plot_examples(_cohort(), ev, ["a:R", "b:R"])
    assert len(fig.axes) == 4 and fig.axes[0].get_title() == "dlc: mild damage (SvdH 0)"
    assert len(fig.axes[0].patches) == 22  # one box per landmark
    fig = figures.plot_distance_errors(ev)
    assert len(fig.axes) == 2 and fig.axes[0].get_yscale() == "log"


def test_flags_by_landmark_layout():
    flags = pd.DataFrame({"detector": ["dlc", "dlc", "frcnn"], "landmark": ["ip", "pip2", "ip"],
                          "cut-off": [0.6, 0.6, 0.5], "detections": [10, 10, 10], "flagged": [1, 0, 7]})
    table = figures.flags_by_landmark(flags)
    assert table.loc["ip", "dlc"] == "1 / 10" and table.loc["ip", "frcnn"] == "7 / 10"
    assert list(table.index) == ["ip", "pip2"] and figures.flags_by_landmark(flags.iloc[:0]).empty
