"""Collimation: the exposed field is a slightly rotated rectangle inside the image; outside it the
processing shows either unexposed plate (white) or an electronic shutter (black)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .render import MAX_VALUE

#: Of the collimated images, the share with a white border (the real samples show both alike).
WHITE_FRACTION = 0.5


@dataclass(frozen=True)
class Collimation:
    """Insets (left, right, top, bottom) in mm of the field's edges, its tilt, and what lies outside."""

    insets_mm: tuple[float, float, float, float]
    angle_deg: float
    outside: str  # "white" (unexposed plate) or "black" (shutter)


def sample_collimation(rng: np.random.Generator, fraction: float) -> Collimation | None:
    """A collimated field with probability ``fraction``: one to four edges inside the image."""
    if rng.random() >= fraction:
        return None
    insets = tuple(float(rng.uniform(2, 15)) if rng.random() < 0.6 else -50.0 for _ in range(4))
    outside = "white" if rng.random() < WHITE_FRACTION else "black"
    return Collimation(insets, float(rng.normal(0, 1.5)), outside)


def field_mask(shape: tuple[int, int], pixel_mm: float, c: Collimation) -> np.ndarray:
    """Fraction of each pixel inside the field (anti-aliased over a 0.6 mm penumbra)."""
    h, w = shape
    Y, X = np.mgrid[0:h, 0:w].astype(np.float32)
    X, Y = (X + 0.5) * pixel_mm, (Y + 0.5) * pixel_mm
    cx, cy = w * pixel_mm / 2, h * pixel_mm / 2
    a = math.radians(c.angle_deg)
    u = (X - cx) * math.cos(a) + (Y - cy) * math.sin(a)
    v = (Y - cy) * math.cos(a) - (X - cx) * math.sin(a)
    left, right, top, bottom = c.insets_mm
    dist = np.minimum.reduce([u + cx - left, cx - right - u, v + cy - top, cy - bottom - v])
    return np.clip(dist / 0.6 + 0.5, 0.0, 1.0)


def collimate(pixels: np.ndarray, pixel_mm: float, c: Collimation | None) -> np.ndarray:
    """``pixels`` (uint16, MONOCHROME2 sense) with the outside of the field white or black."""
    if c is None:
        return pixels
    inside = field_mask(pixels.shape, pixel_mm, c)
    fill = MAX_VALUE if c.outside == "white" else 0
    out = inside * pixels.astype(np.float32) + (1.0 - inside) * fill
    return np.rint(out).astype(np.uint16)
