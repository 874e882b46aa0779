"""Every stage's split depends on the cohort's folds, never on the pseudonym salt.

Two data roots hold the same cohort with different salt files: the pseudonyms differ, and every
stage must still put the same images and hands in train, validation and test.
"""
import shutil

import pytest

from fixtures.builders import make_native_cohort
from ra_lib.cohort import load_cohort
from ra_lib.stages.detection.splits import split_hands
from ra_lib.stages.grading.data import split_patients
from ra_lib.stages.overall_score.targets import assign_splits
from ra_lib.stages.selection.data import split_images

N_PATIENTS = 12


@pytest.fixture(scope="module")
def two_salts(tmp_path_factory):
    root = tmp_path_factory.mktemp("salts")
    manifest = make_native_cohort(root / "a", n_patients=N_PATIENTS)
    shutil.copytree(root / "a", root / "b")
    (root / "a" / "data" / ".ra_book_salt").write_text("0" * 64 + "\n")
    (root / "b" / "data" / ".ra_book_salt").write_text("f" * 64 + "\n")
    first, second = load_cohort(manifest), load_cohort(root / "b" / "manifest.yaml")
    assert set(first.images["patient"]).isdisjoint(second.images["patient"]), "the salts did not change the pseudonyms"
    return first, second


def by_image(cohort, labels_by_patient):
    return dict(zip(cohort.images["image_id"], cohort.images["patient"].map(labels_by_patient)))


def test_selection_split(two_salts):
    def split(cohort):
        table = split_images(cohort.images["patient"], cohort.folds, test_fraction=0.2, val_fraction=0.2)
        return dict(zip(cohort.images["image_id"], table["split"]))

    first, second = two_salts
    assert split(first) == split(second)


def test_detection_split(two_salts):
    first, second = two_salts
    assert split_hands(first, n_train=4, n_test=2, seed=0) == split_hands(second, n_train=4, n_test=2, seed=0)


def test_grading_split(two_salts):
    first, second = two_salts
    assert (by_image(first, split_patients(first.images["patient"], first.folds))
            == by_image(second, split_patients(second.images["patient"], second.folds)))


def test_overall_score_split(two_salts):
    def split(cohort):
        units = assign_splits(cohort.hands[["hand_id", "patient"]], cohort.folds)
        return dict(zip(units["hand_id"], units["split"]))

    first, second = two_salts
    assert split(first) == split(second)
