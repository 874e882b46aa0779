"""Patient-disjoint cross-validation folds and paper 001's train / validation / test rotation.

Paper 001 splits its patients into eight patient-disjoint subsets and, for each test subset,
trains on six, stops early on one (validation) and tests on the last. Here the validation fold
of test fold ``k`` is the next fold, ``k + 1`` modulo the number of folds.

Every stage tests on fold :data:`HELD_OUT_FOLD`: stage 1's first test fold, stage 3's first predicted
fold, stages 4 and 5's test fold; stage 2 labels its training hands in the other folds first. So the
patients of that fold are out of sample for every model the book saves, and chapter 7 scores them.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

#: The fold every stage tests on and no saved model trains on (chapter 7 scores its patients).
HELD_OUT_FOLD = 0


def patient_folds(patients: Iterable[str], n_folds: int, seed: int) -> pd.DataFrame:
    """Assign each distinct patient to one of ``n_folds`` folds, balanced (sizes differ by at most one).

    Deterministic given ``seed`` and the *set* of patients (input order and repeats do not matter).
    Returns a DataFrame with columns ``patient`` and ``fold`` (0-based), sorted by patient.
    """
    if int(n_folds) != n_folds or n_folds < 2:
        raise ValueError(f"n_folds must be an integer >= 2, got {n_folds!r}")
    unique = sorted({str(p) for p in patients})
    if len(unique) < n_folds:
        raise ValueError(f"{len(unique)} patient(s) cannot fill {n_folds} folds; lower folds.n_folds")
    order = np.random.default_rng(seed).permutation(len(unique))
    fold = np.empty(len(unique), dtype=int)
    fold[order] = np.arange(len(unique)) % n_folds
    return pd.DataFrame({"patient": unique, "fold": fold})


def rotation(fold_ids: Sequence[int], test_fold: int) -> tuple[list[int], int, int]:
    """``(train_folds, val_fold, test_fold)`` for one round: validation is the fold after the test fold.

    With 8 folds this is paper 001's 6 train / 1 validation / 1 test split; iterating
    ``test_fold`` over all folds uses every fold once for testing and once for validation.
    """
    ids = sorted({int(f) for f in fold_ids})
    if len(ids) < 3:
        raise ValueError(f"a train/validation/test rotation needs at least 3 folds, got {ids}")
    if test_fold not in ids:
        raise ValueError(f"test fold {test_fold!r} is not one of the folds {ids}")
    val_fold = ids[(ids.index(test_fold) + 1) % len(ids)]
    train = [f for f in ids if f not in (test_fold, val_fold)]
    return train, val_fold, test_fold
