from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from ra_lib.stages.detection import crops, evaluation as de
from ra_lib.cohort import sites


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
    image, frame = de.load_model_input(cohort, f"img:{hand}", size=80, mirror_to_right=True)
    assert image.shape == (80, 80) and frame.mirrored == (hand == "L")
    mx, my = frame.to_model(37.3, 18.6)
    cx, cy = _centroid(image)
    assert abs(cx - mx) < 0.2 and abs(cy - my) < 0.2
    back = frame.to_image(mx, my)
    assert np.allclose(back, (37.3, 18.6))


def test_crop_width_must_match_the_hand_table():
    cohort = _blob_cohort(30, 20)
    cohort.hands.loc[0, "x1"] = 70
    with pytest.raises(ValueError, match="img:R.*crop width 40"):
        de.load_model_input(cohort, "img:R", size=32)


def _frame(hand_id="h:R", mirrored=False):
    return de.HandFrame(hand_id, x0=100, width=50, height=100, size=25, mirrored=mirrored)


def test_keypoints_and_predictions_round_trip():
    frames = [_frame("a:R"), _frame("b:L", mirrored=True)]
    landmarks = pd.DataFrame({"hand_id": ["a:R", "b:L", "b:L"], "landmark": ["pip2", "pip2", "radius"],
                              "x": [110.0, 120.0, 140.0], "y": [30.0, 50.0, 90.0]})
    points = de.keypoints_in_model(landmarks, frames, ["pip2", "radius"])
    assert points.shape == (2, 2, 2) and np.isnan(points[0, 1]).all()
    preds = np.concatenate([points, np.ones((2, 2, 1))], axis=2)
    table = de.predictions_to_table(preds, frames, ["pip2", "radius"], "dlc")
    assert list(table.columns) == list(de.DETECTION_COLUMNS)
    merged = table.merge(landmarks, on=["hand_id", "landmark"], suffixes=("", "_true"))
    assert np.allclose(merged[["x", "y"]], merged[["x_true", "y_true"]])
    with pytest.raises(ValueError, match="expected \\(2, 3, 3\\)"):
        de.predictions_to_table(preds, frames, ["pip2", "radius", "ulna"], "dlc")


def test_mean_position_baseline_uses_normalised_coordinates():
    frames = [_frame("a:R"), _frame("b:L", mirrored=True)]
    train = np.array([[[4.0, 10.0], [np.nan, np.nan]], [[6.0, 12.0], [np.nan, np.nan]]])
    table = de.mean_position_baseline(train, frames, ["pip2", "ulna"])
    pip = table[table.landmark == "pip2"]
    assert np.allclose(pip.likelihood, 1.0)
    expected = [frame.to_image(5.0, 11.0) for frame in frames]
    assert np.allclose(pip[["x", "y"]].to_numpy(), np.array(expected))
    assert table[table.landmark == "ulna"][["x", "y", "likelihood"]].isna().all().all()


def _truth_hand(hand_id="h:R"):
    """Landmarks of one hand whose proximal phalanges are 40 px: boxes are a tenth of the paper's."""
    rows = [(hand_id, lm, 200.0 + 3 * i, 300.0) for i, lm in enumerate(sites.HAND_LANDMARKS)]
    truth = pd.DataFrame(rows, columns=["hand_id", "landmark", "x", "y"])
    for finger in range(2, 6):
        mcp_x = truth.loc[truth.landmark == f"mcp{finger}", "x"].item()
        truth.loc[truth.landmark == f"pip{finger}", ["x", "y"]] = (mcp_x, 260.0)
    return truth


def _scores(hand_id="h:R", damaged=("pip2", "radius")):
    return pd.DataFrame([(hand_id, s.kind, s.site, 2 if s.site in damaged else 0) for s in sites.HAND_SITES],
                        columns=["hand_id", "kind", "site", "grade"])


def _detections(truth, offsets):
    det = truth.copy()
    det["likelihood"], det["detector"] = 0.9, "dlc"
    for landmark, (dx, dy) in offsets.items():
        sel = det.landmark == landmark
        det.loc[sel, "x"] += dx
        det.loc[sel, "y"] += dy
    return det


