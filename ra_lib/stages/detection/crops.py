"""The joint-crop store: one square crop per hand and landmark, decoded once, cached on disk.

Stages 3 and 4 read joint images only from here, so no later stage re-decodes a radiograph.
Crops are centred on detected (or ground-truth) joint centres and sized in units of the hand's
proximal-phalanx length, following paper 001's scale normalisation: its boxes are 250 x 250 px for
PIP, IP, MCP and CMC-M, 300 x 300 for the other wrist sites and 500 x 300 for the radius, at an image
scale where the median proximal phalanx is :data:`PAPER_PHALANX_PX` long. Left hands are mirrored to
right-hand orientation so every crop of a site looks the same way round.

Files: ``crops.npy`` (N, S, S) float16 in [0, 1] and ``crops.csv``, one row per (hand, kind, site)
pointing at its crop (MCP and PIP crops are shared by erosion and JSN).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage
from tqdm import tqdm

from ra_lib.core import artifacts
from ra_lib.cohort import sites

#: Proximal-phalanx length (MCP to PIP centre) at the scale of paper 001's boxes. The paper does not
#: print it; 400 px matches a 0.1 mm/px hand radiograph of an adult (about 40 mm phalanx).
PAPER_PHALANX_PX = 400.0
#: Paper 001's evaluation boxes (width, height) in paper pixels, by landmark.
_FINGER_BOX = (250.0, 250.0)
_OTHER_BOX = (300.0, 300.0)
_RADIUS_BOX = (500.0, 300.0)
_FINGER_LANDMARKS = {s.landmark for s in sites.HAND_SITES if s.group in ("PIP-IP", "PIP", "MCP", "CMC-M")}

INDEX_COLUMNS = ("crop_idx", "hand_id", "image_id", "patient", "hand", "kind", "site", "group", "landmark",
                 "x", "y", "source", "likelihood", "flagged", "grade")


def paper_box(landmark: str) -> tuple[float, float]:
    """Paper 001's box (width, height) for a landmark, in paper pixels."""
    if landmark == "radius":
        return _RADIUS_BOX
    return _FINGER_BOX if landmark in _FINGER_LANDMARKS else _OTHER_BOX


def box_size_px(landmark: str, phalanx_px: float) -> tuple[float, float]:
    """Paper 001's box for ``landmark`` scaled to an image whose proximal phalanx is ``phalanx_px`` long."""
    width, height = paper_box(landmark)
    scale = phalanx_px / PAPER_PHALANX_PX
    return width * scale, height * scale


def phalanx_lengths(centres: pd.DataFrame) -> pd.Series:
    """Median proximal-phalanx length (MCP i to PIP i, fingers 2-5) per hand_id; NaN when unmeasurable."""
    wide = centres.pivot_table(index="hand_id", columns="landmark", values=["x", "y"], aggfunc="first")
    lengths = []
    for finger in range(2, 6):
        mcp, pip = f"mcp{finger}", f"pip{finger}"
        if ("x", mcp) in wide and ("x", pip) in wide:
            lengths.append(np.hypot(wide[("x", mcp)] - wide[("x", pip)], wide[("y", mcp)] - wide[("y", pip)]))
    if not lengths:
        return pd.Series(np.nan, index=wide.index)
    return pd.concat(lengths, axis=1).median(axis=1, skipna=True)


def crop_square(image: np.ndarray, x: float, y: float, side_px: float, size: int, mirror: bool) -> np.ndarray:
    """Resample a ``side_px`` square centred on (x, y) to ``size`` x ``size`` (bilinear; zero outside)."""
    offsets = (np.arange(size) + 0.5) / size * side_px - side_px / 2
    rows, cols = np.meshgrid(y + offsets, x + offsets, indexing="ij")
    crop = ndimage.map_coordinates(image, [rows, cols], order=1, mode="constant", cval=0.0)
    return crop[:, ::-1] if mirror else crop


