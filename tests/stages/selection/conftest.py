"""Stage-1 test data: toy cohorts, small settings and one trained toy run shared by the selection tests."""
import pytest

from fixtures.selection_cohorts import toy_cohort
from ra_lib.core.profiles import resolve
from ra_lib.stages.selection import PROFILES, AugmentRanges, run

#: Three hand views for every three "other" images: 36 patients of 2 images.
TOY_VIEWS = ["left_hand", "right_hand", "both_hands", "other", "other", "other"] * 12


def toy_settings(**overrides):
    """16-px inputs, 6 epochs, half of Table 2's counts and mild augmentation."""
    defaults = dict(input_size=16, epochs=6, batch_size=16, lr=1e-3, augment_scale=0.5,
                    augment=AugmentRanges(rotation_deg=5.0, shift=0.05, shear_deg=0.0, zoom=0.05))
    defaults.update(overrides)
    return resolve(PROFILES, "smoke", **defaults)  # smoke: no early stopping


@pytest.fixture(scope="session")
def toy():
    """The toy cohort (72 images, 36 patients, 5 folds)."""
    return toy_cohort(TOY_VIEWS)


@pytest.fixture(scope="session")
def toy_result(toy):
    """One stage run on the toy cohort with :func:`toy_settings`."""
    return run(toy, toy_settings(), seed=0, device="cpu", progress=False)