def test_boxes_scale_with_the_phalanx_and_decide_hits():
    truth = _truth_hand()
    offsets = {"pip2": (12.0, 0.0), "pip3": (13.0, 0.0), "radius": (24.0, 0.0), "ulna": (0.0, 16.0),
               "lunate": (14.0, 14.0), "scaphoid": (0.0, 16.0)}
    det = _detections(truth, offsets)
    det = det[det.landmark != "mcp5"]  # a missed joint
    ev = de.evaluate_detections(det, truth, _scores())
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
    truth = _truth_hand()
    det = _detections(truth, {"pip3": (13.0, 0.0), "pip2": (13.0, 0.0), "mcp5": (100.0, 0.0)})
    rates = de.detection_rates(de.evaluate_detections(det, truth, _scores()))
    row = rates.set_index(["kind", "group", "status"])
    assert tuple(row.loc[("erosion", "PIP-IP", "total"), ["correct", "n"]]) == (3, 5)
    assert tuple(row.loc[("erosion", "PIP-IP", "non-intact"), ["correct", "n"]]) == (0, 1)  # pip2 graded 2
    assert tuple(row.loc[("erosion", "PIP-IP", "intact"), ["correct", "n"]]) == (3, 4)
    assert tuple(row.loc[("jsn", "PIP", "total"), ["correct", "n"]]) == (2, 4)
    assert tuple(row.loc[("erosion", "All joints", "total"), ["correct", "n"]]) == (13, 16)
    assert tuple(row.loc[("jsn", "All joints", "total"), ["correct", "n"]]) == (12, 15)
    table = de.format_table3(rates)
    assert table.loc[("erosion", "PIP-IP"), ("dlc", "total")] == "3/5 (60.0%)"
    assert list(table.index.get_level_values("group"))[:5] == ["PIP-IP", "MCP", "CMC-M", "wrist", "All joints"]


def test_distance_errors_are_mean_and_sd_per_group():
    truth = _truth_hand()
    det = _detections(truth, {"pip2": (3.0, 4.0), "pip3": (6.0, 8.0)})
    ev = de.evaluate_detections(det, truth, _scores())
    errors = de.distance_errors(ev).set_index(["kind", "group"])
    expected = np.array([50.0, 100.0, 0.0, 0.0, 0.0])  # paper px: 10x the image px
    assert errors.loc[("erosion", "PIP-IP"), "mean_paper_px"] == pytest.approx(expected.mean())
    assert errors.loc[("erosion", "PIP-IP"), "sd_paper_px"] == pytest.approx(expected.std(ddof=1))
    assert errors.loc[("erosion", "PIP-IP"), "n"] == 5
    assert errors.loc[("erosion", "PIP-IP"), "median_paper_px"] == 0.0
    table = de.format_distance_errors(de.distance_errors(ev))
    assert table.loc[("erosion", "PIP-IP"), "dlc"] == f"30 ± {expected.std(ddof=1):.0f} (0)"
    assert table.loc[("jsn", "PIP"), "paper 001"] == "5.4 ± 9.4"
    assert list(table.index.get_level_values("group"))[5:] == ["PIP", "MCP", "CMC", "wrist", "All joints"]


def test_missing_phalanx_falls_back_to_the_cohort_median():
    truth = pd.concat([_truth_hand("a:R"), _truth_hand("b:R").query("landmark == 'radius'")])
    det = _detections(truth, {})
    ev = de.evaluate_detections(det, truth, _scores("a:R"))
    assert np.allclose(ev.phalanx_px, 40.0)
    assert ev[ev.hand_id == "b:R"].status.isna().all()  # unscored hand: counted in "total" only


def test_flagging_low_likelihood_and_missing():
    det = pd.DataFrame({"x": [1.0, np.nan, 1.0, 1.0], "y": [1.0, 1.0, 1.0, 1.0],
                        "likelihood": [0.9, 0.9, 0.59, np.nan]})
    assert de.flag_detections(det, 0.6).tolist() == [False, True, True, True]


def test_box_iou():
    assert de.box_iou([0, 0, 2, 2], [1, 1, 3, 3]) == pytest.approx(1 / 7)
    assert de.box_iou([0, 0, 1, 1], [2, 2, 3, 3]) == 0.0
    assert de.box_iou([0, 0, 2, 2], [0, 0, 2, 2]) == 1.0


def _box(hand, label, x, score=None):
    row = {"hand_id": hand, "label": label, "x0": x, "y0": 0.0, "x1": x + 10.0, "y1": 10.0}
    if score is not None:
        row["score"] = score
    return row


def test_average_precision_counts_missed_joints():
    truth = pd.DataFrame([_box(f"h{i}", "a", 0.0) for i in range(4)])
    pred = pd.DataFrame([_box("h0", "a", 1.0, 0.9), _box("h1", "a", 8.0, 0.8), _box("h2", "a", 0.0, 0.7)])
    ap = de.average_precision_at_iou(truth, pred).set_index("label")
    # ranks: TP, FP, TP; precision 1, 1/2, 2/3; recall of 4 joints 1/4, 1/4, 2/4
    assert ap.loc["a", "ap"] == pytest.approx(0.25 * 1 + 0.25 * 2 / 3)
    assert tuple(ap.loc["a", ["n_truth", "n_predicted", "tp"]]) == (4, 3, 2)


