import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from fixtures.detection_cases import shifted_detections, site_scores, truth_hand
from ra_lib.cohort import sites
from ra_lib.stages.detection import evaluate
from ra_lib.stages.detection.inputs import HandFrame


def _frame(hand_id="h:R", mirrored=False):
    return HandFrame(hand_id, x0=100, width=50, height=100, size=25, mirrored=mirrored)


def test_boxes_scale_with_the_phalanx_and_decide_hits():
    truth = truth_hand()
    offsets = {"pip2": (12.0, 0.0), "pip3": (13.0, 0.0), "radius": (24.0, 0.0), "ulna": (0.0, 16.0),
               "lunate": (14.0, 14.0), "scaphoid": (0.0, 16.0)}
    det = shifted_detections(truth, offsets)
    det = det[det.landmark != "mcp5"]  # a missed joint
    ev = evaluate.evaluate_detections(det, truth, site_scores())
    assert np.allclose(ev.phalanx_px, 40.0)
    one = ev.drop_duplicates("landmark").set_index("landmark")
    assert one.loc["pip2", "box_w"] == pytest.approx(25.0) and one.loc["radius", "box_w"] == pytest.approx(50.0)
    assert one.loc["radius", "box_h"] == pytest.approx(30.0) and one.loc["lunate", "box_w"] == pytest.approx(30.0)
    assert one.loc["pip2", "correct"] and not one.loc["pip3", "correct"]
    assert one.loc["radius", "correct"] and not one.loc["ulna", "correct"]
    assert one.loc["lunate", "correct"] and not one.loc["scaphoid", "correct"]
    assert not one.loc["mcp5", "correct"] and np.isnan(one.loc["mcp5", "error_px"])
    assert one.loc["pip3", "error_paper_px"] == pytest.approx(130.0)
    assert one.loc["pip3", "error_rel"] == pytest.approx(13.0 / 40.0)
    assert len(ev) == len(sites.HAND_SITES)  # shared MCP / PIP landmarks count once per kind


def test_detection_rates_split_by_status_and_group():
    truth = truth_hand()
    det = shifted_detections(truth, {"pip3": (13.0, 0.0), "pip2": (13.0, 0.0), "mcp5": (100.0, 0.0)})
    rates = evaluate.detection_rates(evaluate.evaluate_detections(det, truth, site_scores()))
    row = rates.set_index(["kind", "group", "status"])
    assert tuple(row.loc[("erosion", "PIP-IP", "total"), ["correct", "n"]]) == (3, 5)
    assert tuple(row.loc[("erosion", "PIP-IP", "non-intact"), ["correct", "n"]]) == (0, 1)  # pip2 graded 2
    assert tuple(row.loc[("erosion", "PIP-IP", "intact"), ["correct", "n"]]) == (3, 4)
    assert tuple(row.loc[("jsn", "PIP", "total"), ["correct", "n"]]) == (2, 4)
    assert tuple(row.loc[("erosion", "All joints", "total"), ["correct", "n"]]) == (13, 16)
    assert tuple(row.loc[("jsn", "All joints", "total"), ["correct", "n"]]) == (12, 15)


def test_distance_errors_are_mean_and_sd_per_group():
    truth = truth_hand()
    det = shifted_detections(truth, {"pip2": (3.0, 4.0), "pip3": (6.0, 8.0)})
    ev = evaluate.evaluate_detections(det, truth, site_scores())
    errors = evaluate.distance_errors(ev).set_index(["kind", "group"])
    expected = np.array([50.0, 100.0, 0.0, 0.0, 0.0])  # paper px: 10x the image px
    assert errors.loc[("erosion", "PIP-IP"), "mean_paper_px"] == pytest.approx(expected.mean())
    assert errors.loc[("erosion", "PIP-IP"), "sd_paper_px"] == pytest.approx(expected.std(ddof=1))
    assert errors.loc[("erosion", "PIP-IP"), "n"] == 5
    assert errors.loc[("erosion", "PIP-IP"), "median_paper_px"] == 0.0


def test_missing_phalanx_falls_back_to_the_cohort_median():
    truth = pd.concat([truth_hand("a:R"), truth_hand("b:R").query("landmark == 'radius'")])
    det = shifted_detections(truth, {})
    ev = evaluate.evaluate_detections(det, truth, site_scores("a:R"))
    assert np.allclose(ev.phalanx_px, 40.0)
    assert ev[ev.hand_id == "b:R"].status.isna().all()  # unscored hand: counted in "total" only


def test_flagging_low_likelihood_and_missing():
    det = pd.DataFrame({"x": [1.0, np.nan, 1.0, 1.0], "y": [1.0, 1.0, 1.0, 1.0],
                        "likelihood": [0.9, 0.9, 0.59, np.nan]})
    assert evaluate.flag_detections(det, 0.6).tolist() == [False, True, True, True]


