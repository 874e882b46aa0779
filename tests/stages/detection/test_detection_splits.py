from types import SimpleNamespace

import pandas as pd
import pytest

from fixtures.builders import make_native_cohort
from ra_lib.cohort import load_cohort
from ra_lib.cohort.folds import HELD_OUT_FOLD
from ra_lib.stages.detection import splits


def _cohort(n_patients=10, n_folds=3, salt=7):
    """Two hands per patient, every hand but the last patient's labelled; the pseudonyms (and their
    order) depend on ``salt`` (a multiplier prime to ``n_patients``)."""
    pseudonym = {p: f"P-{salt}-{(salt * p) % n_patients:02d}" for p in range(n_patients)}
    hands = pd.DataFrame({"hand_id": [f"i{p}{h}:{h}" for p in range(n_patients) for h in "LR"],
                          "patient": [pseudonym[p] for p in range(n_patients) for _ in "LR"]})
    landmarks = pd.DataFrame({"hand_id": hands.hand_id[:-2], "landmark": "pip2"})
    folds = pd.DataFrame({"patient": [pseudonym[p] for p in range(n_patients)],
                          "fold": [p % n_folds for p in range(n_patients)]})
    return SimpleNamespace(hands=hands.assign(image_id="i", hand="R", x0=0, x1=1), landmarks=landmarks, folds=folds)


def test_split_hands_is_patient_disjoint_and_complete():
    cohort = _cohort()
    split = splits.split_hands(cohort, n_train=5, n_test=2, seed=1)
    assert len(split["train"]) == 5 and len(split["test"]) == 2
    assert set(split["test"]) <= set(split["eval"]) and not set(split["train"]) & set(split["eval"])
    assert set(split["train"]) | set(split["eval"]) == set(cohort.landmarks.hand_id)
    patient = dict(zip(cohort.hands.hand_id, cohort.hands.patient))
    train_patients = {patient[h] for h in split["train"]}
    assert not train_patients & {patient[h] for h in split["test"]}
    assert len(train_patients & {patient[h] for h in split["eval"]}) <= 1  # 5 hands: one patient is split
    assert split == splits.split_hands(cohort, n_train=5, n_test=2, seed=1)
    with pytest.raises(ValueError, match="18 hand\\(s\\) have landmarks; need at least 19"):
        splits.split_hands(cohort, n_train=18, n_test=1)


def test_training_patients_come_fold_by_fold_with_the_held_out_fold_last():
    cohort = _cohort(n_patients=12)
    fold_of = dict(zip(cohort.folds.patient, cohort.folds.fold))
    for seed in (0, 1, 2):
        folds = [fold_of[p] for p in splits.patient_order(cohort, list(cohort.folds.patient), seed)]
        assert folds == [1] * 4 + [2] * 4 + [HELD_OUT_FOLD] * 4
    split = splits.split_hands(cohort, 8, 4, seed=0)
    held_out = {p for p, f in fold_of.items() if f == HELD_OUT_FOLD}
    patient = dict(zip(cohort.hands.hand_id, cohort.hands.patient))
    assert not {patient[h] for h in split["train"]} & held_out
    assert splits.split_hands(cohort, 3, 2, seed=0) != splits.split_hands(cohort, 3, 2, seed=1)


def test_split_does_not_depend_on_the_pseudonym_salt():
    assert splits.split_hands(_cohort(salt=7), 5, 2, seed=3) == splits.split_hands(_cohort(salt=3), 5, 2, seed=3)


def test_split_of_real_cohorts_that_differ_only_in_the_salt(tmp_path):
    cohorts = []
    for salt in ("salt-a", "salt-b"):
        manifest = make_native_cohort(tmp_path / salt, n_patients=6)
        (tmp_path / salt / "data" / ".ra_book_salt").write_text(salt + "\n")
        cohorts.append(load_cohort(manifest))
    assert set(cohorts[0].hands.patient).isdisjoint(cohorts[1].hands.patient)
    first, second = (splits.split_hands(c, n_train=5, n_test=3, seed=0) for c in cohorts)
    assert first == second and len(first["train"]) == 5


def test_patients_without_a_fold_are_refused():
    cohort = _cohort()
    cohort.folds = cohort.folds.iloc[1:]
    with pytest.raises(ValueError, match="1 patient\\(s\\) with labelled hands have no fold"):
        splits.split_hands(cohort, 5, 2)


def test_split_summary_counts_hands_and_patients():
    cohort = _cohort()
    table = splits.split_summary(cohort, splits.split_hands(cohort, 4, 2))
    assert table["hands"].tolist() == [4, 2, 14, 20]
    assert table.loc["all hands", "patients"] == 10 and table.loc["training (labelled)", "patients"] == 2
