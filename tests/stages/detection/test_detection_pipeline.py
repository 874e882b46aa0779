import dataclasses

import numpy as np
import pandas as pd
import pytest

from fixtures.builders import make_native_cohort
from fixtures.detection_cases import shifted_detections, site_scores, truth_hand
from ra_lib.cohort import load_cohort
from ra_lib.core import contracts
from ra_lib.stages import detection
from ra_lib.stages.detection import evaluate, pipeline, refine, shape
from ra_lib.stages.detection.settings import PROFILES


def test_public_api():
    assert detection.STAGE == contracts.DETECTION
    assert detection.run is pipeline.run and detection.DetectionResult is pipeline.DetectionResult
    assert len(detection.HEADLINE_NAMES) == len(set(detection.HEADLINE_NAMES)) == 23
    for name in ("detection_rate/baseline/jsn", "mean_error_paper_px/frcnn/erosion", "map50/frcnn",
                 "flagged_share/dlc"):
        assert name in detection.HEADLINE_NAMES


def _result(evaluated, flags, ap):
    return pipeline.DetectionResult(
        PROFILES["smoke"], {"train": ["t:R"], "test": ["h:R"], "eval": ["h:R"]}, pd.DataFrame(), ("pip2",),
        pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), evaluated, evaluate.detection_rates(evaluated),
        evaluate.distance_errors(evaluated), ap, flags, None, "truth", 0.0)


def test_headline_reads_all_joints_rates_errors_ap_and_flags():
    truth = truth_hand()
    detections = pd.concat([shifted_detections(truth, {"pip2": (3.0, 4.0)}, "dlc"),
                            shifted_detections(truth, {lm: (100.0, 0.0) for lm in truth.landmark}, "baseline")])
    evaluated = evaluate.evaluate_detections(detections, truth, site_scores())
    flags = pipeline.flag_table(detections[detections.detector == "dlc"].assign(likelihood=[0.1] * 2 + [0.9] * 20),
                                {"dlc": 0.6})
    ap = pd.DataFrame({"label": ["pip2", "mAP"], "n_truth": 1, "n_predicted": 1, "tp": 1, "ap": [0.5, 0.5]})
    headline = _result(evaluated, flags, ap).headline()
    assert list(headline) == list(detection.HEADLINE_NAMES)
    assert headline["detection_rate/dlc/erosion"] == 1.0 and headline["detection_rate/baseline/jsn"] == 0.0
    assert headline["mean_error_paper_px/dlc/erosion"] == pytest.approx(50.0 / 16)  # 5 px at a 40-px phalanx
    assert headline["map50/frcnn"] == 0.5 and headline["flagged_share/dlc"] == pytest.approx(2 / 22)
    assert headline["detection_rate/frcnn/erosion"] is None and headline["flagged_share/frcnn"] is None
    assert headline["n_hands/train"] == 1 and headline["flagged_share/crops"] is None


def test_a_kind_without_landmarks_gives_none():
    truth = truth_hand()
    erosion_only = truth[truth.landmark.isin({"ip", "radius"})]
    evaluated = evaluate.evaluate_detections(shifted_detections(erosion_only, {}), erosion_only, site_scores())
    headline = _result(evaluated, pipeline.flag_table(shifted_detections(erosion_only, {}), {"dlc": 0.6}),
                       pd.DataFrame(columns=["label", "ap"])).headline()
    assert headline["detection_rate/dlc/erosion"] == 1.0
    assert headline["detection_rate/dlc/jsn"] is None and headline["mean_error_paper_px/dlc/jsn"] is None
    assert headline["map50/frcnn"] is None


def test_verdict_names_the_detectors_that_lose_to_the_baseline():
    truth = truth_hand()
    detections = pd.concat([shifted_detections(truth, {}, "dlc"),
                            shifted_detections(truth, {lm: (100.0, 0.0) for lm in truth.landmark}, "frcnn"),
                            shifted_detections(truth, {"ip": (100.0, 0.0), "cmc3": (100.0, 0.0)}, "baseline")])
    evaluated = evaluate.evaluate_detections(detections, truth, site_scores())
    result = _result(evaluated, pipeline.flag_table(detections, {"dlc": 0.6, "frcnn": 0.5, "baseline": 0.0}),
                     pd.DataFrame(columns=["label", "ap"]))
    verdict = result.verdict()
    assert "- dlc erosion: 100.0 % against 93.8 % for the baseline" in verdict
    assert "Not better than the mean-position baseline: frcnn (erosion), frcnn (jsn)." in verdict
    assert list(result.summary().index) == ["dlc", "frcnn", "baseline"]
    assert result.per_landmark().shape == (22, 4)  # three rates and the AP


def test_flags_are_counted_per_landmark_and_reach_the_details():
    truth = truth_hand()
    detections = pd.concat([shifted_detections(truth, {}, "dlc").assign(likelihood=[0.1] * 3 + [0.9] * 19),
                            shifted_detections(truth, {}, "frcnn").assign(likelihood=0.2)])
    cutoffs = {"dlc": 0.6, "frcnn": 0.5}
    result = dataclasses.replace(_result(pd.DataFrame(columns=evaluate.EVALUATED_COLUMNS),
                                         pipeline.flag_table(detections, cutoffs), pd.DataFrame(columns=["label", "ap"])),
                                 detections=detections)
    per_landmark = result.flags_by_landmark().set_index(["detector", "landmark"])
    assert per_landmark["flagged"].groupby("detector").sum().to_dict() == {"dlc": 3, "frcnn": 22}
    assert per_landmark.loc[("dlc", truth.landmark.iloc[0]), "flagged"] == 1
    assert per_landmark.loc[("dlc", truth.landmark.iloc[5]), "flagged"] == 0
    assert len(result.details()["flagged_by_landmark"]) == 44
    assert _result(pd.DataFrame(columns=evaluate.EVALUATED_COLUMNS), pipeline.flag_table(detections, cutoffs),
                   pd.DataFrame()).flags_by_landmark().empty


