from dataclasses import dataclass, FrozenInstanceError

import pytest

from ra_lib.core.profiles import parse_assignment, resolve


@dataclass(frozen=True)
class Settings:
    epochs: int
    size: int


PROFILES = {"smoke": Settings(epochs=1, size=32), "quick": Settings(epochs=5, size=64)}


def test_none_means_profile_default_and_values_override():
    cfg = resolve(PROFILES, "quick", epochs=None, size=96)
    assert (cfg.epochs, cfg.size) == (5, 96)


def test_unknown_profile_and_setting_are_errors():
    with pytest.raises(ValueError, match="unknown profile 'paper'"):
        resolve(PROFILES, "paper")
    with pytest.raises(ValueError, match="epoch"):
        resolve(PROFILES, "smoke", epoch=3)


def test_resolve_leaves_the_profile_untouched():
    cfg = resolve(PROFILES, "quick", epochs=9)
    assert PROFILES["quick"].epochs == 5 and cfg.epochs == 9
    with pytest.raises(FrozenInstanceError):
        cfg.epochs = 3


def test_parse_assignment_reads_values_as_yaml():
    assert parse_assignment("dlc_epochs=200") == ("dlc_epochs", 200)
    assert parse_assignment("lr=1e-3") == ("lr", 1e-3)
    assert parse_assignment("mirror=true") == ("mirror", True)
    assert parse_assignment("crop_centres=dlc_refined") == ("crop_centres", "dlc_refined")
    assert parse_assignment("folds=[0, 1]") == ("folds", [0, 1])
    assert parse_assignment("path=a=b") == ("path", "a=b")
    for bad in ("dlc_epochs", "=3"):
        with pytest.raises(ValueError, match="key=value"):
            parse_assignment(bad)
