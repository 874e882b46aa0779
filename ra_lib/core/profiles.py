"""Profiles: named default settings of a stage (``smoke``, ``quick``, ``paper``).

Each stage package declares one frozen settings dataclass and ``PROFILES = {"smoke": Settings(...),
"quick": ..., "paper": ...}``. A notebook's parameters cell lists every knob with ``None`` meaning
"the profile's value"; :func:`resolve` merges the two so that papermill ``-p`` values always win.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, TypeVar

import yaml

PROFILE_NAMES = ("smoke", "quick", "paper")

Settings = TypeVar("Settings")


def resolve(profiles: Mapping[str, Settings], profile: str, **overrides: Any) -> Settings:
    """Settings of ``profile`` with every non-``None`` override applied.

    Raises ``ValueError`` for an unknown profile or an override the settings do not define,
    so a mistyped papermill parameter is an error, not a silent no-op.
    """
    if profile not in profiles:
        raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(profiles)}")
    base = profiles[profile]
    known = {f.name for f in dataclasses.fields(base)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown} for profile {profile!r}; known: {sorted(known)}")
    return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})


def parse_assignment(text: str) -> tuple[str, Any]:
    """``key=value`` from a command line as ``(key, value)``, the value parsed as YAML (``3``, ``true``,
    ``[0, 1]``, ``archive``), with numbers YAML leaves as text (``1e-3``) read as floats; ``ValueError``
    without an ``=``."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise ValueError(f"expected key=value, got {text!r}")
    parsed = yaml.safe_load(value)
    if isinstance(parsed, str):
        try:
            return name, float(parsed)
        except ValueError:
            pass
    return name, parsed
