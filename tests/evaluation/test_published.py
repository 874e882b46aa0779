"""ra_lib.evaluation.published: the papers' numbers as data, checked against the papers' own statements."""
import pytest

from ra_lib.evaluation import published
from ra_lib.cohort.sites import KINDS

STAGES = ("01_image_selection", "02_joint_detection", "03_joint_classification", "04_joint_grading",
          "05_overall_score")
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
