"""Stage 1's orientation predictions put to use: the later stages' cohort with its images turned upright.

Stages 2, 3 and 5 read the cohort through :func:`upright_by_stage1`: with ``upright_images`` on, every image
is turned back by the quarter turn stage 1 predicted for it (``rot90_k_pred`` of ``orientation.csv``,
:func:`ra_lib.cohort.upright.upright_cohort`), so hands are split, detected, cropped and scored upright.
Only the turn is undone: stage 2 brings single hands to one thumb side itself.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ra_lib.cohort.cohort import Cohort
from ra_lib.cohort.upright import upright_cohort
from ra_lib.core import artifacts, contracts
from ra_lib.stages.selection.orientation_evaluate import ORIENTATION_FILE

#: ``upright_images`` of each profile. Off in ``smoke``: its one-epoch orientation model predicts noise and
#: would turn upright hands sideways; on in ``quick`` and ``paper``.
UPRIGHT_IMAGES = {"smoke": False, "quick": True, "paper": True}


def predicted_orientation(table: pd.DataFrame) -> pd.DataFrame:
    """The orientation table (``image_id``, ``rot90_k``) of ``orientation.csv`` rows: the predicted turns."""
    return table[["image_id", "rot90_k_pred"]].rename(columns={"rot90_k_pred": "rot90_k"})


def read_orientation_predictions(path: str | Path) -> pd.DataFrame:
    """Stage 1's ``orientation.csv`` at ``path`` (image ids kept as text)."""
    return pd.read_csv(path, dtype={"image_id": str})


def upright_by_stage1(cohort: Cohort, artifacts_root: str | Path, profile: str,
                      upright_images: bool | None = None) -> tuple[Cohort, str]:
    """``cohort`` turned upright by stage 1's predictions in ``artifacts_root`` when ``upright_images`` (None: the
    profile's :data:`UPRIGHT_IMAGES`), and one sentence saying what was done, for the page."""
    enabled = UPRIGHT_IMAGES[profile] if upright_images is None else bool(upright_images)
    if not enabled:
        return cohort, "Images are used as stored (`upright_images` is off in this profile)."
    path = artifacts.require(contracts.SELECTION, ORIENTATION_FILE, artifacts_root)
    predictions = read_orientation_predictions(path)
    if predictions.empty:
        return cohort, ("Stage 1 wrote no orientation predictions (the cohort has no orientation truth to train "
                        "them on): images are used as stored.")
    orientation = predicted_orientation(predictions)
    upright = upright_cohort(cohort, orientation, str(path))
    turned = int((orientation["rot90_k"].astype(int) != 0).sum())
    return upright, (f"Images turned upright by stage 1's predicted orientation (`upright_images`): {turned} of "
                     f"{len(cohort.images)} images.")
