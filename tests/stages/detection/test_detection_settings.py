import dataclasses

import pytest

from ra_lib.core.profiles import resolve
from ra_lib.stages import detection
from ra_lib.stages.detection.settings import PROFILES, DetectionSettings


def test_one_frozen_settings_per_profile():
    assert set(PROFILES) == {"smoke", "quick", "paper"}
    assert all(isinstance(s, DetectionSettings) for s in PROFILES.values())
    with pytest.raises(dataclasses.FrozenInstanceError):
        PROFILES["smoke"].n_train = 5
    assert detection.PROFILES is PROFILES and detection.DetectionSettings is DetectionSettings


def test_profiles_keep_the_papers_sizes():
    paper = PROFILES["paper"]
    assert (paper.n_train, paper.dlc_image_size, paper.dlc_net_type) == (20, 256, "resnet_50")
    assert paper.dlc_models == "paper"
    assert (paper.frcnn_arch, paper.frcnn_box_head_width) == ("resnet50", 1024)
    smoke = PROFILES["smoke"]
    assert (smoke.n_train, smoke.n_test, smoke.crop_size, smoke.crop_centres) == (3, 1, 32, "truth")
    assert (smoke.dlc_epochs, smoke.frcnn_epochs, smoke.dlc_image_size, smoke.frcnn_image_size) == (1, 1, 64, 64)
    assert PROFILES["quick"].crop_centres == "dlc_refined" and PROFILES["quick"].frcnn_image_size == 256
    assert all(s.refine_epochs >= 1 for s in PROFILES.values())
    assert {s.dlc_augmentation for s in PROFILES.values()} == {"upright"}
    assert {s.dlc_p_cutoff for s in PROFILES.values()} == {0.6}


def test_resolve_overrides_and_checks():
    settings = resolve(PROFILES, "smoke", n_train=5, dlc_epochs=None, crop_centres="dlc")
    assert (settings.n_train, settings.dlc_epochs, settings.crop_centres) == (5, 1, "dlc")
    with pytest.raises(ValueError, match="unknown setting"):
        resolve(PROFILES, "smoke", epochs=3)
    with pytest.raises(ValueError, match="unknown crop_centres 'elbow'"):
        resolve(PROFILES, "smoke", crop_centres="elbow")
    with pytest.raises(ValueError, match="unknown dlc_models"):
        resolve(PROFILES, "smoke", dlc_models="three")
    with pytest.raises(ValueError, match="unknown frcnn_arch"):
        resolve(PROFILES, "smoke", frcnn_arch="yolo")
    with pytest.raises(ValueError, match="n_train must be at least 1"):
        resolve(PROFILES, "smoke", n_train=0)


def test_synthetic_pretraining_is_checked_and_sized_per_profile():
    assert PROFILES["smoke"].pretrain_hands == 0  # make test stays fast
    assert PROFILES["quick"].n_train == 20
    paper = PROFILES["paper"]
    assert paper.pretrain_hands > paper.n_train and paper.pretrain_epochs >= 1
    with pytest.raises(ValueError, match="pretrain_epochs >= 1"):
        resolve(PROFILES, "smoke", pretrain_hands=5, pretrain_epochs=0)
    with pytest.raises(ValueError, match="pretrain_hands must be >= 0"):
        resolve(PROFILES, "smoke", pretrain_hands=-1)


def test_refiner_and_augmentation_settings_are_checked():
    with pytest.raises(ValueError, match="unknown dlc_augmentation"):
        resolve(PROFILES, "smoke", dlc_augmentation="sideways")
    with pytest.raises(ValueError, match="refine_epochs"):
        resolve(PROFILES, "quick", refine_epochs=0)  # quick crops at the refined centres
    assert resolve(PROFILES, "quick", refine_epochs=0, crop_centres="dlc").refine_epochs == 0
    with pytest.raises(ValueError, match="refine_patch_size"):
        resolve(PROFILES, "smoke", refine_patch_size=0)
