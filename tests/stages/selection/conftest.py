"""Stage-1 test data: the toy cohort and one trained toy run shared by the selection tests."""
import pytest

from fixtures.selection_cohorts import TOY_VIEWS, oriented_settings, oriented_toy_cohort, toy_cohort, toy_settings
from ra_lib.stages.selection import run


@pytest.fixture(scope="session")
def toy():
    """The toy cohort (72 images, 36 patients, 5 folds)."""
    return toy_cohort(TOY_VIEWS)


@pytest.fixture(scope="session")
def toy_result(toy):
    """One stage run on the toy cohort with :func:`~fixtures.selection_cohorts.toy_settings`."""
    return run(toy, toy_settings(), seed=0, device="cpu", progress=False)


@pytest.fixture(scope="session")
def oriented_result():
    """One stage run on the oriented toy cohort (hands stored turned and mirrored, with their truth)."""
    return run(oriented_toy_cohort(), oriented_settings(), seed=0, device="cpu", progress=False)
