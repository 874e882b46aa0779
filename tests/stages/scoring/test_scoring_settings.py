"""Scoring's settings, profiles, headline names and task batches."""
import pytest

from ra_lib.core import contracts
from ra_lib.stages.scoring import HEADLINE_NAMES, PROFILES, STAGE, ScoringSettings
from ra_lib.stages.scoring.execution import MAX_BATCH, batches
from ra_lib.stages.scoring.image_scoring import ScoringTask


def test_stage_and_profiles():
    assert STAGE == contracts.SCORING and STAGE in contracts.STAGES
    assert set(PROFILES) == {"smoke", "quick", "paper"}
    assert PROFILES["smoke"].workers == 0 and PROFILES["paper"].workers is None
    assert len(HEADLINE_NAMES) == len(set(HEADLINE_NAMES))


@pytest.mark.parametrize("knob, value", [("max_images", 0), ("workers", -1), ("uncertain_margin", 0.5),
                                         ("overlay_side", 10), ("held_out_fold", -1)])
def test_bad_settings_are_refused_by_name(knob, value):
    with pytest.raises(ValueError, match=knob):
        ScoringSettings(**{"max_images": None, "workers": 0, knob: value})


def test_result_settings_leave_out_what_does_not_change_a_result():
    assert set(PROFILES["quick"].result_settings()) == {"uncertain_margin", "overlay_side", "held_out_fold"}


@pytest.mark.parametrize("n, workers", [(1, 2), (10, 1), (1000, 2)])
def test_batches_keep_every_task_once_in_order(n, workers):
    tasks = [ScoringTask(f"{i}.png", str(i), str(i)) for i in range(n)]
    groups = batches(tasks, workers)
    assert [t for group in groups for t in group] == tasks
    assert max(len(g) for g in groups) <= MAX_BATCH
