import dataclasses

import pytest

from ra_lib.core.profiles import resolve
from ra_lib.stages.classification import PROFILES, ClassificationSettings


def test_one_frozen_settings_class_per_profile():
    assert set(PROFILES) == {"smoke", "quick", "paper"}
    assert all(type(p) is ClassificationSettings for p in PROFILES.values())
    with pytest.raises(dataclasses.FrozenInstanceError):
        PROFILES["smoke"].epochs = 5


def test_paper_profile_has_the_papers_training_and_augmentation():
    paper = resolve(PROFILES, "paper")
    assert (paper.backbone, paper.crop_size, paper.epochs, paper.patience, paper.train_size) == ("vgg16", 224, 100,
                                                                                                10, 10_000)
    assert paper.test_folds is None  # every fold: full out-of-fold coverage
    assert (paper.rotation_deg, paper.shift_px, paper.shift_reference_px, paper.scale_range) == (3.0, 5.0, 224,
                                                                                               (0.97, 1.03))


def test_overrides_win_and_lists_become_tuples():
    settings = resolve(PROFILES, "smoke", epochs=3, test_folds=[1, 2], models=["siso"])
    assert (settings.epochs, settings.test_folds, settings.models) == (3, (1, 2), ("siso",))
    assert resolve(PROFILES, "smoke", epochs=None).epochs == PROFILES["smoke"].epochs


def test_unknown_names_are_rejected():
    with pytest.raises(ValueError, match="unknown setting"):
        resolve(PROFILES, "smoke", epoch=3)
    with pytest.raises(ValueError, match="mimo_feet"):
        ClassificationSettings(models=("mimo_feet",))
