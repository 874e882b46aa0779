"""Physical rendering: attenuation line integrals, then the detector.

A :class:`Canvas` accumulates the Beer-Lambert exponent ``sum(mu * path)`` per pixel
from soft tissue, bone (cortical shell + trabecular/marrow interior), air and metal;
:func:`expose` turns it into a processed 12-bit radiograph (heel effect, scatter,
detector blur, Poisson quantum noise, log transform, edge enhancement, quantisation).
Values are MONOCHROME2 sense: more attenuation = brighter.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from .shapes import Bone, Ellipse, Rod

MU_METAL = 3.0  # 1/mm, a gold or silver ring: opaque at any energy
MU_LEAD = 8.0
MAX_VALUE = 4095  # 12 bits stored


@dataclass(frozen=True)
class Attenuation:
    """Linear attenuation coefficients (1/mm) at one effective beam energy."""

    soft: float
    cortex: float
    trabecular: float
    marrow: float


#: ~30 keV effective (hands, 42-50 kVp), ~40 keV (feet, knees, shoulders), ~55 keV (trunk, 80-120 kVp).
HAND_BEAM = Attenuation(soft=0.037, cortex=0.25, trabecular=0.085, marrow=0.034)
LIMB_BEAM = Attenuation(soft=0.027, cortex=0.12, trabecular=0.045, marrow=0.025)
TRUNK_BEAM = Attenuation(soft=0.021, cortex=0.055, trabecular=0.028, marrow=0.020)


class Canvas:
    """Pixel grid in world millimetres; pixel (row i, col j) is centred at ((j + .5) px, (i + .5) px)."""

    def __init__(self, height: int, width: int, pixel_mm: float, rng: np.random.Generator,
                 beam: Attenuation = HAND_BEAM):
        self.beam = beam
        self.shape = (int(height), int(width))
        self.pixel_mm = float(pixel_mm)
        self.mu = np.zeros(self.shape, np.float32)
        self.soft = np.zeros(self.shape, np.float32)
        self.bone = np.zeros(self.shape, np.float32)
        self._rng = rng
        self._texture: np.ndarray | None = None

    @property
    def texture(self) -> np.ndarray:
        """Zero-mean, unit-variance trabecular texture (band-limited noise, ~0.4 mm grain)."""
        if self._texture is None:
            field = self._rng.standard_normal(self.shape, dtype=np.float32)
            field = ndimage.gaussian_filter(field, sigma=max(0.4 / self.pixel_mm, 0.7))
            self._texture = field / max(float(field.std()), 1e-6)
        return self._texture

    def window(self, bounds, margin_mm: float = 1.0):
        """Slices and pixel-centre coordinates (X: 1 x w, Y: h x 1) covering ``bounds``; None if off-canvas."""
        px = self.pixel_mm
        x0, x1, y0, y1 = bounds
        j0 = max(int(np.floor((x0 - margin_mm) / px)), 0)
        j1 = min(int(np.ceil((x1 + margin_mm) / px)) + 1, self.shape[1])
        i0 = max(int(np.floor((y0 - margin_mm) / px)), 0)
        i1 = min(int(np.ceil((y1 + margin_mm) / px)) + 1, self.shape[0])
        if j0 >= j1 or i0 >= i1:
            return None
        X = ((np.arange(j0, j1, dtype=np.float32) + 0.5) * px)[None, :]
        Y = ((np.arange(i0, i1, dtype=np.float32) + 0.5) * px)[:, None]
        return (slice(i0, i1), slice(j0, j1)), X, Y

    def add_soft(self, shape) -> None:
        """Soft tissue; overlapping soft shapes merge (maximum), they do not stack."""
        win = self.window(shape.bounds())
        if win is not None:
            sl, X, Y = win
            np.maximum(self.soft[sl], shape.thickness(X, Y), out=self.soft[sl])

    def add_air(self, shape, weight: float = 1.0) -> None:
        """Gas inside soft tissue (lungs, bowel): removes soft-tissue attenuation."""
        self._add(shape, -self.beam.soft * weight)

    def add_tissue(self, shape, mu: float | None = None) -> None:
        """Extra material stacked on the soft tissue: more soft tissue by default, or ``mu`` (metal)."""
        self._add(shape, self.beam.soft if mu is None else mu)

    def _add(self, shape, mu: float) -> None:
        win = self.window(shape.bounds())
        if win is not None:
            sl, X, Y = win
            self.mu[sl] += mu * shape.thickness(X, Y)

    def add_bone(self, bone: Bone) -> None:
        win = self.window(bone.bounds())
        if win is None:
            return
        sl, X, Y = win
        outer = np.zeros(np.broadcast_shapes(X.shape, Y.shape), np.float32)
        inner = np.zeros_like(outer)
        density = np.zeros_like(outer)
        for shape, core in zip(bone.shapes, bone.inner_shapes()):
            np.maximum(outer, shape.thickness(X, Y), out=outer)
            t_in = core.thickness(X, Y)
            if isinstance(shape, Rod):  # trabecular ends, fatty marrow mid-shaft
                ends = shape.end_weight(X, Y, 0.2)
                rho = (0.25 + 0.75 * ends) * (1.0 - bone.periarticular_loss * ends)
            else:
                rho = np.ones_like(t_in)
            take = t_in > inner
            inner = np.where(take, t_in, inner)
            density = np.where(take, rho, density)
        px = self.pixel_mm
        for cut in bone.cuts:
            outer *= _outside(cut.shape.grown(cut.gap), X, Y, px)
            inner *= _outside(cut.shape.grown(cut.gap + cut.plate), X, Y, px)
        for bite in bone.bites:
            keep = 1.0 - bite.depth * _inside_disc(bite.center, bite.radius, X, Y, px)
            outer *= keep
            inner *= keep
        inner = np.minimum(inner, outer)
        beam = self.beam
        trabecular = (beam.trabecular - beam.marrow) * bone.density * density
        mu_inner = beam.marrow + trabecular
        # trabecular pattern: fluctuations average out along the ray (~ sqrt of the path length)
        pattern = 0.25 * trabecular * self.texture[sl] * np.sqrt(2.0 * inner)
        self.mu[sl] += (beam.cortex - beam.soft) * (outer - inner) + (mu_inner - beam.soft) * inner + pattern
        self.bone[sl] += outer

    def line_integral(self) -> np.ndarray:
        return np.maximum(self.mu + self.beam.soft * self.soft, 0.0)


def _outside(shape: Ellipse, X, Y, px: float) -> np.ndarray:
    """1 outside the ellipse, 0 inside, anti-aliased over one pixel."""
    dist = (np.sqrt(shape.radial(X, Y)) - 1.0) * min(shape.a, shape.b)
    return np.clip(dist / px + 0.5, 0.0, 1.0)


def _inside_disc(center, radius: float, X, Y, px: float) -> np.ndarray:
    """1 inside the disc, 0 outside, with an ill-defined rim (a fifth of the radius, at least a pixel)."""
    dist = np.sqrt((X - center[0]) ** 2 + (Y - center[1]) ** 2) - radius
    return np.clip(0.5 - dist / max(px, 0.2 * radius), 0.0, 1.0)


@dataclass(frozen=True)
class Detector:
    """Acquisition and processing of one X-ray room."""

    quanta_per_mm2: float = 4.0e4
    blur_mm: float = 0.12
    scatter_fraction: float = 0.08
    heel: float = 0.06
    gain: float = 750.0
    offset: float = 180.0
    unsharp: float = 0.6
    unsharp_mm: float = 2.5
    gamma: float = 1.0  # tone curve on the log signal: below 1 lifts soft tissue (display processing)


def vary(detector: Detector, rng: np.random.Generator, spread: float) -> Detector:
    """One exposure of a room: dose, blur, edge enhancement and tone curve vary log-normally by ``spread``
    (0 = every image of the room alike)."""
    if spread <= 0:
        return detector
    f = np.exp(rng.normal(0.0, spread, 5))
    return replace(detector, quanta_per_mm2=detector.quanta_per_mm2 * float(f[0]),
                   blur_mm=detector.blur_mm * float(f[1]) ** 0.5, unsharp=detector.unsharp * float(f[2]),
                   unsharp_mm=detector.unsharp_mm * float(f[3]) ** 0.5,
                   gamma=float(np.clip(detector.gamma * f[4] ** 0.5, 0.4, 1.2)))


def expose(line_integral: np.ndarray, pixel_mm: float, detector: Detector, rng: np.random.Generator,
           q_range: tuple[float, float] | None = None, equalize: float = 0.0) -> np.ndarray:
    """Processed 12-bit radiograph (uint16, MONOCHROME2 sense) of a line-integral map.

    Automatic exposure control raises the dose behind thick body parts; the processing
    maps the log signal from the direct-exposure level to the densest structure onto
    the 12-bit range (at most ``detector.gain`` values per unit of attenuation), or a fixed
    ``q_range`` of log attenuation onto the full range. ``equalize`` (0-1) compresses
    large-scale density differences (latitude reduction of trunk radiographs).
    """
    h, _ = line_integral.shape
    sample = line_integral[::4, ::4]
    body = sample[sample > 0.2]
    aec = float(np.exp(max(float(np.median(body)) - 1.2, 0.0))) if body.size else 1.0
    i0 = detector.quanta_per_mm2 * pixel_mm * pixel_mm * aec
    heel = (1.0 + detector.heel * np.linspace(-1.0, 1.0, h, dtype=np.float32))[:, None] * np.float32(i0)
    primary = heel * np.exp(-line_integral)
    scatter = detector.scatter_fraction * _lowpass(heel - primary, 20.0 / pixel_mm)
    blur_px = np.hypot(detector.blur_mm / pixel_mm, 0.45)
    signal = ndimage.gaussian_filter(primary + scatter, sigma=blur_px)
    counts = rng.poisson(signal).astype(np.float32)
    q = np.log(np.float32(i0) / np.maximum(counts, np.float32(0.5)))
    if equalize:
        low = _lowpass(q, 30.0 / pixel_mm)
        q -= equalize * (low - np.float32(np.median(low)))
    if detector.unsharp:
        q += detector.unsharp * (q - ndimage.gaussian_filter(q, sigma=detector.unsharp_mm / pixel_mm))
    if q_range is None:
        q_lo, q_hi = np.percentile(q[::4, ::4], [0.5, 99.9])
        gain = min(detector.gain, (MAX_VALUE - 2 * detector.offset) / max(float(q_hi - q_lo), 1e-3))
    else:
        q_lo, gain = q_range[0], (MAX_VALUE - 2 * detector.offset) / (q_range[1] - q_range[0])
    if detector.gamma != 1.0:
        span = np.float32((MAX_VALUE - 2 * detector.offset) / gain)
        q = q_lo + span * np.clip((q - q_lo) / span, 0.0, None) ** np.float32(detector.gamma)
    return np.clip(np.rint(detector.offset + gain * (q - q_lo)), 0, MAX_VALUE).astype(np.uint16)


def _lowpass(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Wide Gaussian blur computed on a block-averaged copy (fast for large sigma)."""
    f = max(int(sigma_px // 4), 1)
    h, w = image.shape
    hs, ws = -(-h // f), -(-w // f)
    padded = np.pad(image, ((0, hs * f - h), (0, ws * f - w)), mode="edge")
    small = padded.reshape(hs, f, ws, f).mean(axis=(1, 3))
    small = ndimage.gaussian_filter(small, sigma=sigma_px / f, mode="nearest")
    return ndimage.zoom(small, f, order=1, mode="nearest", grid_mode=True)[:h, :w]

