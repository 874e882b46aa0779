"""Tests of ra_lib.stages.grading.settings: one frozen settings class, three profiles, checked knobs."""
import dataclasses

import pytest

from ra_lib.core.profiles import PROFILE_NAMES, resolve
from ra_lib.stages.grading import PROFILES, GradingSettings
from ra_lib.stages.grading.settings import METHODS, REGRESSION_METHODS, sum_method


def test_profiles_are_frozen_grading_settings():
    assert set(PROFILES) == set(PROFILE_NAMES)
    for settings in PROFILES.values():
        assert isinstance(settings, GradingSettings)
        with pytest.raises(dataclasses.FrozenInstanceError):
            settings.epochs = 3


def test_paper_profile_follows_papers_002_and_004():
    paper = PROFILES["paper"]
    assert (paper.arch, paper.crop_size, paper.lr, paper.momentum) == ("efficientnet_b4", 224, 1e-3, 0.9)
    assert (paper.weight_decay_jsn, paper.weight_decay_erosion) == (1e-3, 5e-3)
    assert (paper.epochs, paper.batch_size, paper.regression_lr) == (25, 100, 1e-3)
    assert (paper.max_rotation_deg, paper.max_shear_rad, paper.max_zoom) == (25.0, 0.1, 0.1)
    assert paper.methods == METHODS and paper.regression_methods == REGRESSION_METHODS


def test_resolve_applies_overrides_and_rejects_unknown_knobs():
    settings = resolve(PROFILES, "smoke", epochs=3, crop_size=None)
    assert settings.epochs == 3 and settings.crop_size == PROFILES["smoke"].crop_size
    with pytest.raises(ValueError, match="unknown setting"):
        resolve(PROFILES, "smoke", n_folds=8)


@pytest.mark.parametrize("change, message", [({"arch": "resnet"}, "unknown arch"),
                                             ({"methods": ("plain", "focal")}, "unknown methods"),
                                             ({"regression_methods": ("gauss",)}, "unknown regression_methods"),
                                             ({"epochs": 0}, "epochs must be at least 1")])
def test_invalid_settings_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(PROFILES["smoke"], **change)


def test_sums_take_the_calibrated_method_by_preference():
    assert sum_method(("oversample_aug", "plain", "cdf_grades")) == "cdf_grades"
    assert sum_method(("class_weights", "plain")) == "plain" and sum_method(("oversample_aug",)) is None
