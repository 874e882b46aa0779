"""Where the hands are in a radiograph: one hand spans its image, a both-hands image is split in two.

A both-hands image is split at the midline between the two hands' landmarks when both hands
have landmarks (which also tells which hand is on the viewer's left); otherwise at the darkest
column of the smoothed column profile in the middle third, with the patient's right hand on the
viewer's left (posteroanterior convention).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from ra_lib.cohort import schema
from ra_lib.core.errors import ImageReadError, ManifestError, Problem


def hand_table(images: pd.DataFrame, landmarks: pd.DataFrame, load_image: Callable[[str], np.ndarray]) -> pd.DataFrame:
    """One row per hand (``COHORT_HAND_COLUMNS``) of ``images`` (with ``width``), ``load_image(image_id)``
    decoding the both-hands images that landmarks cannot split; raise :class:`ManifestError` listing every
    image that had to be decoded and could not be."""
    by_image = {image_id: group for image_id, group in landmarks.groupby("image_id")}
    rows, problems = [], []
    for image_id, patient, view, width in zip(images["image_id"], images["patient"], images["view"],
                                              images["width"]):
        hands = schema.VIEW_TO_HANDS[view]
        width = int(width)
        if len(hands) == 1:
            spans = {hands[0]: (0, width)}
        elif len(hands) == 2:
            split, left_side = split_by_landmarks(by_image.get(image_id))
            if split is None:
                try:
                    split, left_side = split_column(load_image(image_id)), "R"
                except ImageReadError as exc:
                    problems.append(Problem(exc.path, None, "path", f"{exc.reason} (needed to split the hands)"))
                    continue
            right_side = "L" if left_side == "R" else "R"
            spans = {left_side: (0, split), right_side: (split, width)}
        else:
            continue
        for hand in sorted(spans):
            x0, x1 = spans[hand]
            rows.append({"hand_id": schema.hand_id(image_id, hand), "image_id": image_id, "patient": patient,
                         "hand": hand, "x0": x0, "x1": x1})
    if problems:
        raise ManifestError(problems)
    return pd.DataFrame(rows, columns=schema.COHORT_HAND_COLUMNS)


def split_by_landmarks(points: pd.DataFrame | None) -> tuple[int | None, str]:
    """Midline between the two hands' landmarks and the hand on the viewer's left, if both hands have landmarks."""
    if points is None or set(points["hand"]) != {"L", "R"}:
        return None, "R"
    xs = {hand: group["x"] for hand, group in points.groupby("hand")}
    left, right = sorted(xs, key=lambda h: xs[h].mean())
    if xs[left].max() < xs[right].min():
        split = (xs[left].max() + xs[right].min()) / 2
    else:
        split = (xs[left].mean() + xs[right].mean()) / 2
    return int(round(split)), left


def split_column(image: np.ndarray) -> int:
    """Column splitting a both-hands image: the darkest column of the smoothed column profile in the middle third."""
    width = image.shape[1]
    profile = image.mean(axis=0)
    kernel = max(3, (width // 50) | 1)
    smooth = np.convolve(np.pad(profile, kernel // 2, mode="edge"), np.ones(kernel) / kernel, mode="valid")
    low, high = width // 3, max(width // 3 + 1, (2 * width) // 3)
    return int(low + np.argmin(smooth[low:high]))
