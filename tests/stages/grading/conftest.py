"""Stage-4 test data: one toy crop store and its prepared data, shared by the grading tests."""
import pytest

from fixtures.crop_stores import toy_crop_store
from ra_lib.stages.grading.data import prepare_data


@pytest.fixture(scope="session")
def toy():
    """``(store, cohort)``: 10 patients, 24-px crops, about 5 % flagged, 4 folds."""
    return toy_crop_store(n_patients=10, crop_size=24, seed=1, flagged_fraction=0.05)


@pytest.fixture(scope="session")
def toy_data(toy):
    """The toy store prepared at 16 px, fold 0 testing."""
    store, cohort = toy
    return prepare_data(store, cohort.scores, cohort.folds, crop_size=16)
