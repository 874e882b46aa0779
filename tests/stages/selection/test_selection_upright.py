"""Later stages' cohort: turned upright by stage 1's orientation.csv when ``upright_images``, else as stored."""
import numpy as np
import pandas as pd
import pytest

from fixtures.builders import make_native_cohort
from ra_lib.cohort import load_cohort
from ra_lib.core import artifacts, contracts
from ra_lib.core.errors import RaDataError
from ra_lib.stages.selection.orientation_evaluate import ORIENTATION_FILE, TABLE_COLUMNS
from ra_lib.stages.selection.upright import UPRIGHT_IMAGES, upright_by_stage1


@pytest.fixture
def cohort(tmp_path):
    return load_cohort(make_native_cohort(tmp_path / "cohort", n_patients=3))


def _write_predictions(root, turns: dict) -> None:
    rows = pd.DataFrame({column: [np.nan] * len(turns) for column in TABLE_COLUMNS})
    rows["image_id"], rows["rot90_k_pred"] = list(turns), list(turns.values())
    artifacts.write_table(rows, artifacts.stage_dir(contracts.SELECTION, root) / ORIENTATION_FILE)


def test_predicted_turns_are_undone(cohort, tmp_path):
    _write_predictions(tmp_path, {"PAT000-BH": 1, "PAT001-LH": 0, "PAT002-RH": 2})
    upright, note = upright_by_stage1(cohort, tmp_path, "quick")
    assert note.endswith(": 2 of 9 images.")
    assert upright.quarter_turns == {"PAT000-BH": 3, "PAT002-RH": 2}
    np.testing.assert_array_equal(upright.load_image("PAT000-BH"), np.rot90(cohort.load_image("PAT000-BH"), -1))


def test_smoke_and_an_explicit_false_keep_the_stored_images(cohort, tmp_path):
    assert UPRIGHT_IMAGES == {"smoke": False, "quick": True, "paper": True}
    for profile, setting in (("smoke", None), ("quick", False)):
        same, note = upright_by_stage1(cohort, tmp_path, profile, setting)
        assert same is cohort and "as stored" in note


def test_an_empty_orientation_table_is_said_and_changes_nothing(cohort, tmp_path):
    _write_predictions(tmp_path, {})
    same, note = upright_by_stage1(cohort, tmp_path, "paper")
    assert same is cohort and note.startswith("Stage 1 wrote no orientation predictions")


def test_missing_or_foreign_predictions_are_errors_naming_the_file(cohort, tmp_path):
    with pytest.raises(artifacts.MissingArtifactError, match="01_image_selection"):
        upright_by_stage1(cohort, tmp_path, "quick")
    _write_predictions(tmp_path, {"elsewhere": 1})
    with pytest.raises(RaDataError, match=r"(?s)orientation\.csv: bad orientation table.*line 2: image 'elsewhere'"):
        upright_by_stage1(cohort, tmp_path, "quick")
