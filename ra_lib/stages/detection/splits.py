"""Which labelled hands train the detectors, which are DeepLabCut's held-out set and which are scored.

Paper 001 labelled 20 randomly chosen radiographs to train DeepLabCut. Here the hands of whole
patients, taken in the order of the cohort's patient folds (``cohort.folds``, computed from the raw
patient ids), fill the ``n_train`` training places, then ``n_test`` held-out places; every other
labelled hand is scored. Folds are visited from the one after :data:`ra_lib.cohort.folds.HELD_OUT_FOLD`
on, cyclically, so the fold every stage tests on comes last and trains the detectors only when the other
folds hold too few labelled hands. The order never depends on the pseudonyms (their salt differs between
machines): within a fold patients are ordered by their first hand id, then shuffled with ``seed``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ra_lib.cohort.folds import HELD_OUT_FOLD

SPLITS = ("train", "test", "eval")


def patient_order(cohort, patients, seed: int = 0) -> list[str]:
    """``patients`` (pseudonyms) in a salt-independent order: fold by fold from the one after the held-out
    fold, shuffled with ``seed`` within each fold.

    Raises ``ValueError`` naming the count of patients without a fold.
    """
    fold_of = dict(zip(cohort.folds["patient"], cohort.folds["fold"].astype(int)))
    missing = sorted(set(patients) - set(fold_of))
    if missing:
        raise ValueError(f"{len(missing)} patient(s) with labelled hands have no fold in the cohort's folds")
    first_hand = cohort.hands.groupby("patient")["hand_id"].min()
    fold_ids = sorted({fold_of[p] for p in patients})
    start = sum(fold <= HELD_OUT_FOLD for fold in fold_ids) % max(1, len(fold_ids))
    rng = np.random.default_rng(seed)
    order = []
    for fold in fold_ids[start:] + fold_ids[:start]:
        members = sorted((p for p in patients if fold_of[p] == fold), key=lambda p: first_hand[p])
        order += [members[i] for i in rng.permutation(len(members))]
    return order


def _labelled_hands(cohort) -> pd.DataFrame:
    return cohort.hands[cohort.hands["hand_id"].isin(set(cohort.landmarks["hand_id"]))]


def too_few_labelled(cohort, n_train: int) -> str | None:
    """Why ``cohort`` cannot train and score the detectors (fewer than ``n_train + 1`` labelled hands), or None."""
    n = len(_labelled_hands(cohort))
    if n >= n_train + 1:
        return None
    return (f"{n} hand(s) have landmarks; need at least {n_train + 1} ({n_train} to train the detectors and one "
            "to evaluate them)")


def split_hands(cohort, n_train: int, n_test: int, seed: int = 0) -> dict[str, list[str]]:
    """Patient-disjoint split of the hands that have landmarks.

    ``train``: ``n_train`` hands to label for the detectors; ``test``: ``n_test`` more for
    DeepLabCut's own held-out error; ``eval``: every other labelled hand (``test`` included), on which
    the detection rate is measured. Whole patients go to one side (unless only a patient's second hand
    can fill the last training place), so a hand's twin does not leak into the scored hands.
    Raises ``ValueError`` when fewer than ``n_train + 1`` hands have landmarks.
    """
    problem = too_few_labelled(cohort, n_train)
    if problem:
        raise ValueError(problem)
    labelled = _labelled_hands(cohort)
    hands_of = {p: sorted(g["hand_id"]) for p, g in labelled.groupby("patient")}
    train, test, rest = [], [], []
    for patient in patient_order(cohort, list(hands_of), seed):
        hands = hands_of[patient]
        if len(train) + len(hands) <= n_train:
            train += hands
        elif len(test) + len(hands) <= n_test:
            test += hands
        else:
            rest += hands
    if len(train) < n_train:  # only two-hand patients were left for the last place: split one
        missing = n_train - len(train)
        train, rest = train + rest[:missing], rest[missing:]
    if not test and not rest:
        raise ValueError(f"no labelled hand left to evaluate after {len(train)} training hands")
    if not test:
        test = rest[:1]
    return {"train": train, "test": test, "eval": sorted(set(test) | set(rest))}


def split_summary(cohort, split: dict[str, list[str]]) -> pd.DataFrame:
    """Hands and patients per part of ``split`` and in the whole cohort (one row each)."""
    hands = cohort.hands
    parts = [split[name] for name in SPLITS] + [list(hands["hand_id"])]
    return pd.DataFrame({"hands": [len(p) for p in parts],
                         "patients": [hands[hands["hand_id"].isin(p)]["patient"].nunique() for p in parts]},
                        index=["training (labelled)", "DeepLabCut held-out", "scored (not trained on)", "all hands"])