def test_box_iou():
    assert evaluate.box_iou([0, 0, 2, 2], [1, 1, 3, 3]) == pytest.approx(1 / 7)
    assert evaluate.box_iou([0, 0, 1, 1], [2, 2, 3, 3]) == 0.0
    assert evaluate.box_iou([0, 0, 2, 2], [0, 0, 2, 2]) == 1.0


def _box(hand, label, x, score=None):
    row = {"hand_id": hand, "label": label, "x0": x, "y0": 0.0, "x1": x + 10.0, "y1": 10.0}
    if score is not None:
        row["score"] = score
    return row


def test_average_precision_counts_missed_joints():
    truth = pd.DataFrame([_box(f"h{i}", "a", 0.0) for i in range(4)])
    pred = pd.DataFrame([_box("h0", "a", 1.0, 0.9), _box("h1", "a", 8.0, 0.8), _box("h2", "a", 0.0, 0.7)])
    ap = evaluate.average_precision_at_iou(truth, pred).set_index("label")
    # ranks: TP, FP, TP; precision 1, 1/2, 2/3; recall of 4 joints 1/4, 1/4, 2/4
    assert ap.loc["a", "ap"] == pytest.approx(0.25 * 1 + 0.25 * 2 / 3)
    assert tuple(ap.loc["a", ["n_truth", "n_predicted", "tp"]]) == (4, 3, 2)


def test_average_precision_equals_sklearn_when_every_joint_is_found():
    rng = np.random.default_rng(0)
    truth = pd.DataFrame([_box(f"h{i}", lab, 0.0) for i in range(20) for lab in ("a", "b")])
    pred = truth.assign(score=rng.uniform(size=len(truth)), x0=truth.x0 + rng.choice([0.0, 9.0], len(truth)))
    pred["x1"] = pred.x0 + 10.0
    extra = truth.assign(score=rng.uniform(size=len(truth)) - 0.5)  # a duplicate box per joint
    matched = evaluate.match_boxes(truth, pd.concat([pred, extra], ignore_index=True))
    assert matched.groupby(["hand_id", "label"]).tp.sum().max() == 1  # one TP per joint at most
    ap = evaluate.average_precision_at_iou(truth, pd.concat([pred, extra], ignore_index=True)).set_index("label")
    for label in ("a", "b"):
        part = matched[matched.label == label]
        assert part.tp.sum() == 20
        assert ap.loc[label, "ap"] == pytest.approx(average_precision_score(part.tp, part.score))
    assert ap.loc["mAP", "ap"] == pytest.approx(ap.loc[["a", "b"], "ap"].mean())


def test_baseline_comparison_and_landmark_rates():
    truth = truth_hand()
    good = shifted_detections(truth, {})
    bad = shifted_detections(truth, {lm: (100.0, 0.0) for lm in sites.HAND_LANDMARKS[:11]}).assign(detector="baseline")
    ev = evaluate.evaluate_detections(pd.concat([good, bad]), truth, site_scores())
    rates = evaluate.detection_rates(ev)
    check = evaluate.versus_baseline(rates).set_index("kind")
    assert check.loc["erosion", "rate"] == 1.0 and check.beats_baseline.all()
    per = evaluate.rates_by_landmark(ev)
    assert len(per) == 44 and per.detector.tolist()[:22] == ["dlc"] * 22
    assert per.set_index(["detector", "landmark"]).loc[("baseline", "ip"), "rate"] == 0.0


def test_only_hands_a_detector_saw_are_scored():
    truth = pd.concat([truth_hand("a:R"), truth_hand("b:R")])
    det = shifted_detections(truth[truth.hand_id == "a:R"], {})
    det.loc[det.landmark == "ulna", ["x", "y"]] = np.nan
    ev = evaluate.evaluate_detections(det, truth, pd.concat([site_scores("a:R"), site_scores("b:R")]))
    assert set(ev.hand_id) == {"a:R"} and (~ev.correct).sum() == 1


def test_mean_position_baseline_uses_normalised_coordinates():
    frames = [_frame("a:R"), _frame("b:L", mirrored=True)]
    train = np.array([[[4.0, 10.0], [np.nan, np.nan]], [[6.0, 12.0], [np.nan, np.nan]]])
    table = evaluate.mean_position_baseline(train, frames, ["pip2", "ulna"])
    pip = table[table.landmark == "pip2"]
    assert np.allclose(pip.likelihood, 1.0)
    expected = [frame.to_image(5.0, 11.0) for frame in frames]
    assert np.allclose(pip[["x", "y"]].to_numpy(), np.array(expected))
    assert table[table.landmark == "ulna"][["x", "y", "likelihood"]].isna().all().all()


def test_empty_detections_give_empty_tables():
    ev = evaluate.evaluate_detections(pd.DataFrame(columns=["hand_id", "landmark", "x", "y", "likelihood",
                                                            "detector"]), truth_hand(), site_scores())
    assert list(ev.columns) == list(evaluate.EVALUATED_COLUMNS) and ev.empty
    assert evaluate.detection_rates(ev).empty and evaluate.distance_errors(ev).empty
