"""Per-joint agreement with the true grades."""
import numpy as np
import pandas as pd
import pytest

from ra_lib.evaluation.joints import AGREEMENT_COLUMNS, joint_agreement


def test_agreement_per_kind():
    joints = pd.DataFrame({"kind": ["jsn"] * 4 + ["erosion"] * 2,
                           "grade_true": [0, 0, 2, 1, 0, 3],
                           "p_damaged": [0.1, 0.6, 0.8, 0.9, np.nan, 0.7],
                           "grade_pred": [0, 1, 2, 3, 0, np.nan],
                           "grade_expected": [0.2, 0.8, 2.0, 2.5, 0.1, np.nan],
                           "grade_q10": [0, 0, 1, 2, 0, np.nan], "grade_q90": [1, 1, 3, 3, 0, np.nan]})
    table = joint_agreement(joints).set_index("kind")
    assert list(table.reset_index().columns) == AGREEMENT_COLUMNS
    jsn = table.loc["jsn"]
    assert jsn["joints"] == 4 and jsn["damaged"] == 2 and jsn["roc_auc"] == 1.0
    assert jsn["accuracy_damaged"] == 0.75 and jsn["grade_accuracy"] == 0.5 and jsn["grade_within_one"] == 0.75
    assert jsn["grade_mae"] == pytest.approx((0.2 + 0.8 + 0 + 1.5) / 4) and jsn["interval_coverage"] == 0.75
    erosion = table.loc["erosion"]
    assert np.isnan(erosion["roc_auc"]) and erosion["accuracy_damaged"] == 1.0  # one scored joint, one class
    assert erosion["grade_accuracy"] == 1.0 and erosion["interval_coverage"] == 1.0


def test_no_predictions_give_nan():
    joints = pd.DataFrame({"kind": ["jsn"], "grade_true": [1], "p_damaged": [np.nan], "grade_pred": [np.nan],
                           "grade_expected": [np.nan], "grade_q10": [np.nan], "grade_q90": [np.nan]})
    row = joint_agreement(joints).iloc[0]
    assert row["joints"] == 1 and row[AGREEMENT_COLUMNS[3:]].isna().all()
