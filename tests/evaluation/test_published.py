"""ra_lib.evaluation.published: the papers' numbers as data, checked against the papers' own statements."""
import importlib
import re

import pytest

from ra_lib.cohort.sites import KINDS
from ra_lib.core.contracts import CLASSIFICATION, DETECTION, GRADING, OVERALL_SCORE, SELECTION
from ra_lib.evaluation import published

STAGES = (SELECTION, DETECTION, CLASSIFICATION, GRADING, OVERALL_SCORE)
#: A headline name: ``<metric>/<model>[/<kind>]`` (lower-case metric, kind one of the joint kinds).
HEADLINE_NAME = re.compile(r"^[a-z][a-z0-9_]*/[A-Za-z0-9_]+(/(erosion|jsn))?$")
MODELS = ("siso", "mimo_local", "mimo_one_hand", "mimo_both_hands")


def _table4_value(kind, region, metric, column):
    t = published.table4()
    rows = t[(t["kind"] == kind) & (t["region"] == region) & (t["metric"] == metric) & (t["column"] == column)]
    assert len(rows) == 1
    return rows["value"].iloc[0]


def test_table4_is_complete_and_in_range():
    t = published.table4()
    assert len(t) == len(KINDS) * 3 * 4 * 8
    assert not t.duplicated(["kind", "region", "metric", "column"]).any()
    assert t["value"].between(0, 1).all()
    assert set(t["region"]) == set(published.TABLE4_REGIONS)
    assert set(t["metric"]) == set(published.TABLE4_METRICS)


@pytest.mark.parametrize("kind, region, metric, column, value", [
    ("erosion", "finger", "sensitivity", "siso", 0.65),
    ("erosion", "finger", "sensitivity", "mimo_both_hands", 0.31),
    ("erosion", "wrist", "specificity", "surgeon 2", 0.30),
    ("erosion", "all", "f_measure", "mimo_local", 0.70),
    ("jsn", "wrist", "pr_auc", "surgeon 3", 0.94),
    ("jsn", "all", "pr_auc", "surgeon mean", 0.84),
])
def test_table4_spot_values(kind, region, metric, column, value):
    assert _table4_value(kind, region, metric, column) == value


def test_table4_matches_the_papers_text():
    # "for all joints, the MIMO local model showed the best performance ... F-measure of erosion and JSN
    # (0.70, 0.81), and PR-AUC of erosion and JSN (0.73, 0.85)"
    for kind, f_best, pr_best in (("erosion", 0.70, 0.73), ("jsn", 0.81, 0.85)):
        f = {m: _table4_value(kind, "all", "f_measure", m) for m in MODELS}
        pr = {m: _table4_value(kind, "all", "pr_auc", m) for m in MODELS}
        assert max(f, key=f.get) == "mimo_local" and f["mimo_local"] == f_best
        assert max(pr, key=pr.get) == "mimo_local" and pr["mimo_local"] == pr_best


def test_surgeon_mean_is_the_mean_of_the_surgeons_up_to_rounding():
    t = published.table4()
    wide = t.pivot_table(index=["kind", "region", "metric"], columns="column", values="value")
    mean = wide[["surgeon 1", "surgeon 2", "surgeon 3"]].mean(axis=1)
    assert (mean - wide["surgeon mean"]).abs().max() <= 0.0067 + 1e-9


def test_headline_rows_are_well_formed():
    h = published.headline()
    assert h["id"].is_unique
    assert set(h["paper"]) == set(published.PAPERS)
    assert set(h["stage"]) <= set(STAGES)
    assert set(h["relation"]) <= {"=", ">"}
    assert h["source"].str.len().gt(0).all() and h["quantity"].str.len().gt(0).all()
    assert (h["citation"] == h["paper"].map(lambda p: published.PAPERS[p]["key"])).all()


@pytest.mark.parametrize("id_, value", [
    ("000.model1_accuracy", 0.952), ("000.model2_accuracy", 0.979), ("000.three_class_accuracy", 1.0),
    ("001.detection_rate.erosion", 3229 / 3296), ("003.mae", 14.90), ("003.rmse", 22.01),
    ("004.table2.class_normalised_accuracy_pm1.class_weights", 0.817), ("004.table3.mae.cdf", 4.046),
    ("002.erosion_balanced_accuracy", 0.186),
])
def test_headline_values(id_, value):
    h = published.headline().set_index("id")
    assert h.loc[id_, "value"] == pytest.approx(value)


