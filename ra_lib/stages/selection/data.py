"""Stage 1 data: selection classes and task labels, the preloaded image cache, the fold-based split.

Images are squashed to a square (Keras ``target_size``) with :func:`ra_lib.core.geometry.resize`
(bilinear, antialiased when shrinking, as PIL's bilinear resize), once per run: the paper resizes
"immediately after loading the image, before it is augmented".

With ``equalize`` the resized image's histogram is then equalised
(:func:`ra_lib.core.intensity.equalize_histogram`, not in paper 000): archives show the background black
or grey and bones bright or washed out, and a model trained on one display learns it
(:func:`network_input` is the one preprocessing of training, evaluation and scoring).

Unreadable images stop the run: :func:`preload_images` tries every image, then raises
:class:`UnreadableImagesError` whose ``table`` lists each failing image and why, so one pass shows
all the files to fix (selection must not silently drop a patient's radiograph).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from ra_lib.core import geometry
from ra_lib.core.errors import ImageReadError, RaDataError
from ra_lib.core.intensity import equalize_histogram

#: The three selection classes (what ``view_true`` / ``view_pred`` hold in the artifact).
CLASSES = ("one_hand", "both_hands", "other")
#: Cohort view (``ra_lib.cohort.schema.VIEWS``) -> selection class.
VIEW_TO_CLASS = {"left_hand": "one_hand", "right_hand": "one_hand", "both_hands": "both_hands", "other": "other"}
#: Output units of each model, in order: binary models output ``(rest, positive)``.
TASKS = {"model1": ("rest", "one_hand"), "model2": ("rest", "both_hands"), "three_class": CLASSES}
SPLITS = ("train", "val", "test")


class UnreadableImagesError(RaDataError):
    """Some images could not be read; ``table`` has one row per image (image_id, path, reason)."""

    def __init__(self, table: pd.DataFrame):
        self.table = table
        lines = "\n".join(f"  {r.image_id}: {r.path}: {r.reason}" for r in table.itertuples())
        super().__init__(f"{len(table)} image(s) cannot be read; fix or remove them from the manifest:\n{lines}")


def view_classes(views: Sequence[str]) -> np.ndarray:
    """Cohort views -> selection classes; an unknown view raises ``ValueError`` naming it."""
    unknown = sorted(set(views) - set(VIEW_TO_CLASS))
    if unknown:
        raise ValueError(f"unknown view(s) {unknown}; expected one of {sorted(VIEW_TO_CLASS)}")
    return np.array([VIEW_TO_CLASS[v] for v in views], dtype=object)


def task_labels(task: str, classes: Sequence[str]) -> np.ndarray:
    """Per image, the task's label name: the positive class or ``"rest"`` (three-class: the class)."""
    classes = np.asarray(classes, dtype=object)
    if task == "three_class":
        return classes
    positive = TASKS[task][1]
    return np.where(classes == positive, positive, "rest").astype(object)


def network_input(image: np.ndarray, size: int, equalize: bool = False) -> np.ndarray:
    """A grey image as a selection network sees it: squashed to ``size`` x ``size``, then (``equalize``)
    histogram-equalised."""
    square = geometry.resize(image, size)
    return equalize_histogram(square) if equalize else square


def preload_images(image_ids: Sequence[str], load_image: Callable[[str], np.ndarray], size: int,
                   paths: Sequence[str] | None = None, progress: bool = True,
                   equalize: bool = False) -> torch.Tensor:
    """Decode and prepare every image once (:func:`network_input`): ``(N, 1, size, size)`` float32 in [0, 1].

    ``load_image(image_id)`` returns a 2-D float array in [0, 1] or raises
    :class:`~ra_lib.core.errors.ImageReadError`. All images are tried; if any fail (or return something
    that is not a finite 2-D array) :class:`UnreadableImagesError` lists them all.
    """
    cache = torch.zeros(len(image_ids), 1, size, size)
    paths = list(paths) if paths is not None else [""] * len(image_ids)
    failures = []
    for i, image_id in enumerate(tqdm(image_ids, desc="images", leave=False, disable=not progress)):
        try:
            array = np.asarray(load_image(image_id))
            if array.ndim != 2 or array.size == 0:
                raise ImageReadError(paths[i], f"expected a 2-D grey image, got shape {array.shape}")
            if not np.isfinite(array).all():
                raise ImageReadError(paths[i], "pixel values are not all finite")
        except ImageReadError as error:
            failures.append({"image_id": image_id, "path": error.path or paths[i], "reason": error.reason})
            continue
        cache[i, 0] = torch.from_numpy(network_input(array, size, equalize))
    if failures:
        raise UnreadableImagesError(pd.DataFrame(failures, columns=["image_id", "path", "reason"]))
    return cache


