"""Paper 001's joint boxes, scaled per hand by its proximal-phalanx length.

Paper 001 resizes images so the median proximal-phalanx length matches, then draws a box around
each joint centre: 250 x 250 px for PIP, IP, MCP and CMC-M, 500 x 300 for the radius, 300 x 300 for
the other wrist sites. Here images keep their size and the boxes are scaled instead, by
``phalanx / PAPER_PHALANX_PX``. The same boxes decide a correct detection, are Faster R-CNN's
ground truth and size the crops of the crop store.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ra_lib.cohort import sites

#: Proximal-phalanx length (MCP to PIP centre) at the scale of paper 001's boxes. The paper does not
#: print it; 400 px matches a 0.1 mm/px hand radiograph of an adult (about 40 mm phalanx).
PAPER_PHALANX_PX = 400.0
#: Paper 001's evaluation boxes (width, height) in paper pixels, by landmark.
_FINGER_BOX = (250.0, 250.0)
_OTHER_BOX = (300.0, 300.0)
_RADIUS_BOX = (500.0, 300.0)
_FINGER_LANDMARKS = {s.landmark for s in sites.HAND_SITES if s.group in ("PIP-IP", "PIP", "MCP", "CMC-M")}


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


def hand_phalanx(centres: pd.DataFrame, hand_ids) -> np.ndarray:
    """Phalanx length of each of ``hand_ids`` from ``centres`` (hand_id, landmark, x, y).

    A hand without a measurable phalanx gets the median over the hands that have one (or
    :data:`PAPER_PHALANX_PX` when none has).
    """
    lengths = phalanx_lengths(centres)
    fallback = float(np.nanmedian(lengths)) if lengths.notna().any() else PAPER_PHALANX_PX
    return pd.Series(hand_ids).map(lengths).fillna(fallback).to_numpy(dtype=float)


def truth_boxes(landmarks: pd.DataFrame) -> pd.DataFrame:
    """Ground-truth boxes (hand_id, label, x0, y0, x1, y1): paper 001's box per landmark, scaled per hand."""
    phalanx = hand_phalanx(landmarks, landmarks["hand_id"])
    size = np.array([box_size_px(lm, ph) for lm, ph in zip(landmarks["landmark"], phalanx)]).reshape(-1, 2)
    x, y = landmarks["x"].to_numpy(dtype=float), landmarks["y"].to_numpy(dtype=float)
    return pd.DataFrame({"hand_id": landmarks["hand_id"].to_numpy(), "label": landmarks["landmark"].to_numpy(),
                         "x0": x - size[:, 0] / 2, "y0": y - size[:, 1] / 2,
                         "x1": x + size[:, 0] / 2, "y1": y + size[:, 1] / 2})
