"""Scoring per joint with the bundles of stages 2-4: every site listed, orientation recorded, missing bundles."""
import dataclasses
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from ra_lib.cohort.imageio import read_image
from ra_lib.cohort.sites import HAND_SITES
from ra_lib.core import bundles, contracts
from ra_lib.stages.grading.data import PROBA_COLUMNS
from ra_lib.stages.scoring import PROFILES, run
from ra_lib.stages.scoring.image_scoring import ScoringTask, score_task
from ra_lib.stages.scoring.inputs import from_cohort
from ra_lib.stages.scoring.joints import DETECTIONS, NOT_LEARNT, SUM_DISTRIBUTION, hand_mirroring, joint_sum
from ra_lib.stages.scoring import models as scoring_models
from ra_lib.stages.scoring.models import ScoringModels, SelectionModel, bundle_folder
from ra_lib.stages.scoring.overlay import GRADE_COLOURS, UNGRADED_COLOUR, joint_marks
from ra_lib.stages.scoring.truth import compare
from ra_lib.stages.selection.data import network_input
from ra_lib.stages.selection.train import predict_proba

SMOKE = PROFILES["smoke"]


@pytest.fixture(scope="module")
def scored(joint_build, tmp_path_factory):
    artifacts, cohort = joint_build
    return run(from_cohort(cohort), artifacts, tmp_path_factory.mktemp("scored") / "out", SMOKE, progress=False)


def test_every_site_of_every_hand_gets_a_joint_row(scored):
    hands, joints = scored.hands, scored.joints
    assert len(hands) and len(joints) == len(hands) * len(HAND_SITES)
    assert pd.read_parquet(scored.out_dir / "joints.parquet").equals(joints)
    assert len(pd.read_csv(scored.out_dir / "joints.csv")) == len(joints)
    assert set(joints["detection"]) <= set(DETECTIONS)
    per_hand = joints.groupby(["image_key", "hand"]).size()
    assert (per_hand == len(HAND_SITES)).all()
    assert (hands["joints_found"] + hands["joints_not_found"] <= len(HAND_SITES)).all()


def test_found_joints_get_damage_and_grade_distributions(scored):
    found = scored.joints[scored.joints["detection"] == "found"]
    assert len(found) and found["likelihood"].notna().all() and found["x"].notna().all()
    assert found["p_damaged"].between(0, 1).all()
    np.testing.assert_allclose(found[PROBA_COLUMNS].sum(axis=1), 1.0, atol=1e-5)
    assert (found["grade_q10"] <= found["grade_q90"]).all()
    assert found["grade_expected"].between(found["grade_q10"] - 1, found["grade_q90"] + 1).all()
    assert (found.loc[found["kind"] == "jsn", "p_5"] == 0).all()


def test_orientation_is_recorded_per_image_and_thumb_side_per_single_hand(scored):
    images = scored.images
    assert images["orientation_pred"].notna().all()
    assert set(images["rotation_pred"]) <= {0, 90, 180, 270}
    assert set(images["thumb_side_pred"]) <= {"left", "right"}
    single = scored.hands.merge(images[["image_key", "selection", "thumb_side_pred"]], on="image_key")
    single = single[single["selection"] == "one_hand"]
    assert (single["thumb_side"] == single["thumb_side_pred"]).all()


def test_the_report_summarises_the_joints_without_identifiers(scored):
    report = (scored.out_dir / "report.html").read_text()
    assert "<h2>Joints</h2>" in report and "called damaged" in report
    for patient in scored.images["patient"].dropna().unique():
        assert patient not in report


def test_joints_below_the_cut_off_are_listed_with_the_reason(joint_build, tmp_path):
    artifacts, cohort = joint_build
    models = ScoringModels.load(artifacts)
    models.detection = dataclasses.replace(models.detection, p_cutoff=1.01)
    item = from_cohort(cohort)[0]
    record, _ = score_task(ScoringTask(str(item.path), "k", "image", item.laterality), models, SMOKE)
    assert record["joints"]
    assert {j["detection"] for j in record["joints"]} == {"not_found"}
    assert all(("below the detector's cut-off" in j["reason"] or "outside" in j["reason"]) and
               j["p_damaged"] is None for j in record["joints"])


