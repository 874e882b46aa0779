"""ra_lib.stages.comparisons.grading: paper 004 Table 2, cross-checked with scikit-learn / statsmodels."""
import pytest
from sklearn import metrics as skm
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from fixtures.comparisons_artifacts import fake_grades
from ra_lib.core.contracts import GRADING
from ra_lib.stages.comparisons import grading

N_BOOT = 20


def test_grading_ci_matches_sklearn_on_evaluable_rows():
    grades = fake_grades()
    table = grading.grading_ci(grades, n_boot=N_BOOT)
    assert len(table) == 2 * 3 * 3  # kinds x methods x metrics
    rows = grades[(grades["kind"] == "jsn") & (grades["method"] == "plain") & (grades["split"] == "test")
                  & ~grades["imputed"]]
    got = table[(table["kind"] == "jsn") & (table["method"] == "plain")].set_index("metric")
    assert got.loc["accuracy", "estimate"] == pytest.approx(skm.accuracy_score(rows["grade_true"], rows["grade_pred"]))
    assert got.loc["class_normalised_accuracy", "estimate"] == pytest.approx(
        skm.balanced_accuracy_score(rows["grade_true"], rows["grade_pred"]))
    within = (rows["grade_true"] - rows["grade_pred"]).abs() <= 1
    assert got.loc["class_normalised_accuracy_pm1", "estimate"] == pytest.approx(
        within.groupby(rows["grade_true"]).mean().mean())
    assert (got["n"] == len(rows)).all()
    assert grading.grading_wide(table).shape == (6, 3)


def test_grading_mcnemar_matches_statsmodels():
    grades = fake_grades()
    table = grading.grading_mcnemar(grades)
    assert len(table) == 2 * 3
    row = table[(table["kind"] == "erosion") & (table["method_a"] == "plain") & (table["method_b"] == "class_weights")]
    row = row.iloc[0]
    evaluable = grades[(grades["split"] == "test") & ~grades["imputed"] & (grades["kind"] == "erosion")]
    a = evaluable[evaluable["method"] == "plain"].set_index(["hand_id", "site"])
    b = evaluable[evaluable["method"] == "class_weights"].set_index(["hand_id", "site"]).loc[a.index]
    ca, cb = (a["grade_true"] == a["grade_pred"]).to_numpy(), (b["grade_true"] == b["grade_pred"]).to_numpy()
    assert (row["b"], row["c"]) == (int((ca & ~cb).sum()), int((~ca & cb).sum()))
    exact = row["b"] + row["c"] < 25
    reference = sm_mcnemar([[int((ca & cb).sum()), row["b"]], [row["c"], int((~ca & ~cb).sum())]], exact=exact,
                           correction=True)
    assert row["p"] == pytest.approx(reference.pvalue)
    assert (table["p_holm"] >= table["p"]).all()


def test_grading_recomputed_uses_stage_4_headline_names():
    long = grading.grading_ci(fake_grades(), n_boot=N_BOOT)
    got = grading.grading_recomputed(long).set_index("book_name")
    assert len(got) == 2 * 3 * 4  # kinds x methods x (3 metrics + balanced accuracy)
    assert (got["stage"] == GRADING).all()
    assert got.loc["balanced_accuracy/oversample_aug/jsn", "recomputed"] == got.loc[
        "class_normalised_accuracy/oversample_aug/jsn", "recomputed"]
    row = long.query("kind == 'erosion' and method == 'plain' and metric == 'accuracy'").iloc[0]
    assert got.loc["accuracy/plain/erosion", "recomputed"] == row["estimate"]
    assert got.loc["accuracy/plain/erosion", "recomputed_source"].endswith(f"erosion, plain, n = {row['n']}")
