"""ra_lib.stages.comparisons.inputs: upstream tables and headlines read by contract."""
import numpy as np
import pandas as pd
import pytest

from fixtures.comparisons_artifacts import fake_oof, fake_scores, write_headline, write_old_metrics, write_predictions
from ra_lib.core import artifacts as store
from ra_lib.core.contracts import CLASSIFICATION, DETECTION, GRADING, OVERALL_SCORE, SELECTION
from ra_lib.core.errors import RaDataError
from ra_lib.stages.comparisons import inputs


@pytest.mark.parametrize("loader, stage", [(inputs.load_oof, CLASSIFICATION),
                                           (inputs.load_grade_predictions, GRADING),
                                           (inputs.load_score_predictions, OVERALL_SCORE)])
def test_missing_stage_names_it(tmp_path, loader, stage):
    with pytest.raises(store.MissingArtifactError, match=stage):
        loader(tmp_path)


def test_loaders_read_what_stages_write(tmp_path):
    oof, scores = fake_oof(), fake_scores()
    write_predictions(tmp_path, oof=oof, scores=scores)
    pd.testing.assert_frame_equal(inputs.load_oof(tmp_path), oof)
    assert len(inputs.load_score_predictions(tmp_path)) == len(scores)


def test_missing_column_names_file_and_column(tmp_path):
    write_predictions(tmp_path, oof=fake_oof().drop(columns=["probability"]))
    with pytest.raises(RaDataError, match=r"oof_predictions.csv: missing column\(s\) \['probability'\]"):
        inputs.load_oof(tmp_path)


def test_empty_value_names_column_and_line(tmp_path):
    oof = fake_oof()
    oof.loc[3, "probability"] = np.nan
    write_predictions(tmp_path, oof=oof)
    with pytest.raises(RaDataError, match="'probability' has 1 empty value.*line 5"):
        inputs.load_oof(tmp_path)


def test_score_predictions_need_a_unit_column(tmp_path):
    write_predictions(tmp_path, scores=fake_scores().drop(columns=["hand_id"]))
    with pytest.raises(RaDataError, match="hand_id or image_id"):
        inputs.load_score_predictions(tmp_path)


def test_read_headlines_reads_new_metrics_and_explains_the_others(tmp_path):
    write_headline(tmp_path, DETECTION, {"map50/frcnn": 0.25, "detection_rate/dlc/jsn": None})
    write_old_metrics(tmp_path, SELECTION)
    headlines, missing = inputs.read_headlines(tmp_path)
    assert headlines == {DETECTION: {"map50/frcnn": 0.25, "detection_rate/dlc/jsn": None}}
    assert set(missing) == {SELECTION, CLASSIFICATION, GRADING, OVERALL_SCORE}
    assert "has no headline" in missing[SELECTION] and "is missing" in missing[GRADING]
    assert inputs.HEADLINE_STAGES == (SELECTION, DETECTION, CLASSIFICATION, GRADING, OVERALL_SCORE)
