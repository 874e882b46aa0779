"""A cohort seen with its images turned upright, from an orientation table.

An orientation table has one row per image: ``image_id`` and ``rot90_k``, the counter-clockwise quarter
turns (``np.rot90``) by which the image as the cohort shows it is away from upright: stage 1's
predictions (``rot90_k_pred`` of its ``orientation.csv``) or a cohort's truth (the synthetic
``truth_images.csv``). :func:`upright_cohort` turns those images back as they load, moves their
landmarks into the turned image's pixels (:func:`ra_lib.core.geometry.rotate90_points`), swaps width and
height and splits their hands again on the upright image (:func:`ra_lib.cohort.hands.hand_table`).
Images without a row, or at ``rot90_k`` 0, stay as they are; no image is mirrored.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ra_lib.cohort.cohort import Cohort
from ra_lib.cohort.hands import hand_table
from ra_lib.core.errors import RaDataError

ORIENTATION_COLUMNS = ("image_id", "rot90_k")


def check_orientation(table: pd.DataFrame, image_ids, source: str) -> dict[str, int]:
    """``image_id`` -> ``rot90_k`` of an orientation table; raise :class:`RaDataError` naming ``source`` and each
    bad row (counted as lines of a CSV file, the header on line 1): a missing column, an image not among
    ``image_ids``, a turn that is not 0, 1, 2 or 3, an image listed twice."""
    missing = [c for c in ORIENTATION_COLUMNS if c not in table.columns]
    if missing:
        raise RaDataError(f"{source}: orientation table without column(s) {missing}")
    known = set(image_ids)
    turns = pd.to_numeric(table["rot90_k"], errors="coerce").to_numpy(dtype=float)
    problems, first_line = [], {}
    for line, image_id, raw, k in zip(range(2, len(table) + 2), table["image_id"].astype(str), table["rot90_k"],
                                      turns):
        if image_id not in known:
            problems.append(f"line {line}: image {image_id!r} is not in the cohort")
        if not (np.isfinite(k) and k == int(k) and 0 <= k <= 3):
            problems.append(f"line {line}: rot90_k {str(raw)!r} of image {image_id!r} is not 0, 1, 2 or 3")
        if image_id in first_line:
            problems.append(f"line {line}: image {image_id!r} is listed again (first on line {first_line[image_id]})")
        first_line.setdefault(image_id, line)
    if problems:
        raise RaDataError(f"{source}: bad orientation table, {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return {image_id: int(k) for image_id, k in zip(table["image_id"].astype(str), turns)}


def upright_cohort(cohort: Cohort, orientation: pd.DataFrame, source: str = "orientation table") -> Cohort:
    """``cohort`` with every image of ``orientation`` (:data:`ORIENTATION_COLUMNS`, checked by
    :func:`check_orientation`) turned back ``rot90_k`` quarter turns: images, landmarks and hands in the
    upright image's pixels, the same ids."""
    stored = check_orientation(orientation, cohort.images["image_id"], source)
    undo = {image_id: -k % 4 for image_id, k in stored.items() if k}
    if not undo:
        return cohort
    images = cohort.images.copy()
    turned = images["image_id"].isin(undo)
    odd = (images["image_id"].map(undo).fillna(0) % 2 == 1).to_numpy()
    images.loc[odd, ["width", "height"]] = images.loc[odd, ["height", "width"]].to_numpy()
    landmarks = _turned_landmarks(cohort.landmarks, cohort.images, undo)
    quarter_turns = {**cohort.quarter_turns,
                     **{image_id: (cohort.quarter_turns.get(image_id, 0) + k) % 4 for image_id, k in undo.items()}}
    view = dataclasses.replace(cohort, images=images, landmarks=landmarks, quarter_turns=quarter_turns)
    split = hand_table(images[turned], landmarks[landmarks["image_id"].isin(undo)], view.load_image)
    hands = pd.concat([cohort.hands[~cohort.hands["image_id"].isin(undo)], split]).set_index("hand_id")
    hands = hands.loc[cohort.hands["hand_id"]].reset_index()[list(cohort.hands.columns)]
    return dataclasses.replace(view, hands=hands.astype(cohort.hands.dtypes.to_dict()))


def _turned_landmarks(landmarks: pd.DataFrame, images: pd.DataFrame, undo: dict[str, int]) -> pd.DataFrame:
    from ra_lib.core import geometry  # torch: imported only when an image is turned

    out = landmarks.copy()
    size = images.set_index("image_id")[["height", "width"]]
    for image_id, rows in landmarks[landmarks["image_id"].isin(undo)].groupby("image_id"):
        height, width = size.loc[image_id]
        x, y = geometry.rotate90_points(rows["x"], rows["y"], undo[image_id], int(height), int(width))
        out.loc[rows.index, "x"], out.loc[rows.index, "y"] = x, y
    return out