@pytest.mark.parametrize("stage, reason", [
    (contracts.DETECTION, "no joint-detection model: 02_joint_detection/bundle/bundle.json is missing"),
    (contracts.CLASSIFICATION, "no joint-classification model: 03_joint_classification/bundle/bundle.json"),
    (contracts.GRADING, "no joint-grading model: 04_joint_grading/bundle/bundle.json is missing"),
])
def test_a_missing_joint_bundle_flags_every_hand_image(joint_build, tmp_path, stage, reason):
    artifacts, cohort = joint_build
    copy = tmp_path / "artifacts"
    shutil.copytree(artifacts, copy)
    shutil.rmtree(copy / stage / "bundle")
    result = run(from_cohort(cohort)[:3], copy, tmp_path / "out", SMOKE, progress=False)
    hands = result.images[result.images["hands"] > 0]
    assert len(hands) and hands["flags"].str.contains("missing_model").all()
    assert hands["reasons"].str.contains(reason, regex=False).all()
    joints = result.joints
    if stage == contracts.DETECTION:
        assert set(joints["detection"]) == {"not_scored"} and joints["x"].isna().all()
    else:
        column = "p_damaged" if stage == contracts.CLASSIFICATION else "grade_expected"
        assert joints[column].isna().all() and joints["detection"].eq("found").any()


def test_hand_mirroring_follows_the_side_else_the_thumb():
    palmar = frozenset({"L"})  # left hands show the thumb on the left
    assert hand_mirroring("L", None, palmar) == (True, True)
    assert hand_mirroring("R", "left", palmar) == (False, False)
    assert hand_mirroring("unknown", "left", palmar) == (True, True)
    assert hand_mirroring("unknown", "right", palmar) == (False, False)
    assert hand_mirroring("unknown", "right", frozenset({"R"})) == (False, True)
    assert hand_mirroring("unknown", None, palmar) is None


def test_found_joints_are_compared_with_the_cohorts_grades(scored, joint_build):
    _, cohort = joint_build
    truth = compare(scored.images, scored.hands, cohort, scored.joints)
    assert len(truth.joints) and truth.joints["grade_true"].notna().all()
    agreement = truth.joint_agreement().set_index("kind")
    assert set(agreement.index) == {"erosion", "jsn"} and (agreement["joints"] > 0).all()
    headline = scored.headline(truth)
    assert headline["joints_found"] == (scored.joints["detection"] == "found").sum()
    assert headline["joint_grade_accuracy/jsn"] == agreement.at["jsn", "grade_accuracy"]
    assert scored.headline()["joint_roc_auc/erosion"] is None


def test_images_are_turned_upright_before_selection(joint_build):
    artifacts, cohort = joint_build
    models = ScoringModels.load(artifacts)
    models.selection.orient = lambda image: {"rot90_k_pred": 1, "orientation_pred": "thumb_right/90",
                                             "thumb_side_pred": "right", "view_pred": "one_hand"}
    seen, predict = [], models.selection.predict
    models.selection.predict = lambda image: seen.append(image) or predict(image)
    item = from_cohort(cohort)[0]
    record, _ = score_task(ScoringTask(str(item.path), "k", "image", item.laterality), models, SMOKE)
    np.testing.assert_array_equal(seen[0], np.rot90(read_image(item.path)[0], -1))
    assert record["rotation_pred"] == 90 and record["hands"][-1]["x1"] == record["height"]


def test_selection_sees_images_as_stage_1_trained_on_them(joint_build, monkeypatch):
    artifacts, cohort = joint_build
    selection = ScoringModels.load(artifacts).selection
    assert selection.equalize  # the smoke bundle was trained on equalised inputs
    seen = []
    monkeypatch.setattr(scoring_models, "predict_proba", lambda network, batch: seen.append(batch) or
                        predict_proba(network, batch))
    image = read_image(from_cohort(cohort)[0].path)[0]
    selection.predict(image)
    np.testing.assert_array_equal(seen[0][0, 0].numpy(), network_input(image, selection.input_size, True))
    bundle = bundles.load_bundle(bundle_folder(artifacts, contracts.SELECTION), contracts.SELECTION)
    old = dataclasses.replace(bundle, settings={k: v for k, v in bundle.settings.items() if k != "equalize"})
    assert not SelectionModel(old).equalize  # a bundle from before equalisation


def test_joint_marks_are_coloured_by_the_highest_predicted_grade():
    base = {"hand_index": 0, "x": 10.0, "y": 20.0, "detection": "found"}
    joints = [{**base, "landmark": "mcp2", "kind": "erosion", "grade_pred": 1},
              {**base, "landmark": "mcp2", "kind": "jsn", "grade_pred": 3},
              {**base, "landmark": "pip2", "grade_pred": None},
              {**base, "landmark": "pip3", "detection": "not_found", "grade_pred": None},
              {**base, "landmark": "radius", "x": None, "detection": "not_scored", "grade_pred": None}]
    assert joint_marks(joints) == [(10.0, 20.0, GRADE_COLOURS[3]), (10.0, 20.0, UNGRADED_COLOUR), (10.0, 20.0, None)]


def test_a_held_out_fold_scores_with_that_folds_model_alone(joint_build):
    artifacts, _ = joint_build
    by_group = ScoringModels.load(artifacts, held_out_fold=1).damage.models
    assert by_group and all(set(by_fold) == {1} for by_fold in by_group.values())
    models = ScoringModels.load(artifacts, held_out_fold=7)
    assert models.damage is None and "no model that held out fold 7" in models.missing[contracts.CLASSIFICATION]