def test_headline_table4_entries_agree_with_table4():
    h = published.headline()
    rows = h[h["id"].str.startswith("001.table4.")]
    assert len(rows) == 2 * 2 * 5  # kinds x (F, PR-AUC) x (4 models + surgeons' mean)
    for rec in rows.itertuples():
        _, _, kind, region, metric, column = rec.id.split(".")
        assert rec.value == _table4_value(kind, region, metric, column.replace("_", " ")
                                          if column == "surgeon_mean" else column)


def test_every_book_name_is_a_headline_name_of_its_stage():
    h = published.headline()
    bad = [name for name in h["book_name"] if not HEADLINE_NAME.match(name)]
    assert not bad
    assert h["book_name"].str.len().gt(0).all()
    # one quantity per (stage, name): rows sharing a name measure the same thing against two papers
    shared = h[h.duplicated(["stage", "book_name"], keep=False)]
    assert set(shared["id"]) == {"002.erosion_accuracy", "004.table2.accuracy.oversample_aug"}


@pytest.mark.parametrize("id_, stage, name", [
    ("000.model1_accuracy", SELECTION, "accuracy/model1_one_hand"),
    ("000.three_class_accuracy", SELECTION, "accuracy/two_binary_fused"),
    ("001.distance_error.jsn", DETECTION, "mean_error_paper_px/dlc/jsn"),
    ("002.box_map50", DETECTION, "map50/frcnn"),
    ("001.table4.jsn.all.pr_auc.surgeon_mean", CLASSIFICATION, "pr_auc/readers_mean/jsn"),
    ("001.table4.erosion.all.f_measure.mimo_both_hands", CLASSIFICATION, "f_measure/mimo_both_hands/erosion"),
    ("002.jsn_balanced_accuracy", GRADING, "balanced_accuracy/oversample_aug/jsn"),
    ("004.table2.class_normalised_accuracy_pm1.plain", GRADING, "class_normalised_accuracy_pm1/plain/erosion"),
    ("004.table3.mse.cdf", GRADING, "mse_pct/cdf"),
    ("003.t_test_p", OVERALL_SCORE, "t_test_p/IRB"),
])
def test_book_names(id_, stage, name):
    row = published.headline().set_index("id").loc[id_]
    assert (row["stage"], row["book_name"]) == (stage, name)


def test_stage_tables_agree_with_the_headline_rows():
    h = published.headline().set_index("id")["value"]
    assert h["000.three_class_accuracy"] == published.SELECTION_RESULTS["three_class_correct"] / \
        published.SELECTION_RESULTS["n_test"]
    for kind, (correct, n) in published.DETECTION_CORRECT.items():
        assert round(100 * correct / n, 1) == published.DETECTION_TABLE3[(kind, "All joints")]["total"]
        assert h[f"001.distance_error.{kind}"] == published.DETECTION_DISTANCE_ERROR[(kind, "All joints")][0]
    assert h["002.box_map50"] == published.DETECTION_BOX_MAP50
    for method, values in published.GRADING_TABLE2.items():
        for metric, value in values.items():
            assert h[f"004.table2.{metric}.{method}"] == value
    assert h["004.table3.mae.cdf"] == published.GRADING_TABLE3["a"]["mae"]
    assert h["002.jsn_accuracy"] == published.GRADING_002["jsn"]["accuracy"]
    assert (h["003.mae"], h["003.rmse"]) == (published.OVERALL_RESULTS["mae"], published.OVERALL_RESULTS["rmse"])


def test_paper_000_table2_counts_and_paper_004_table3():
    assert published.SELECTION_TABLE2["model1"] == {"one_hand": 2343, "rest": 3140}
    assert published.SELECTION_TABLE2["model2"] == {"both_hands": 1144, "rest": 1572}
    assert published.SELECTION_TRAIN_IMAGES == 841
    assert published.GRADING_TABLE3 == {"a": {"mse": 80.884, "mae": 4.046}, "b": {"mse": 83.017, "mae": 4.072},
                                        "c": {"mse": 94.488, "mae": 4.057}}
    assert published.DETECTION_TABLE3[("erosion", "MCP")] == {"intact": 99.6, "non-intact": 83.1, "total": 97.5}


@pytest.mark.parametrize("stage, package", [
    (SELECTION, "ra_lib.stages.selection"), (DETECTION, "ra_lib.stages.detection"),
    (CLASSIFICATION, "ra_lib.stages.classification"), (GRADING, "ra_lib.stages.grading"),
    (OVERALL_SCORE, "ra_lib.stages.overall_score"),
])
def test_every_book_name_is_declared_by_its_stage(stage, package):
    declared = set(importlib.import_module(package).HEADLINE_NAMES)
    h = published.headline()
    assert set(h.loc[h["stage"] == stage, "book_name"]) <= declared