def test_joints_the_shape_check_moved_are_counted_per_landmark():
    truth = truth_hand()
    refined = shifted_detections(truth, {}, "dlc_refined").assign(shape_moved=[True] * 2 + [False] * 20)
    detections = pd.concat([shifted_detections(truth, {}, "dlc"), refined])
    empty = _result(pd.DataFrame(columns=evaluate.EVALUATED_COLUMNS), pipeline.flag_table(detections, {"dlc": 0.6,
                    "dlc_refined": 0.6}), pd.DataFrame(columns=["label", "ap"]))
    moved = dataclasses.replace(empty, detections=detections).shape_moved_by_landmark()
    assert moved["detections"].sum() == 22 and moved["moved"].sum() == 2
    assert moved.loc[truth.landmark.iloc[1], "moved"] == 1 and moved.loc[truth.landmark.iloc[2], "moved"] == 0
    assert len(dataclasses.replace(empty, detections=detections).details()["shape_moved_by_landmark"]) == 22
    without = dataclasses.replace(empty, detections=detections[detections["detector"] == "dlc"])
    assert without.shape_moved_by_landmark().empty


def test_the_shape_check_note_says_what_ran():
    truth = truth_hand()
    refined = shifted_detections(truth, {}, "dlc_refined").assign(shape_moved=[True] * 2 + [False] * 20)
    result = dataclasses.replace(_result(pd.DataFrame(columns=evaluate.EVALUATED_COLUMNS), pd.DataFrame(),
                                         pd.DataFrame(columns=["label", "ap"])), detections=refined)
    assert "No refiner" in result.shape_check_note()
    hand = shape.HandShape(("pip2", "mcp2"), np.array([[0.0, -1.0], [0.0, 0.0]]), np.zeros((0, 2, 2)), np.zeros(0), 1.0)
    with_refiner = [dataclasses.replace(result, refiner=refine.JointRefiner(None, (), 8, 1.5, 1, s, rounds))
                    for s, rounds in ((None, 0), (None, 2), (hand, 2))]
    assert "is off" in with_refiner[0].shape_check_note()
    assert "No shape check ran" in with_refiner[1].shape_check_note()
    assert with_refiner[2].shape_check_note().startswith("The shape check moved 2 of 22 refined centres")


def test_cohort_without_landmarks_is_skipped(tmp_path):
    cohort = load_cohort(make_native_cohort(tmp_path / "c", n_patients=3, with_landmarks=False))
    result = detection.run(cohort, PROFILES["smoke"], seed=0, device="cpu", out_dir=tmp_path / "out")
    assert not result.trained and "0 hand(s) have landmarks" in result.skipped
    assert all(v is None for v in result.headline().values())
    assert not (tmp_path / "out").exists()


def test_run_end_to_end_on_a_tiny_cohort(tmp_path):
    cohort = load_cohort(make_native_cohort(tmp_path / "c", n_patients=3))
    settings = dataclasses.replace(PROFILES["smoke"], n_train=4, dlc_image_size=32, frcnn_image_size=32,
                                   crop_size=8)
    result = detection.run(cohort, settings, seed=0, device="cpu", out_dir=tmp_path / "out", progress=False)
    headline = result.headline()
    assert result.trained and headline["n_hands/train"] == 4 and headline["n_hands/scored"] == 8
    assert 0 <= headline["detection_rate/baseline/erosion"] <= 1 and headline["flagged_share/crops"] == 0.0
    assert set(result.detections.detector) == {"dlc", "dlc_refined", "frcnn"}
    assert set(result.evaluated.detector) == {"dlc", "dlc_refined", "frcnn", "baseline"}
    assert headline["detection_rate/dlc_refined/jsn"] is not None
    refined = result.detections[result.detections.detector == "dlc_refined"]
    dlc = result.detections[result.detections.detector == "dlc"]
    assert list(refined.hand_id) == list(dlc.hand_id) and list(refined.likelihood) == list(dlc.likelihood)
    assert result.shape_moved_by_landmark()["detections"].sum() == len(refined)
    store = detection.load_crop_store(tmp_path / "out")
    assert store.images.shape == (12 * 22, 8, 8) and set(store.index.source) == {"truth"}
    assert np.isfinite(result.dlc_summary.final_train_loss).all()
    assert (tmp_path / "out" / "detections.csv").exists()


def test_run_without_a_refiner_reports_none_for_it(tmp_path):
    cohort = load_cohort(make_native_cohort(tmp_path / "c", n_patients=3))
    settings = dataclasses.replace(PROFILES["smoke"], n_train=4, dlc_image_size=32, frcnn_image_size=32,
                                   crop_size=8, refine_epochs=0)
    result = detection.run(cohort, settings, seed=0, device="cpu", out_dir=tmp_path / "out", progress=False)
    assert "dlc_refined" not in set(result.detections.detector)
    assert result.headline()["detection_rate/dlc_refined/erosion"] is None
    assert result.headline()["detection_rate/dlc/erosion"] is not None
