"""Profiles: named default settings of a stage (``smoke``, ``quick``, ``paper``).

Each stage module declares ``PROFILES = {"smoke": {...}, "quick": {...}, "paper": {...}}``. A
notebook's parameters cell lists every knob with ``None`` meaning "the profile's value";
:func:`resolve` merges the two so that papermill ``-p`` values always win.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Mapping

PROFILE_NAMES = ("smoke", "quick", "paper")


def resolve(profiles: Mapping[str, Mapping[str, Any]], profile: str, **overrides: Any) -> SimpleNamespace:
    """Settings of ``profile`` with every non-``None`` override applied.

    Raises ``ValueError`` for an unknown profile or an override the profile does not define,
    so a mistyped papermill parameter is an error, not a silent no-op.
    """
    if profile not in profiles:
        raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(profiles)}")
    settings = dict(profiles[profile])
    unknown = sorted(set(overrides) - set(settings))
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown} for profile {profile!r}; known: {sorted(settings)}")
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return SimpleNamespace(**settings)