def test_average_precision_equals_sklearn_when_every_joint_is_found():
    rng = np.random.default_rng(0)
    truth = pd.DataFrame([_box(f"h{i}", lab, 0.0) for i in range(20) for lab in ("a", "b")])
    pred = truth.assign(score=rng.uniform(size=len(truth)), x0=truth.x0 + rng.choice([0.0, 9.0], len(truth)))
    pred["x1"] = pred.x0 + 10.0
    extra = truth.assign(score=rng.uniform(size=len(truth)) - 0.5)  # a duplicate box per joint
    matched = de.match_boxes(truth, pd.concat([pred, extra], ignore_index=True))
    assert matched.groupby(["hand_id", "label"]).tp.sum().max() == 1  # one TP per joint at most
    ap = de.average_precision_at_iou(truth, pd.concat([pred, extra], ignore_index=True)).set_index("label")
    for label in ("a", "b"):
        part = matched[matched.label == label]
        assert part.tp.sum() == 20
        assert ap.loc[label, "ap"] == pytest.approx(average_precision_score(part.tp, part.score))
    assert ap.loc["mAP", "ap"] == pytest.approx(ap.loc[["a", "b"], "ap"].mean())


def test_truth_boxes_use_paper_boxes():
    truth = _truth_hand()
    boxes = de.truth_boxes(truth).set_index("label")
    radius = truth.set_index("landmark").loc["radius"]
    w, h = crops.box_size_px("radius", 40.0)
    assert boxes.loc["radius", "x1"] - boxes.loc["radius", "x0"] == pytest.approx(w)
    assert boxes.loc["radius", "y1"] - boxes.loc["radius", "y0"] == pytest.approx(h)
    assert (boxes.loc["radius", "x0"] + boxes.loc["radius", "x1"]) / 2 == pytest.approx(radius.x)


def test_split_hands_is_patient_disjoint_and_complete():
    hands = pd.DataFrame({"hand_id": [f"i{p}{h}:{h}" for p in range(10) for h in "LR"],
                          "patient": [f"P{p}" for p in range(10) for _ in "LR"]})
    landmarks = pd.DataFrame({"hand_id": hands.hand_id[:-2], "landmark": "pip2"})  # patient 9 unlabelled
    cohort = SimpleNamespace(hands=hands.assign(image_id="i", hand="R", x0=0, x1=1), landmarks=landmarks)
    split = de.split_hands(cohort, n_train=5, n_test=2, seed=1)
    assert len(split["train"]) == 5 and len(split["test"]) == 2
    assert set(split["test"]) <= set(split["eval"]) and not set(split["train"]) & set(split["eval"])
    assert set(split["train"]) | set(split["eval"]) == set(landmarks.hand_id)
    patient = dict(zip(hands.hand_id, hands.patient))
    train_patients = {patient[h] for h in split["train"]}
    assert not train_patients & {patient[h] for h in split["test"]}
    assert len(train_patients & {patient[h] for h in split["eval"]}) <= 1  # 5 hands: one patient is split
    assert split == de.split_hands(cohort, n_train=5, n_test=2, seed=1)
    with pytest.raises(ValueError, match="18 hand\\(s\\) have landmarks; need at least 19"):
        de.split_hands(cohort, n_train=18, n_test=1)


def test_baseline_comparison_and_landmark_rates():
    truth = _truth_hand()
    good = _detections(truth, {})
    bad = _detections(truth, {lm: (100.0, 0.0) for lm in sites.HAND_LANDMARKS[:11]}).assign(detector="baseline")
    ev = de.evaluate_detections(pd.concat([good, bad]), truth, _scores())
    rates = de.detection_rates(ev)
    check = de.versus_baseline(rates).set_index("kind")
    assert check.loc["erosion", "rate"] == 1.0 and check.beats_baseline.all()
    per = de.rates_by_landmark(ev)
    assert len(per) == 44 and per.detector.tolist()[:22] == ["dlc"] * 22
    assert per.set_index(["detector", "landmark"]).loc[("baseline", "ip"), "rate"] == 0.0


def test_only_hands_a_detector_saw_are_scored():
    truth = pd.concat([_truth_hand("a:R"), _truth_hand("b:R")])
    det = _detections(truth[truth.hand_id == "a:R"], {})
    det.loc[det.landmark == "ulna", ["x", "y"]] = np.nan
    ev = de.evaluate_detections(det, truth, pd.concat([_scores("a:R"), _scores("b:R")]))
    assert set(ev.hand_id) == {"a:R"} and (~ev.correct).sum() == 1
