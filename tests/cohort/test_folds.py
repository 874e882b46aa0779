"""Patient folds: deterministic, balanced, patient-disjoint; paper 001's 6 / 1 / 1 rotation."""
import pandas as pd
import pytest

from ra_lib.cohort.folds import patient_folds, rotation


def test_folds_are_deterministic_and_independent_of_input_order():
    patients = [f"p{i}" for i in range(21)]
    first = patient_folds(patients, 8, seed=0)
    again = patient_folds(list(reversed(patients)) + patients[:5], 8, seed=0)
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(patient_folds(patients, 8, seed=1))


def test_folds_are_balanced_and_cover_every_patient_once():
    folds = patient_folds([f"p{i}" for i in range(21)], 8, seed=3)
    assert list(folds.columns) == ["patient", "fold"]
    assert folds["patient"].is_unique and len(folds) == 21
    sizes = folds["fold"].value_counts()
    assert set(sizes.index) == set(range(8)) and sizes.max() - sizes.min() <= 1


def test_too_few_patients_or_folds_is_an_error():
    with pytest.raises(ValueError, match="3 patient"):
        patient_folds(["a", "b", "c"], 8, seed=0)
    with pytest.raises(ValueError, match="n_folds"):
        patient_folds(["a", "b", "c"], 1, seed=0)


def test_rotation_is_six_train_one_validation_one_test():
    train, val, test = rotation(range(8), test_fold=2)
    assert (val, test) == (3, 2) and train == [0, 1, 4, 5, 6, 7]
    assert rotation(range(8), test_fold=7) == ([1, 2, 3, 4, 5, 6], 0, 7)  # validation wraps around
    rounds = [rotation(range(8), k) for k in range(8)]
    assert sorted(v for _, v, _ in rounds) == list(range(8))  # every fold validates once


def test_rotation_rejects_unknown_test_fold_and_too_few_folds():
    with pytest.raises(ValueError, match="test fold 9"):
        rotation(range(8), 9)
    with pytest.raises(ValueError, match="at least 3"):
        rotation([0, 1], 0)

