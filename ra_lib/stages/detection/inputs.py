"""What both detectors see and give back: hand frames, model inputs and the detections table.

A :class:`HandFrame` maps a hand's model input (``size`` x ``size``, mirrored where needed so the thumb is on
the right, :func:`thumb_right_sides`) to full-image pixels and back, so labelled landmarks become model targets
and model outputs become detections in the radiograph's pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

from ra_lib.core import geometry
from ra_lib.core.collimation import black_out_collimation

DETECTION_COLUMNS = ("hand_id", "landmark", "x", "y", "likelihood", "detector")


@dataclass(frozen=True)
class HandFrame:
    """Where a hand's model input sits in its radiograph.

    The model sees columns ``x0 : x0 + width`` of the image (all ``height`` rows), mirrored when
    ``mirrored``, resized to ``size`` x ``size`` (aspect ratio not kept, as paper 001's 256 x 256).
    Coordinates are pixel-centre based: pixel (i, j) has centre (x=j, y=i).
    """

    hand_id: str
    x0: int
    width: int
    height: int
    size: int
    mirrored: bool

    def to_model(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Full-image (x, y) to model-input coordinates."""
        cx = np.asarray(x, dtype=float) - self.x0
        if self.mirrored:
            cx = self.width - 1 - cx
        return ((cx + 0.5) * self.size / self.width - 0.5,
                (np.asarray(y, dtype=float) + 0.5) * self.size / self.height - 0.5)

    def to_image(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Model-input (x, y) to full-image coordinates (inverse of :meth:`to_model`)."""
        cx = (np.asarray(x, dtype=float) + 0.5) * self.width / self.size - 0.5
        if self.mirrored:
            cx = self.width - 1 - cx
        return cx + self.x0, (np.asarray(y, dtype=float) + 0.5) * self.height / self.size - 0.5


#: Hand sides mirrored when a cohort's labelled hands do not say (a right hand in the palmar convention shows
#: its thumb on the right).
DEFAULT_MIRRORED_SIDES = frozenset({"L"})
#: Landmarks on the thumb side and on the little-finger side of a hand, compared to find the thumb's side.
THUMB_LANDMARKS = ("ip", "mcp1", "cmc1")
LITTLE_FINGER_LANDMARKS = ("pip5", "mcp5", "cmc5")


def thumb_right_sides(landmarks: pd.DataFrame, hands: pd.DataFrame) -> frozenset[str]:
    """The hand sides (``"L"``, ``"R"``) to mirror so that every hand shows its thumb on the right.

    Read off the labelled hands: for each side, where the thumb lies against the little finger in most of
    them. Archives differ (a left hand has its thumb on the right in RA2-DREAM, on the left in the palmar
    convention), so the models learn and score hands in one convention whichever the cohort uses. A side
    without labelled hands takes the mirror image of the other side's convention; with none,
    :data:`DEFAULT_MIRRORED_SIDES`.
    """
    side_of = dict(zip(hands["hand_id"], hands["hand"]))
    mean_x = landmarks.groupby(["hand_id", "landmark"])["x"].mean().unstack()
    thumb = mean_x.reindex(columns=list(THUMB_LANDMARKS)).mean(axis=1)
    little = mean_x.reindex(columns=list(LITTLE_FINGER_LANDMARKS)).mean(axis=1)
    thumb_left = (thumb < little)[thumb.notna() & little.notna()]
    votes = thumb_left.groupby(thumb_left.index.map(side_of)).mean()
    mirrored = {side for side, share in votes.items() if share > 0.5}
    for side, other in (("L", "R"), ("R", "L")):
        if side not in votes and other in votes:
            mirrored |= set() if other in mirrored else {side}
    return frozenset(mirrored) if len(votes) else DEFAULT_MIRRORED_SIDES


def load_hand_image(cohort, hand_id: str) -> np.ndarray:
    """A hand as imaged (the image's columns ``x0:x1``, not mirrored) with any white collimation border set to
    black (:func:`ra_lib.core.collimation.black_out_collimation`): what every detector and the refiner read."""
    return black_out_collimation(cohort.load_hand(hand_id, size=None, mirror_to_right=False))


def load_model_input(cohort, hand_id: str, size: int,
                     mirrored_sides: frozenset[str] = DEFAULT_MIRRORED_SIDES) -> tuple[np.ndarray, HandFrame]:
    """A hand resized to the model's square input (float32 in [0, 1], :func:`ra_lib.core.geometry.resize`),
    mirrored when its side is in ``mirrored_sides`` (:func:`thumb_right_sides`), and its :class:`HandFrame`."""
    row = cohort.hands.loc[cohort.hands["hand_id"] == hand_id]
    if row.empty:
        raise KeyError(f"hand {hand_id!r} is not in the cohort's hands table")
    row = row.iloc[0]
    crop = load_hand_image(cohort, hand_id)
    if crop.shape[1] != int(row["x1"]) - int(row["x0"]):
        raise ValueError(f"hand {hand_id!r}: crop width {crop.shape[1]} differs from x1 - x0 = "
                         f"{row['x1'] - row['x0']}")
    return model_input(crop, hand_id, int(row["x0"]), size, row["hand"] in mirrored_sides)


def model_input(hand: np.ndarray, hand_id: str, x0: int, size: int, mirrored: bool) -> tuple[np.ndarray, HandFrame]:
    """A hand as read (:func:`load_hand_image`, its first column at ``x0`` of the radiograph) resized to the
    model's square input (float32 in [0, 1], :func:`ra_lib.core.geometry.resize`), mirrored first when
    ``mirrored``; and its :class:`HandFrame`."""
    height, width = hand.shape
    frame = HandFrame(hand_id, int(x0), width, height, size, bool(mirrored))
    return geometry.resize(geometry.mirror(hand) if mirrored else hand, size), frame


def load_model_inputs(cohort, hand_ids, size: int, mirrored_sides: frozenset[str] = DEFAULT_MIRRORED_SIDES,
                      progress: bool = True) -> tuple[np.ndarray, list[HandFrame]]:
    """Model inputs (N, size, size) and frames of several hands, in ``hand_ids`` order."""
    images, frames = [], []
    for hand_id in tqdm(list(hand_ids), desc="loading hands", unit="hand", leave=False, disable=not progress):
        image, frame = load_model_input(cohort, hand_id, size, mirrored_sides)
        images.append(image)
        frames.append(frame)
    return (np.stack(images) if images else np.zeros((0, size, size), np.float32)), frames


def keypoints_in_model(landmarks: pd.DataFrame, frames: list[HandFrame], bodyparts) -> np.ndarray:
    """Ground-truth landmarks (cohort table, full-image pixels) as an (N, K, 2) array in model coordinates.

    Landmarks absent for a hand are NaN.
    """
    points = np.full((len(frames), len(bodyparts), 2), np.nan)
    column = {b: k for k, b in enumerate(bodyparts)}
    by_hand = {h: g for h, g in landmarks[landmarks["landmark"].isin(column)].groupby("hand_id")}
    for n, frame in enumerate(frames):
        group = by_hand.get(frame.hand_id)
        if group is None:
            continue
        mx, my = frame.to_model(group["x"].to_numpy(), group["y"].to_numpy())
        idx = group["landmark"].map(column).to_numpy()
        points[n, idx, 0], points[n, idx, 1] = mx, my
    return points


def predictions_to_table(predictions: np.ndarray, frames: list[HandFrame], bodyparts, detector: str) -> pd.DataFrame:
    """(N, K, 3) model-coordinate predictions (x, y, likelihood) to the detections table (full-image pixels)."""
    predictions = np.asarray(predictions, dtype=float)
    if predictions.shape != (len(frames), len(bodyparts), 3):
        raise ValueError(f"predictions have shape {predictions.shape}, expected "
                         f"({len(frames)}, {len(bodyparts)}, 3) for {len(frames)} hands and {len(bodyparts)} landmarks")
    rows = []
    for frame, pred in zip(frames, predictions):
        x, y = frame.to_image(pred[:, 0], pred[:, 1])
        rows.append(pd.DataFrame({"hand_id": frame.hand_id, "landmark": list(bodyparts), "x": x, "y": y,
                                  "likelihood": pred[:, 2], "detector": detector}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=DETECTION_COLUMNS)
