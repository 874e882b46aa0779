"""ra_lib.stages.comparisons.settings: one frozen settings dataclass, three profiles."""
import dataclasses

import pytest

from ra_lib.core.profiles import PROFILE_NAMES, resolve
from ra_lib.stages.comparisons import PROFILES, ComparisonsSettings


def test_profiles_are_settings_of_every_profile_name():
    assert set(PROFILES) == set(PROFILE_NAMES)
    assert all(isinstance(s, ComparisonsSettings) for s in PROFILES.values())
    assert [PROFILES[p].n_boot for p in ("smoke", "quick", "paper")] == [50, 500, 2000]


def test_resolve_applies_overrides_and_refuses_unknown_knobs():
    assert resolve(PROFILES, "paper", n_boot=7).n_boot == 7
    assert resolve(PROFILES, "quick", n_boot=None, alpha=None) == PROFILES["quick"]
    with pytest.raises(ValueError, match="n_bootstrap"):
        resolve(PROFILES, "smoke", n_bootstrap=3)


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PROFILES["smoke"].n_boot = 1
