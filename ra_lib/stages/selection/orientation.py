"""Orientation of a hand radiograph: SHS_NET's 12 classes, the 8 exact variants of an image, ``upright``.

A class is a *group* (both hands; one hand with its thumb on the right of the upright image; one hand,
thumb left) and a counter-clockwise quarter turn ``rot90_k`` (``np.rot90``; ``rotation_ccw_deg`` = 90 x
``rot90_k``): class index = 4 x group + ``rot90_k``, the numbering of the real samples' ``source_label``.
Mirroring a both-hands image keeps its group (the thumbs face each other either way).

A stored image of orientation ``(k0, side)`` turned into its variant ``(k, mirrored)`` by
:func:`ra_lib.core.geometry.orient` has orientation ``(k0 + k, side)``, or ``(k - k0, other side)`` when
mirrored (mirroring reverses the turn), so the 8 variants of every labelled image are labelled exactly.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from ra_lib.core import geometry
from ra_lib.core.errors import RaDataError

GROUPS = ("both_hands", "thumb_right", "thumb_left")
ROTATIONS_DEG = (0, 90, 180, 270)
#: The 12 classes, ``"<group>/<rotation_ccw_deg>"``, in class-index order.
CLASSES = tuple(f"{group}/{deg}" for group in GROUPS for deg in ROTATIONS_DEG)
#: The 8 variants ``(rot90_k, mirrored)`` of an image, in the order :func:`variants` stacks them.
VARIANTS = tuple((k, mirrored) for mirrored in (False, True) for k in range(4))
THUMB_SIDES = ("left", "right")
#: Where the synthetic generator writes its ground truth, in the cohort's data root.
SYNTHETIC_TRUTH_FILE = "truth_images.csv"


def class_index(view_class: str, thumb_side: str, rot90_k: int) -> int:
    """The class of a ``one_hand`` / ``both_hands`` image with ``thumb_side`` (one hand) at ``rot90_k``."""
    if view_class == "both_hands":
        group = 0
    elif view_class == "one_hand" and thumb_side in THUMB_SIDES:
        group = GROUPS.index(f"thumb_{thumb_side}")
    else:
        raise ValueError(f"no orientation class for view {view_class!r} with thumb side {thumb_side!r}")
    return 4 * group + int(rot90_k) % 4


def variant_orientation(rot90_k: int, thumb_side: str, turns: int, mirrored: bool) -> tuple[int, str]:
    """Orientation ``(rot90_k, thumb_side)`` of ``geometry.orient(image, turns, mirrored)`` of an image at
    ``(rot90_k, thumb_side)``; ``thumb_side`` ``""`` (both hands) stays ``""``."""
    if not mirrored:
        return (rot90_k + turns) % 4, thumb_side
    flipped = {"left": "right", "right": "left"}.get(thumb_side, thumb_side)
    return (turns - rot90_k) % 4, flipped


def variant_classes(view_classes: Sequence[str], thumb_sides: Sequence[str], rot90_ks: Sequence[int]) -> np.ndarray:
    """``(N, 8)`` class indices of the :data:`VARIANTS` of each image."""
    def variant_class(view, side, k, turns, mirrored):
        turned, turned_side = variant_orientation(int(k), side, turns, mirrored)
        return class_index(view, turned_side, turned)

    return np.array([[variant_class(view, side, k, turns, mirrored) for turns, mirrored in VARIANTS]
                     for view, side, k in zip(view_classes, thumb_sides, rot90_ks)], dtype=np.int64).reshape(-1, 8)


def variants(images: torch.Tensor) -> torch.Tensor:
    """The 8 :data:`VARIANTS` of each ``(C, H, W)`` square image of ``(N, C, H, W)``: ``(8 N, C, H, W)``,
    image by image (rows ``8 i`` to ``8 i + 7`` are image ``i``'s)."""
    stacked = torch.stack([geometry.orient(images, k, mirrored) for k, mirrored in VARIANTS], dim=1)
    return stacked.reshape(-1, *images.shape[1:])


def decode(probabilities: np.ndarray) -> pd.DataFrame:
    """Predictions from ``(N, 12)`` probabilities: ``orientation_pred`` (the most likely class),
    ``rot90_k_pred`` (the most likely turn, summed over groups), ``view_pred`` (``one_hand`` /
    ``both_hands``), ``thumb_side_pred`` (the likelier side of the one-hand classes) and ``p_<class>``."""
    prob = np.asarray(probabilities, dtype=float).reshape(-1, len(GROUPS), 4)
    one_hand = prob[:, 1:].sum(axis=(1, 2))
    out = pd.DataFrame({
        "orientation_pred": np.asarray(CLASSES, dtype=object)[prob.reshape(len(prob), -1).argmax(axis=1)],
        "rot90_k_pred": prob.sum(axis=1).argmax(axis=1),
        "view_pred": np.where(one_hand > prob[:, 0].sum(axis=1), "one_hand", "both_hands").astype(object),
        "thumb_side_pred": np.where(prob[:, 2].sum(axis=1) > prob[:, 1].sum(axis=1), "left", "right").astype(object),
    })
    probability_columns = pd.DataFrame(prob.reshape(len(prob), -1), columns=[f"p_{c}" for c in CLASSES])
    return pd.concat([out, probability_columns], axis=1)


def upright(image, row, thumb_side: str = "right"):
    """``image`` turned upright, single hands mirrored to ``thumb_side``, from a prediction row of
    :func:`decode` (``rot90_k_pred``, ``view_pred``, ``thumb_side_pred``); arrays and tensors."""
    if thumb_side not in THUMB_SIDES:
        raise ValueError(f"thumb_side must be one of {THUMB_SIDES}, got {thumb_side!r}")
    mirrored = row["view_pred"] == "one_hand" and row["thumb_side_pred"] != thumb_side
    return geometry.undo_orientation(image, int(row["rot90_k_pred"]), bool(mirrored))


def check_truth(truth: pd.DataFrame, view_classes: Sequence[str], source: str) -> pd.DataFrame:
    """``truth`` (``image_id``, ``rot90_k``, ``thumb_side``, rows as ``view_classes``) with ``rot90_k`` as int
    and ``thumb_side`` ``""`` off single hands; raises :class:`RaDataError` naming ``source``, each bad
    image and its problem."""
    truth = truth.reset_index(drop=True)
    turns = pd.to_numeric(truth["rot90_k"], errors="coerce")
    sides = truth["thumb_side"].fillna("").astype(str).str.strip()
    problems = []
    for i, (image_id, view, k, side) in enumerate(zip(truth["image_id"], view_classes, turns, sides)):
        if view == "other":
            continue
        if not (np.isfinite(k) and k == int(k) and 0 <= k <= 3):
            problems.append(f"{image_id}: rot90_k {str(truth['rot90_k'][i])!r} is not 0, 1, 2 or 3")
        if view == "one_hand" and side not in THUMB_SIDES:
            problems.append(f"{image_id}: one hand with thumb_side {side!r} (expected left or right)")
    if problems:
        raise RaDataError(f"{source}: bad orientation truth in {len(problems)} row(s):\n  " + "\n  ".join(problems))
    one_hand = np.asarray(view_classes, dtype=object) == "one_hand"
    return truth.assign(rot90_k=turns.fillna(0).astype(int), thumb_side=np.where(one_hand, sides, ""))


def orientation_truth(cohort, view_classes: Sequence[str]) -> pd.DataFrame | None:
    """Per image of ``cohort.images``: ``image_id``, ``rot90_k``, ``thumb_side``; None without orientation truth.

    Read from the images table's ``rot90_k`` and ``thumb_side`` columns, else from the synthetic
    generator's ``truth_images.csv`` in the cohort's data root (an image missing there is an error).
    """
    images = cohort.images.reset_index(drop=True)
    if {"rot90_k", "thumb_side"} <= set(images.columns):
        return check_truth(images[["image_id", "rot90_k", "thumb_side"]], view_classes, "cohort images table")
    data_root = getattr(cohort, "data_root", None)
    path = Path(data_root) / SYNTHETIC_TRUTH_FILE if data_root is not None else None
    if path is None or not path.is_file():
        return None
    table = pd.read_csv(path, dtype={"image_id": str}, keep_default_na=False)
    missing_columns = sorted({"image_id", "rot90_k", "thumb_side"} - set(table.columns))
    if missing_columns:
        raise RaDataError(f"{path}: missing column(s) {missing_columns}")
    table = table.drop_duplicates("image_id").set_index("image_id")
    absent = sorted(set(images["image_id"]) - set(table.index))
    if absent:
        raise RaDataError(f"{path}: no row for {len(absent)} image(s) of the cohort, first {absent[:5]}")
    truth = table.loc[images["image_id"], ["rot90_k", "thumb_side"]].reset_index()
    return check_truth(truth, view_classes, str(path))