@dataclass
class CropStore:
    """Crops (float32, N x S x S) and their index (one row per hand, kind and site)."""

    images: np.ndarray
    index: pd.DataFrame

    def usable(self) -> pd.DataFrame:
        """Index rows that are not flagged and have a grade."""
        return self.index[~self.index["flagged"] & self.index["grade"].notna()]


def build_crop_store(cohort, centres: pd.DataFrame, out_dir: str | Path, crop_size: int = 64,
                     field_of_view: float = 1.0, p_cutoff: float = 0.6, source: str = "detected") -> CropStore:
    """Crop every (hand, landmark) of ``centres`` and write ``crops.npy`` + ``crops.csv`` to ``out_dir``.

    ``centres``: hand_id, landmark, x, y in full-image pixels, optional likelihood. Crops span
    ``field_of_view`` times paper 001's box side (the larger of width and height). Rows whose centre
    is missing, outside the image, or below ``p_cutoff`` likelihood are kept but ``flagged``; a hand
    with no measurable phalanx uses the cohort median length.
    """
    centres = centres.assign(likelihood=centres["likelihood"] if "likelihood" in centres else 1.0)
    centres = centres[["hand_id", "landmark", "x", "y", "likelihood"]]
    lengths = phalanx_lengths(centres)
    fallback = float(np.nanmedian(lengths)) if lengths.notna().any() else PAPER_PHALANX_PX
    hands = cohort.hands.set_index("hand_id")
    grades = cohort.scores.set_index(["hand_id", "kind", "site"])["grade"]
    crops, rows = [], []
    by_image = centres.merge(hands[["image_id", "patient", "hand"]], left_on="hand_id", right_index=True)
    for image_id, group in tqdm(by_image.groupby("image_id", sort=True), desc="cropping", unit="image",
                                leave=False):
        image = cohort.load_image(image_id)
        height, width = image.shape
        for row in group.itertuples(index=False):
            phalanx = lengths.get(row.hand_id, np.nan)
            side = max(box_size_px(row.landmark, phalanx if np.isfinite(phalanx) else fallback)) * field_of_view
            inside = 0 <= row.x < width and 0 <= row.y < height
            valid = inside and np.isfinite(row.x) and np.isfinite(row.y)
            crop_idx = len(crops)
            crops.append(crop_square(image, row.x, row.y, side, crop_size, mirror=row.hand == "L") if valid
                         else np.zeros((crop_size, crop_size), np.float32))
            flagged = (not valid) or not (row.likelihood >= p_cutoff)
            for site in sites.HAND_SITES:
                if site.landmark != row.landmark:
                    continue
                rows.append((crop_idx, row.hand_id, image_id, row.patient, row.hand, site.kind, site.site,
                             site.group, row.landmark, row.x, row.y, source, row.likelihood, flagged,
                             grades.get((row.hand_id, site.kind, site.site), np.nan)))
    index = pd.DataFrame(rows, columns=INDEX_COLUMNS)
    array = np.stack(crops).astype(np.float16) if crops else np.zeros((0, crop_size, crop_size), np.float16)
    out_dir = Path(out_dir)
    artifacts.write_array(array, out_dir / "crops.npy")
    artifacts.write_table(index, out_dir / "crops.csv")
    return CropStore(array.astype(np.float32), index)


def load_crop_store(path: str | Path) -> CropStore:
    """Read a crop store written by :func:`build_crop_store` (``path``: its folder)."""
    path = Path(path)
    for name in ("crops.npy", "crops.csv"):
        if not (path / name).exists():
            raise artifacts.MissingArtifactError(
                f"{path / name} is missing: run stage '02_joint_detection' first")
    index = pd.read_csv(path / "crops.csv", dtype={"hand_id": str, "image_id": str, "patient": str})
    return CropStore(np.load(path / "crops.npy").astype(np.float32), index)
