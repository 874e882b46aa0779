import dataclasses

import pytest

from ra_lib.core.profiles import resolve
from ra_lib.stages.overall_score import PROFILES, OverallScoreSettings
from ra_lib.stages.overall_score.models import VARIANTS


def test_profiles_are_one_frozen_settings_class():
    assert set(PROFILES) == {"smoke", "quick", "paper"}
    assert all(isinstance(p, OverallScoreSettings) for p in PROFILES.values())
    with pytest.raises(dataclasses.FrozenInstanceError):
        PROFILES["smoke"].epochs = 5


def test_paper_profile_has_paper_003_settings():
    paper = PROFILES["paper"]
    assert (paper.batch_size, paper.lr, paper.weight_decay, paper.momentum) == (4, 1e-3, 1e-3, 0.9)
    assert paper.input_size == 1024 and paper.layers == (3, 4, 6, 3) and paper.expansion == 6
    assert set(paper.variants) == set(VARIANTS)


def test_resolve_applies_overrides_and_makes_lists_tuples():
    settings = resolve(PROFILES, "smoke", epochs=3, variants=["B"], input_size=None)
    assert settings.epochs == 3 and settings.variants == ("B",) and settings.input_size == PROFILES["smoke"].input_size
    with pytest.raises(ValueError, match="unknown setting"):
        resolve(PROFILES, "smoke", epoch=3)


def test_settings_reject_unknown_unit_and_variant():
    with pytest.raises(ValueError, match="unit"):
        dataclasses.replace(PROFILES["smoke"], unit="foot")
    with pytest.raises(ValueError, match="variant"):
        dataclasses.replace(PROFILES["smoke"], variants=("IRB", "vgg16"))
