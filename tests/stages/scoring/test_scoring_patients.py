"""Per-patient hand scores: one left and one right hand added up, with the interval of both sums' distributions."""
import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from ra_lib.stages.scoring.patients import PATIENT_COLUMNS, patient_table

HALF = binom.pmf(np.arange(32), 31, 0.5).tolist()  # a hand's sum: 31 sites, each grade 0 or 1 at even odds


def _tables():
    images = pd.DataFrame({
        "image_key": ["a1", "a2", "b1", "b2", "c1", "d1", "e1", "n1"],
        "patient": ["A", "A", "B", "B", "C", "D", "E", None], "study_date": None,
        "score_unit": ["hand"] * 5 + ["image", "hand", "hand"],
        "overall_score": [10.0, 20.0, 1.0, 2.0, 3.0, 42.0, 5.0, 7.0]})
    hands = pd.DataFrame({
        "image_key": ["a1", "a2", "b1", "b2", "c1", "d1", "d1", "e1", "n1", "n1"],
        "hand": ["L", "R", "L", "L", "R", "R", "L", "unknown", "R", "L"],
        "score": [10.0, 20.0, 1.0, 2.0, 3.0, None, None, 5.0, 3.0, 4.0]})
    distributions = [HALF, HALF, None, None, HALF, None, None, None, HALF, HALF]
    return images, hands, distributions


def test_a_patient_with_one_left_and_one_right_hand_gets_both_hands_score():
    table = patient_table(*_tables()).set_index("patient")
    assert list(table.reset_index().columns) == PATIENT_COLUMNS and list(table.index) == ["A", "B", "C", "D", "E"]
    a = table.loc["A"]
    assert (a["images"], a["hands_left"], a["hands_right"], a["score"], a["note"]) == (2, 1, 1, 30.0, "")
    assert a["joint_sum"] == pytest.approx(31.0)  # the two sums convolved: binomial over 62 sites
    assert (a["joint_sum_q10"], a["joint_sum_q90"]) == tuple(binom.ppf([0.1, 0.9], 62, 0.5))


def test_a_both_hands_radiograph_scored_whole_gives_the_patients_score():
    d = patient_table(*_tables()).set_index("patient").loc["D"]
    assert d["score"] == 42.0 and np.isnan(d["joint_sum"]) and d["note"] == ""


def test_patients_without_a_clear_pair_say_why_and_get_no_score():
    table = patient_table(*_tables()).set_index("patient")
    assert "2 left and 0 right hands" in table.at["B", "note"] and table.at["C", "note"] == "no left hand"
    assert table.at["E", "note"] == "a hand of unknown side"
    assert table.loc[["B", "C", "E"], ["score", "joint_sum"]].isna().all().all()


def test_each_study_date_is_a_visit_of_its_own():
    images, hands, distributions = _tables()
    images = pd.concat([images, images[images["patient"] == "A"].assign(image_key=["a3", "a4"])], ignore_index=True)
    images["study_date"] = ["2020-01-02"] * len(images)
    images.loc[images["image_key"].isin(["a3", "a4"]), "study_date"] = "2021-03-04"
    hands = pd.concat([hands, hands[hands["image_key"].isin(["a1", "a2"])].assign(image_key=["a3", "a4"],
                                                                                  score=[1.0, 2.0])])
    table = patient_table(images, hands, distributions + [None, None])
    visits = table[table["patient"] == "A"].set_index("study_date")
    assert visits["score"].to_dict() == {"2020-01-02": 30.0, "2021-03-04": 3.0}
    assert patient_table(images.assign(study_date=None), hands, distributions + [None, None]).set_index(
        "patient").at["A", "note"].startswith("2 left and 2 right hands")


def test_images_without_a_patient_get_no_row():
    images, hands, distributions = _tables()
    assert patient_table(images[images["patient"].isna()], hands, distributions).empty
