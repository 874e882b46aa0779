"""The hand's shape: a point distribution model of the labelled joint centres, fitted robustly to detections.

A local refiner snaps a joint to the nearest joint-like structure. When the coarse centre is half a
phalanx off (common on real radiographs: the whole-hand detector places a plausible hand a little too
small or shifted), a PIP snaps onto its MCP or onto the next finger's PIP. The joints that did snap right
say where the others must be: fitted to them, the shape of the training hands predicts each joint, and a
joint outside its own evaluation box (paper 001's box, :mod:`.boxes`) around that prediction is moved there
and refined again.

The model (Cootes' point distribution model): the labelled hands aligned by similarity transforms (either
display convention: each hand is aligned in the mirror image that fits best), their mean shape and the
leading modes of variation. A hand is fitted by trying the similarity that maps each pair of its
detections onto the mean shape, in both conventions, keeping the one with the smallest truncated squared
error (MSAC), then least squares on the joints within tolerance, with the modes' coefficients clamped
to ``MAX_SD`` standard deviations.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ra_lib.stages.detection import boxes

#: Share of the aligned shapes' variance the modes keep, at most ``MAX_MODES`` of them.
VARIANCE_KEPT = 0.9
MAX_MODES = 4
#: A mode coefficient is clamped to this many of its standard deviations.
MAX_SD = 2.5
#: Alignment iterations (Procrustes to the mean; least squares on the inliers).
ITERATIONS = 3
#: Complete labelled hands below which no shape is learnt.
MIN_HANDS = 3
_MIRROR = np.array([-1.0, 1.0])


def _normalised(points: np.ndarray) -> np.ndarray:
    centred = points - points.mean(0)
    return centred / np.sqrt((centred ** 2).sum(1).mean())


def _similarity(source: np.ndarray, target: np.ndarray) -> tuple[complex, complex]:
    """Least-squares similarity ``z -> a z + t`` (complex) mapping ``source`` onto ``target``."""
    zs, zt = source @ [1, 1j], target @ [1, 1j]
    ms, mt = zs.mean(), zt.mean()
    a = (np.conj(zs - ms) * (zt - mt)).sum() / max((np.abs(zs - ms) ** 2).sum(), 1e-12)
    return a, mt - a * ms


def _mapped(a: complex, t: complex, points: np.ndarray) -> np.ndarray:
    z = a * (points @ [1, 1j]) + t
    return np.stack([z.real, z.imag], 1)


@dataclass(frozen=True)
class HandShape:
    """Mean shape ``(K, 2)`` of ``landmarks`` (unit RMS radius), ``modes`` ``(m, K, 2)`` with standard deviations
    ``sd``, and ``phalanx``, the mean shape's proximal-phalanx length."""

    landmarks: tuple[str, ...]
    mean: np.ndarray
    modes: np.ndarray
    sd: np.ndarray
    phalanx: float

    def tolerance(self, landmarks) -> np.ndarray:
        """Half the width of each landmark's box (:func:`.boxes.paper_box`), in proximal phalanges."""
        return np.array([boxes.paper_box(lm)[0] / 2 / boxes.PAPER_PHALANX_PX for lm in landmarks])

    def fit(self, landmarks, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """The shape fitted to one hand's detections ``xy`` ``(n, 2)`` of ``landmarks`` (any of the model's; NaN
        rows are ignored): each landmark's predicted ``(n, 2)`` centre, its detection's distance from it in
        phalanges and the fitted hand's phalanx length in pixels (NaN where nothing can be fitted: fewer than
        two distinct detections)."""
        column = {lm: k for k, lm in enumerate(self.landmarks)}
        rows = np.array([column[lm] for lm in landmarks], dtype=int)
        xy = np.asarray(xy, dtype=float)
        found = np.isfinite(xy).all(1)
        tolerance = self.tolerance(landmarks)
        start = self._convention(rows, xy, found, tolerance) if found.sum() >= 2 else None
        if start is None:
            return np.full_like(xy, np.nan), np.full(len(xy), np.nan), np.nan
        mean, modes, a, t = start
        a, t, b = self._least_squares(mean, modes, a, t, xy, found, tolerance)
        predicted, phalanx = _mapped(a, t, mean + np.tensordot(b, modes, 1)), abs(a) * self.phalanx
        return predicted, np.hypot(*(predicted - xy).T) / phalanx, phalanx

    def _convention(self, rows, xy, found, tolerance):
        """Mean shape and modes at ``rows`` in the display convention of the best pairwise similarity (MSAC),
        and that similarity; ``None`` when every pair of detections coincides."""
        present = np.flatnonzero(found)
        first, second = np.array(list(itertools.combinations(range(len(present)), 2))).T
        target = xy[present] @ [1, 1j]
        best, choice = np.inf, None
        for flip in (np.ones(2), _MIRROR):
            source = (self.mean[rows] * flip)[present] @ [1, 1j]
            span = source[second] - source[first]
            usable = np.abs(span) > 1e-12
            a = np.where(usable, (target[second] - target[first]) / np.where(usable, span, 1), 0)
            t = target[first] - a * source[first]
            scale = np.abs(a) * self.phalanx
            residual = np.abs(a[:, None] * source[None] + t[:, None] - target[None]) / np.where(
                scale > 1e-9, scale, np.inf)[:, None]
            cost = np.where(scale > 1e-9, (np.minimum(residual, tolerance[present]) ** 2).sum(1), np.inf)
            k = int(np.argmin(cost))
            if cost[k] < best:
                best, choice = cost[k], (self.mean[rows] * flip, self.modes[:, rows] * flip, a[k], t[k])
        return choice

    def _least_squares(self, mean, modes, a, t, xy, found, tolerance):
        """Similarity and mode coefficients fitted to the detections within tolerance."""
        b = np.zeros(len(self.sd))
        for _ in range(ITERATIONS):
            shape = mean + np.tensordot(b, modes, 1)
            residual = np.hypot(*(_mapped(a, t, shape) - xy).T) / (abs(a) * self.phalanx)
            inlier = found & (residual <= tolerance)
            if inlier.sum() < 3:
                break
            a, t = _similarity(shape[inlier], xy[inlier])
            if len(b):
                aligned = ((xy[inlier] @ [1, 1j]) - t) / a
                offsets = np.stack([aligned.real, aligned.imag], 1) - mean[inlier]
                design = modes[:, inlier].reshape(len(b), -1).T
                b = np.linalg.lstsq(design, offsets.reshape(-1), rcond=None)[0]
                b = np.clip(b, -MAX_SD * self.sd, MAX_SD * self.sd)
        return a, t, b

    def to_dict(self) -> dict:
        """Plain lists, for a model bundle's JSON."""
        return {"landmarks": list(self.landmarks), "mean": self.mean.tolist(), "modes": self.modes.tolist(),
                "sd": self.sd.tolist(), "phalanx": self.phalanx}

    @classmethod
    def from_dict(cls, data: dict) -> "HandShape":
        modes = np.asarray(data["modes"], dtype=float).reshape(-1, len(data["landmarks"]), 2)
        return cls(tuple(data["landmarks"]), np.asarray(data["mean"], dtype=float), modes,
                   np.asarray(data["sd"], dtype=float), float(data["phalanx"]))


def _aligned(shapes: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Each shape mapped onto ``reference`` by a similarity, in whichever mirror image fits it better."""
    out = []
    for shape in shapes:
        options = [_mapped(*_similarity(s, reference), s) for s in (shape, shape * _MIRROR)]
        out.append(min(options, key=lambda p: ((p - reference) ** 2).sum()))
    return np.stack(out)


def fit_shape(landmarks: pd.DataFrame, names) -> HandShape | None:
    """The shape of the hands in ``landmarks`` (hand_id, landmark, x, y) labelled at every one of ``names``;
    ``None`` with fewer than :data:`MIN_HANDS` such hands or without an MCP-PIP pair to measure a phalanx
    (:func:`.boxes.phalanx_lengths`)."""
    names = tuple(names)
    wide = landmarks[landmarks["landmark"].isin(names)].pivot_table(index="hand_id", columns="landmark",
                                                                    values=["x", "y"], aggfunc="first")
    if wide.empty or any(("x", lm) not in wide for lm in names):
        return None
    points = np.stack([wide["x"][list(names)].to_numpy(float), wide["y"][list(names)].to_numpy(float)], axis=2)
    points = points[np.isfinite(points).all(axis=(1, 2))]
    if len(points) < MIN_HANDS:
        return None
    shapes = np.stack([_normalised(p) for p in points])
    mean = shapes[0]
    for _ in range(ITERATIONS):
        aligned = _aligned(shapes, mean)
        mean = _normalised(aligned.mean(0))
    aligned = _aligned(shapes, mean)
    mean = aligned.mean(0)
    _, singular, vt = np.linalg.svd((aligned - mean).reshape(len(shapes), -1), full_matrices=False)
    variance = singular ** 2 / (len(shapes) - 1)
    kept = 0  # hands all of one shape vary in no mode
    if variance.sum() > 1e-12:
        kept = int(min(MAX_MODES, np.searchsorted(np.cumsum(variance) / variance.sum(), VARIANCE_KEPT) + 1))
    phalanx = float(boxes.phalanx_lengths(pd.DataFrame({"hand_id": "mean", "landmark": names, "x": mean[:, 0],
                                                         "y": mean[:, 1]})).iloc[0])
    if not np.isfinite(phalanx):
        return None
    return HandShape(names, mean, vt[:kept].reshape(kept, len(names), 2), np.sqrt(variance[:kept]), phalanx)
