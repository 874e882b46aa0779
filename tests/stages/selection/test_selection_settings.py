"""Stage 1 settings: one frozen dataclass, three profiles, checked values."""
import dataclasses

import pytest

from ra_lib.core.profiles import resolve
from ra_lib.stages.selection import PROFILES, AugmentRanges, SelectionSettings
from ra_lib.stages.selection.settings import PAPER_TEST_FRACTION


def test_profiles_are_frozen_settings():
    assert set(PROFILES) == {"smoke", "quick", "paper"}
    assert all(isinstance(s, SelectionSettings) for s in PROFILES.values())
    with pytest.raises(dataclasses.FrozenInstanceError):
        PROFILES["smoke"].epochs = 3
    paper = PROFILES["paper"]
    assert paper.input_size == 252 and paper.augment_scale == 1.0 and paper.test_fraction == pytest.approx(206 / 1047)
    assert PAPER_TEST_FRACTION == 206 / 1047


def test_resolve_applies_overrides_and_names_unknown_ones():
    settings = resolve(PROFILES, "quick", epochs=7, input_size=None)
    assert settings.epochs == 7 and settings.input_size == PROFILES["quick"].input_size
    with pytest.raises(ValueError, match="epoch"):
        resolve(PROFILES, "quick", epoch=7)


def test_unknown_augmentation_range_is_named():
    with pytest.raises(TypeError, match="rotation"):
        AugmentRanges(rotation=10)


@pytest.mark.parametrize("change, message", [
    (dict(input_size=0), "input_size"), (dict(test_fraction=1.0), "test_fraction"),
    (dict(val_fraction=0.0), "val_fraction"), (dict(augment_scale=-1.0), "augment_scale"),
])
def test_bad_values_are_rejected(change, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(PROFILES["smoke"], **change)


def test_bad_augmentation_ranges_are_rejected():
    with pytest.raises(ValueError, match="zoom"):
        AugmentRanges(zoom=1.0)
    with pytest.raises(ValueError, match="shear_deg"):
        AugmentRanges(shear_deg=-1.0)
