"""Fixtures of the cohort tests: a tiny native cohort."""
import pytest

from fixtures.builders import make_native_cohort


@pytest.fixture
def native(tmp_path):
    """Three patients, each with a left, a right and a both-hands DICOM; returns the manifest path."""
    return make_native_cohort(tmp_path, n_patients=3)