def _nearest_count(value: float) -> int:
    return int(np.floor(value + 0.5))


def fold_roles(fold_ids: Sequence[int], test_fraction: float, val_fraction: float,
               test_fold: int = 0) -> dict[int, str]:
    """Fold -> ``"test"`` / ``"val"`` / ``"train"``, keeping the paper's proportions to whole folds.

    Of ``n`` folds, ``round(test_fraction x n)`` test (at least one), then ``round(val_fraction x``
    the rest ``)`` validate (at least one), the others train (at least one). The test folds are the
    ``test_fold`` and those after it in order, the validation folds the next ones (cyclically). With
    the paper's 206/1,047 and 20 % on 8 folds: 2 test, 1 validation, 5 training folds (25 / 12.5 /
    62.5 % of the patients; the paper: 19.7 / 16.0 / 64.3 % of the images); on 5 folds: 1 / 1 / 3.
    """
    ids = sorted({int(f) for f in fold_ids})
    if len(ids) < 3:
        raise ValueError(f"a train/validation/test split needs at least 3 folds, got {ids}")
    if test_fold not in ids:
        raise ValueError(f"test fold {test_fold!r} is not one of the folds {ids}")
    n_test = min(max(1, _nearest_count(test_fraction * len(ids))), len(ids) - 2)
    n_val = min(max(1, _nearest_count(val_fraction * (len(ids) - n_test))), len(ids) - n_test - 1)
    start = ids.index(test_fold)
    order = ids[start:] + ids[:start]
    return {fold: ("test" if i < n_test else "val" if i < n_test + n_val else "train") for i, fold in enumerate(order)}


def split_images(patients: Sequence[str], folds: pd.DataFrame, test_fraction: float, val_fraction: float,
                 test_fold: int = 0) -> pd.DataFrame:
    """Per image its patient's ``fold`` and ``split`` (``"train"`` / ``"val"`` / ``"test"``, :func:`fold_roles`).

    ``folds`` is the cohort's ``folds`` table (columns ``patient``, ``fold``), made from the raw
    patient ids, so the split is patient-disjoint and independent of the pseudonym salt. A patient
    without a fold raises ``ValueError`` naming it.
    """
    patients = np.asarray(patients).astype(str)
    fold_of = dict(zip(folds["patient"].astype(str), folds["fold"].astype(int)))
    missing = sorted(set(patients) - set(fold_of))
    if missing:
        raise ValueError(f"{len(missing)} patient(s) have no fold: {missing[:5]}")
    roles = fold_roles(folds["fold"], test_fraction, val_fraction, test_fold)
    fold = np.array([fold_of[p] for p in patients], dtype=int)
    return pd.DataFrame({"fold": fold, "split": np.array([roles[f] for f in fold], dtype=object)})


def single_class_reason(classes: Sequence[str], split: Sequence[str]) -> str | None:
    """Why the models cannot be trained on this cohort (one class only, overall or in training), else None."""
    classes, split = np.asarray(classes, dtype=object), np.asarray(split, dtype=object)
    present = sorted(set(classes))
    if len(present) < 2:
        return f"every image of this cohort is of one class ({', '.join(present) or 'none'}), so there is nothing to select"
    in_training = sorted(set(classes[split == "train"]))
    if len(in_training) < 2:
        return f"the training folds hold a single class ({', '.join(in_training) or 'none'})"
    return None