def test_an_assumed_class_is_scored_without_probabilities_or_uncertainty(joint_build):
    artifacts, cohort = joint_build
    models = ScoringModels.load(artifacts)
    models.selection.assumed = "one_hand"
    item = from_cohort(cohort)[0]
    record, png = score_task(ScoringTask(str(item.path), "k", "image", item.laterality), models, SMOKE)
    assert record["selection"] == "one_hand" and record["p_one_hand"] is None and png
    assert "uncertain_selection" not in record["flags"] and len(record["joints"])


def _site_rows(probabilities):
    return [{"hand_index": 0, **dict(zip(PROBA_COLUMNS, row))} for row in probabilities]


def test_joint_sum_is_the_sum_of_the_sites_grade_distributions():
    n = len(HAND_SITES)
    coin = np.zeros((n, len(PROBA_COLUMNS)))
    coin[:, :2] = 0.5  # each site grade 0 or 1: the sum is binomial
    summed = joint_sum(_site_rows(coin))
    assert summed["joint_sum"] == pytest.approx(n / 2) and summed["sites_graded"] == n
    np.testing.assert_allclose(summed[SUM_DISTRIBUTION], binom.pmf(np.arange(n + 1), n, 0.5), atol=1e-12)
    assert (summed["joint_sum_q10"], summed["joint_sum_q90"]) == tuple(binom.ppf([0.1, 0.9], n, 0.5))
    certain = np.eye(len(PROBA_COLUMNS))[np.arange(n) % 3]
    assert joint_sum(_site_rows(certain))["joint_sum"] == pytest.approx((np.arange(n) % 3).sum())
    partial = joint_sum(_site_rows(coin[1:]) + [{"hand_index": 0, PROBA_COLUMNS[0]: None}])
    assert partial == {"joint_sum": None, "joint_sum_q10": None, "joint_sum_q90": None, "sites_graded": n - 1,
                       "sites_filled": 0, SUM_DISTRIBUTION: None}


def test_joint_sum_fills_landmarks_the_detector_never_learnt_from_the_site_priors():
    n = len(HAND_SITES)
    certain = np.eye(len(PROBA_COLUMNS))[np.ones(n, dtype=int)]  # every site grade 1
    unlearnt = [{"hand_index": 0, "kind": s.kind, "site": s.site, "reason": NOT_LEARNT, PROBA_COLUMNS[0]: None}
                for s in HAND_SITES[:3]]
    priors = {}
    for s in HAND_SITES[:3]:
        priors.setdefault(s.kind, {})[s.site] = [0.0, 0.0, 0.0, 1.0]  # grade 3 for sure
    filled = joint_sum(_site_rows(certain[3:]) + unlearnt, priors)
    assert filled["joint_sum"] == pytest.approx(n - 3 + 9)
    assert (filled["sites_graded"], filled["sites_filled"]) == (n - 3, 3)
    assert filled["joint_sum_q10"] == filled["joint_sum_q90"] == n - 3 + 9
    assert joint_sum(_site_rows(certain[3:]) + unlearnt)["joint_sum"] is None  # no priors in the bundle
    too_dark = [{**row, "reason": "likelihood 0.01 below the detector's cut-off 0.1"} for row in unlearnt]
    assert joint_sum(_site_rows(certain[3:]) + too_dark, priors)["joint_sum"] is None  # missed, not unlearnt


def test_scored_hands_carry_their_joint_sums(scored, joint_build):
    graded = scored.joints.groupby(["image_key", "hand"])["p_0"].count()
    complete = scored.hands.set_index(["image_key", "hand"])["sites_graded"] == len(HAND_SITES)
    assert complete.any() and (scored.hands["joint_sum"].notna().to_numpy() == complete.to_numpy()).all()
    assert (scored.hands["joint_sum_q10"] <= scored.hands["joint_sum"]).all()
    assert (graded.reindex(complete.index).to_numpy() == scored.hands["sites_graded"].to_numpy()).all()
    truth = compare(scored.images, scored.hands, joint_build[1], scored.joints)
    assert truth.hand_joint_sum_mae == pytest.approx(truth.hands["joint_sum_error"].abs().mean())
    patients = scored.patients
    assert list(patients["patient"]) == sorted(scored.images["patient"].dropna().unique())
    assert patients["hands_left"].sum() == (scored.hands["hand"] == "L").sum()
    assert len(pd.read_csv(scored.out_dir / "patients.csv")) == len(patients)
    summary = truth.hand_score_summary()
    assert summary.startswith(f"{len(truth.hands)} hand(s) scored") and f"{truth.hand_joint_sum_mae:.1f}" in summary
