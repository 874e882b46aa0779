"""The joint-crop store: one square crop per hand and landmark, decoded once, cached on disk.

Stages 3 and 4 read joint images only from here, so no later stage re-decodes a radiograph.
Crops are centred on detected (or ground-truth) joint centres and span paper 001's box of the joint,
scaled by the hand's proximal-phalanx length (:mod:`ra_lib.stages.detection.boxes`). They are cut
with :func:`ra_lib.core.geometry.crop_square`; left hands are mirrored to right-hand orientation so
every crop of a site looks the same way round.

Files: ``crops.npy`` (N, S, S) float16 in [0, 1] and ``crops.csv``, one row per (hand, kind, site)
pointing at its crop (MCP and PIP crops are shared by erosion and JSN). Later stages read them with
:func:`read_crop_store`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ra_lib.cohort import sites
from ra_lib.core import artifacts, contracts, geometry
from ra_lib.stages.detection.boxes import box_size_px, hand_phalanx

INDEX_COLUMNS = ("crop_idx", "hand_id", "image_id", "patient", "hand", "kind", "site", "group", "landmark",
                 "x", "y", "source", "likelihood", "flagged", "grade")
CROPS_ARRAY, CROPS_INDEX = "crops.npy", "crops.csv"
#: The crops' side as a multiple of paper 001's box side (the larger of its width and height).
FIELD_OF_VIEW = 1.0
#: How the crops are stored (and so what every later model reads: float16 values back as float32).
CROP_DTYPE = np.float16


@dataclass
class CropStore:
    """Crops (float32, N x S x S) and their index (one row per hand, kind and site)."""

    images: np.ndarray
    index: pd.DataFrame

    def usable(self) -> pd.DataFrame:
        """Index rows that are not flagged and have a grade."""
        return self.index[~self.index["flagged"] & self.index["grade"].notna()]


def with_phalanx(centres: pd.DataFrame) -> pd.DataFrame:
    """``centres`` (hand_id, landmark, x, y, optional likelihood: 1 when absent) with each hand's ``phalanx``
    length (:func:`~ra_lib.stages.detection.boxes.hand_phalanx`), which sizes its crops."""
    centres = centres.assign(likelihood=centres["likelihood"] if "likelihood" in centres else 1.0)
    centres = centres[["hand_id", "landmark", "x", "y", "likelihood"]]
    return centres.assign(phalanx=hand_phalanx(centres, centres["hand_id"]))


def cut_crops(image: np.ndarray, centres: pd.DataFrame, mirrored, crop_size: int,
              field_of_view: float = FIELD_OF_VIEW) -> tuple[np.ndarray, np.ndarray]:
    """The crops of one image, as stored (:data:`CROP_DTYPE`), and whether each centre was usable.

    ``centres``: landmark, x, y (full-image pixels) and phalanx (:func:`with_phalanx`); ``mirrored``: per
    row, whether to mirror the crop to right-hand orientation (the crop store mirrors left hands). A
    centre that is missing or outside the image gives a black crop.
    """
    height, width = image.shape
    crops, valid = [], []
    for row, mirror_crop in zip(centres.itertuples(index=False), mirrored):
        ok = bool(np.isfinite(row.x) and np.isfinite(row.y) and 0 <= row.x < width and 0 <= row.y < height)
        side = max(box_size_px(row.landmark, row.phalanx)) * field_of_view
        crops.append(geometry.crop_square(image, row.x, row.y, side, crop_size, mirror_crop=bool(mirror_crop))
                     if ok else np.zeros((crop_size, crop_size), np.float32))
        valid.append(ok)
    array = np.stack(crops).astype(CROP_DTYPE) if crops else np.zeros((0, crop_size, crop_size), CROP_DTYPE)
    return array, np.array(valid, dtype=bool)


def build_crop_store(cohort, centres: pd.DataFrame, out_dir: str | Path, crop_size: int = 64,
                     field_of_view: float = FIELD_OF_VIEW, p_cutoff: float = 0.6, source: str = "detected") -> CropStore:
    """Crop every (hand, landmark) of ``centres`` and write ``crops.npy`` + ``crops.csv`` to ``out_dir``.

    ``centres``: hand_id, landmark, x, y in full-image pixels, optional likelihood. Crops span
    ``field_of_view`` times paper 001's box side (the larger of width and height). Rows whose centre
    is missing, outside the image, or below ``p_cutoff`` likelihood are kept but ``flagged``; a hand
    with no measurable phalanx uses the cohort median length.
    """
    centres = with_phalanx(centres)
    hands = cohort.hands.set_index("hand_id")
    grades = cohort.scores.set_index(["hand_id", "kind", "site"])["grade"]
    crops, rows = [], []
    by_image = centres.merge(hands[["image_id", "patient", "hand"]], left_on="hand_id", right_index=True)
    for image_id, group in tqdm(by_image.groupby("image_id", sort=True), desc="cropping", unit="image",
                                leave=False):
        image = cohort.load_image(image_id)
        cut, valid = cut_crops(image, group, group["hand"].to_numpy() == "L", crop_size, field_of_view)
        for row, crop, ok in zip(group.itertuples(index=False), cut, valid):
            crop_idx = len(crops)
            crops.append(crop)
            flagged = (not ok) or not (row.likelihood >= p_cutoff)
            for site in sites.HAND_SITES:
                if site.landmark != row.landmark:
                    continue
                rows.append((crop_idx, row.hand_id, image_id, row.patient, row.hand, site.kind, site.site,
                             site.group, row.landmark, row.x, row.y, source, row.likelihood, flagged,
                             grades.get((row.hand_id, site.kind, site.site), np.nan)))
    index = pd.DataFrame(rows, columns=INDEX_COLUMNS)
    array = np.stack(crops) if crops else np.zeros((0, crop_size, crop_size), CROP_DTYPE)
    out_dir = Path(out_dir)
    artifacts.write_array(array, out_dir / CROPS_ARRAY)
    artifacts.write_table(index, out_dir / CROPS_INDEX)
    return CropStore(array.astype(np.float32), index)


def crop_geometry(store: CropStore) -> dict:
    """How the crops of ``store`` were cut (:func:`cut_crops`): side in pixels and field of view; what a
    model bundle of a later stage keeps to cut crops of new radiographs the same way."""
    return {"crop_size": int(store.images.shape[-1]), "field_of_view": FIELD_OF_VIEW}


def load_crop_store(path: str | Path) -> CropStore:
    """Read a crop store written by :func:`build_crop_store` (``path``: its folder)."""
    path = Path(path)
    for name in (CROPS_ARRAY, CROPS_INDEX):
        if not (path / name).exists():
            raise artifacts.MissingArtifactError(f"{path / name} is missing: run stage {contracts.DETECTION!r} first")
    index = pd.read_csv(path / CROPS_INDEX, dtype={"hand_id": str, "image_id": str, "patient": str})
    return CropStore(np.load(path / CROPS_ARRAY).astype(np.float32), index)


def read_crop_store(root: str | Path = artifacts.DEFAULT_ROOT) -> CropStore:
    """Stage 2's crop store from the artifacts root ``root`` (what stages 3 and 4 read)."""
    return load_crop_store(Path(root) / contracts.DETECTION)
