"""Stage 2's bundle: written by ``run(bundle_dir=...)``, loaded, it finds the joints the stage found."""
import dataclasses

import numpy as np
import pytest

from fixtures.builders import make_native_cohort
from ra_lib.cohort import load_cohort
from ra_lib.core import bundles, contracts
from ra_lib.stages import detection
from ra_lib.stages.detection.bundle import load_detector

SETTINGS = dataclasses.replace(detection.PROFILES["smoke"], n_train=4, dlc_image_size=32, frcnn_image_size=32,
                               crop_size=8)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("detection")
    cohort = load_cohort(make_native_cohort(root / "c", n_patients=3))
    result = detection.run(cohort, SETTINGS, seed=0, device="cpu", out_dir=root / "out", progress=False,
                           bundle_dir=root / "out" / bundles.BUNDLE_DIR)
    return cohort, result, root / "out" / bundles.BUNDLE_DIR


def test_the_bundle_finds_the_refined_joints_of_the_stage(trained):
    cohort, result, folder = trained
    detector = load_detector(bundles.load_bundle(folder, contracts.DETECTION))
    assert detector.detector == "dlc_refined" and detector.mirrored_sides == result.mirrored_sides
    assert detector.landmarks == result.landmarks and detector.p_cutoff == SETTINGS.dlc_p_cutoff
    assert detector.refiner.shape.to_dict() == result.refiner.shape.to_dict()
    assert detector.refiner.shape_rounds == SETTINGS.refine_shape_rounds > 0
    refined = result.detections[result.detections["detector"] == "dlc_refined"]
    for hand in cohort.hands.head(3).itertuples():
        found = detector.detect(cohort.load_image(hand.image_id), hand.x0, hand.x1,
                                hand.hand in detector.mirrored_sides, hand.hand_id)
        expected = refined[refined["hand_id"] == hand.hand_id]
        assert list(found["landmark"]) == list(expected["landmark"])
        np.testing.assert_allclose(found[["x", "y", "likelihood"]].to_numpy(dtype=float),
                                   expected[["x", "y", "likelihood"]].to_numpy(dtype=float), atol=1e-3)


def test_a_bundle_of_dlc_alone_keeps_its_centres(tmp_path):
    cohort = load_cohort(make_native_cohort(tmp_path / "c", n_patients=3))
    result = detection.run(cohort, dataclasses.replace(SETTINGS, refine_epochs=0), seed=0, device="cpu",
                           out_dir=tmp_path / "out", progress=False, bundle_dir=tmp_path / "bundle")
    detector = load_detector(bundles.load_bundle(tmp_path / "bundle", contracts.DETECTION))
    assert detector.refiner is None and detector.detector == "dlc"
    hand = cohort.hands.iloc[0]
    found = detector.detect(cohort.load_image(hand.image_id), hand.x0, hand.x1, hand.hand in detector.mirrored_sides,
                            hand.hand_id)
    expected = result.detections[(result.detections["detector"] == "dlc") &
                                 (result.detections["hand_id"] == hand.hand_id)]
    np.testing.assert_allclose(found[["x", "y"]].to_numpy(dtype=float), expected[["x", "y"]].to_numpy(dtype=float),
                               atol=1e-3)


def test_a_skipped_stage_removes_an_old_bundle(tmp_path):
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "bundle.json").write_text("{}")
    cohort = load_cohort(make_native_cohort(tmp_path / "c", n_patients=3, with_landmarks=False))
    result = detection.run(cohort, SETTINGS, seed=0, device="cpu", out_dir=tmp_path / "out", progress=False,
                           bundle_dir=tmp_path / "bundle")
    assert not result.trained and not (tmp_path / "bundle").exists()
