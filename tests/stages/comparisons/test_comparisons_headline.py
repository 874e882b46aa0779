"""ra_lib.stages.comparisons.headline: published numbers beside the upstream stages' headlines."""
import numpy as np
import pandas as pd
import pytest

from fixtures.comparisons_artifacts import fake_headlines
from ra_lib.core.contracts import CLASSIFICATION, DETECTION, GRADING, OVERALL_SCORE, SELECTION
from ra_lib.evaluation import published
from ra_lib.stages.comparisons import headline as hl
from ra_lib.stages.comparisons.tables import recomputed


def _table(headlines, own=None):
    return hl.headline_table(published.headline(), headlines, recomputed("", []) if own is None else own)


def test_book_value_statuses():
    headlines = {SELECTION: {"accuracy/model1_one_hand": 0.75, "accuracy/model2_both_hands": None}}
    assert hl.book_value(headlines, SELECTION, "accuracy/model1_one_hand") == (0.75, hl.MEASURED)
    value, status = hl.book_value(headlines, SELECTION, "accuracy/model2_both_hands")
    assert np.isnan(value) and status == hl.NOT_MEASURED
    assert hl.book_value(headlines, SELECTION, "accuracy/two_binary_fused")[1] == hl.NOT_IN_HEADLINE
    assert hl.book_value(headlines, DETECTION, "map50/frcnn")[1] == hl.NO_HEADLINE


def test_every_published_number_is_read_from_its_stage_headline_by_name():
    headlines = fake_headlines()
    headlines[DETECTION]["map50/frcnn"] = 0.125
    headlines[OVERALL_SCORE]["t_test_p/IRB"] = None
    table = _table(headlines).set_index("id")
    assert len(table) == len(published.headline())
    assert table.loc["002.box_map50", "book"] == 0.125 and table.loc["002.box_map50", "book_value"] == "0.125"
    assert table.loc["002.box_map50", "book_source"] == f"{DETECTION} headline `map50/frcnn`"
    assert table.loc["003.t_test_p", "status"] == hl.NOT_MEASURED
    assert table.loc["003.t_test_p", "book_value"] == hl.NOT_MEASURED
    assert table.loc["003.t_test_p", "published"] == "> 0.05" and table.loc["003.rmse", "published"] == "22.01"
    assert (table.drop(index="003.t_test_p")["status"] == hl.MEASURED).all()
    assert hl.headline_values(table) == {"published_numbers": 46, "compared_numbers": 45, "recomputed_mismatches": 0}


def test_a_stage_without_headline_leaves_its_numbers_missing_and_the_rest_shown():
    headlines = fake_headlines(stages=[CLASSIFICATION, GRADING])
    table = _table(headlines)
    absent = table["stage"].isin([SELECTION, DETECTION, OVERALL_SCORE])
    assert (table.loc[absent, "status"] == hl.NO_HEADLINE).all()
    assert (table.loc[absent, "book_value"] == hl.NO_HEADLINE).all()
    assert (table.loc[~absent, "status"] == hl.MEASURED).all()
    assert hl.headline_values(table)["compared_numbers"] == int((~absent).sum())


def test_a_name_missing_from_a_headline_is_shown_as_such():
    headlines = fake_headlines()
    del headlines[GRADING]["mae_pct/cdf"]
    table = _table(headlines).set_index("id")
    assert table.loc["004.table3.mae.cdf", "book_value"] == hl.NOT_IN_HEADLINE


def test_recomputed_numbers_give_the_interval_when_they_agree_and_are_flagged_when_not():
    headlines = fake_headlines()
    headlines[CLASSIFICATION]["f_measure/siso/erosion"] = 0.6
    own = recomputed(CLASSIFICATION, [("f_measure/siso/erosion", 0.6 + 1e-12, 0.5, 0.7, "oof, 10 joints"),
                                      ("pr_auc/siso/erosion", 0.9, 0.8, 0.95, "oof, 10 joints"),
                                      ("f_measure/reader r1/erosion", 0.1, 0.0, 0.2, "not published")])
    table = _table(headlines, own).set_index("id")
    agree, differ = table.loc["001.table4.erosion.all.f_measure.siso"], table.loc["001.table4.erosion.all.pr_auc.siso"]
    assert agree["recomputed_matches"] is True and agree["book_value"] == "0.600 [0.500,\u00a00.700]"
    assert agree["book_source"].endswith("interval: oof, 10 joints")
    assert differ["recomputed_matches"] is False and differ["book_value"] == "0.500"
    assert "stage 6 recomputes 0.900" in differ["book_source"]
    assert table.loc["003.mae", "recomputed_matches"] is None
    assert hl.headline_values(table)["recomputed_mismatches"] == 1


def test_recomputation_is_not_compared_when_the_stage_has_no_headline():
    own = recomputed(OVERALL_SCORE, [("mae/IRB", 3.0, 2.0, 4.0, "predictions.csv")])
    table = _table({}, own).set_index("id")
    assert table.loc["003.mae", "recomputed_matches"] is None
    assert table.loc["003.mae", "recomputed"] == 3.0 and table.loc["003.mae", "book_value"] == hl.NO_HEADLINE
    assert hl.headline_values(table) == {"published_numbers": 46, "compared_numbers": 0, "recomputed_mismatches": 0}


def test_a_recomputed_nan_agrees_with_a_headline_none():
    headlines = fake_headlines()
    headlines[OVERALL_SCORE]["t_test_p/IRB"] = None
    own = recomputed(OVERALL_SCORE, [("t_test_p/IRB", np.nan, np.nan, np.nan, "predictions.csv")])
    assert _table(headlines, own).set_index("id").loc["003.t_test_p", "recomputed_matches"] is True


def test_missing_headlines_note_names_each_stage():
    assert hl.missing_headlines_note({}) == ""
    note = hl.missing_headlines_note({SELECTION: "metrics.json has no headline: re-run stage"})
    assert f"`{SELECTION}`: metrics.json has no headline" in note and "Numbers missing" in note


@pytest.mark.parametrize("name", hl.HEADLINE_NAMES)
def test_headline_names_are_counts(name):
    table = _table(fake_headlines())
    assert isinstance(hl.headline_values(table)[name], int)
    assert pd.Series(hl.HEADLINE_NAMES).is_unique
