"""ra_lib.stages.comparisons: run() end to end on fake artifacts, and the package's public API."""
import dataclasses
import json

import pandas as pd
import pytest
from sklearn import metrics as skm

import ra_lib.stages.comparisons as comparisons
from fixtures.comparisons_artifacts import (fake_cohort, fake_grades, fake_headlines, fake_oof, fake_readers,
                                            fake_scores, write_headline, write_old_metrics, write_predictions)
from ra_lib.core import artifacts as store
from ra_lib.core.contracts import CLASSIFICATION, COMPARISONS, DETECTION, GRADING, OVERALL_SCORE, SELECTION
from ra_lib.evaluation import published
from ra_lib.stages.comparisons import headline as hl

SETTINGS = comparisons.ComparisonsSettings(n_boot=20)


def test_public_api():
    assert comparisons.STAGE == COMPARISONS
    assert set(comparisons.__all__) == {"STAGE", "ComparisonsSettings", "PROFILES", "HEADLINE_NAMES", "run",
                                        "ComparisonsResult"}
    assert comparisons.HEADLINE_NAMES == ("published_numbers", "compared_numbers", "recomputed_mismatches")


def test_nothing_run_gives_every_published_number_without_book_value(tmp_path):
    result = comparisons.run(SETTINGS, artifacts_root=tmp_path, cohort=fake_cohort())
    assert set(result.missing_tables) == {CLASSIFICATION, GRADING, OVERALL_SCORE}
    assert set(result.missing_headlines) == {SELECTION, DETECTION, CLASSIFICATION, GRADING, OVERALL_SCORE}
    assert result.table4 is None and result.grading is None and result.agreement is None
    assert f"Stage `{GRADING}` has not been run" in result.note(GRADING)
    assert (result.book_vs_papers["status"] == hl.NO_HEADLINE).all()
    assert result.headline() == {"published_numbers": 46.0, "compared_numbers": 0.0, "recomputed_mismatches": 0.0}
    assert list(result.tables()) == ["headline.csv"]


def test_full_run_reads_headlines_and_recomputes_with_intervals(tmp_path):
    oof, grades, scores = fake_oof(), fake_grades(), fake_scores()
    write_predictions(tmp_path, oof=oof, grades=grades, scores=scores)
    headlines = fake_headlines()
    siso = oof[oof["model"] == "siso"]
    headlines[CLASSIFICATION]["f_measure/siso/erosion"] = skm.f1_score(siso["label"], siso["probability"] >= 0.5)
    for stage, headline in headlines.items():
        write_headline(tmp_path, stage, headline)
    result = comparisons.run(SETTINGS, artifacts_root=tmp_path, cohort=fake_cohort(fake_readers(oof)), seed=3)
    assert result.missing_tables == {} and result.missing_headlines == {}
    assert result.note(CLASSIFICATION) == "" and result.headline_note() == "" and result.has_readers
    table = result.book_vs_papers.set_index("id")
    assert table.loc["001.table4.erosion.all.f_measure.siso", "recomputed_matches"] is True
    assert table.loc["001.table4.erosion.all.f_measure.siso", "book_value"].count("[") == 1
    assert table.loc["001.table4.jsn.all.f_measure.siso", "recomputed_matches"] is None  # erosion-only fake
    assert table.loc["000.model1_accuracy", "book"] == 0.5
    headline = result.headline()
    assert headline["published_numbers"] == 46 and headline["compared_numbers"] == 46
    assert headline["recomputed_mismatches"] == table["recomputed_matches"].map(lambda m: m is False).sum() > 0
    assert set(result.tables()) == set(comparisons.stage.TABLE_FILES.values())


def test_old_format_metrics_leave_that_stage_missing_and_show_the_rest(tmp_path):
    write_predictions(tmp_path, scores=fake_scores())
    write_old_metrics(tmp_path, SELECTION)
    write_headline(tmp_path, OVERALL_SCORE, fake_headlines([OVERALL_SCORE])[OVERALL_SCORE])
    result = comparisons.run(SETTINGS, artifacts_root=tmp_path, cohort=fake_cohort())
    assert "has no headline" in result.missing_headlines[SELECTION]
    assert f"`{SELECTION}`" in result.headline_note()
    table = result.book_vs_papers
    assert (table.loc[table["stage"] == SELECTION, "status"] == hl.NO_HEADLINE).all()
    assert (table.loc[table["stage"] == OVERALL_SCORE, "status"] == hl.MEASURED).all()
    assert result.agreement is not None and result.table4 is None


def test_cohort_without_readers_gives_table4_without_reader_rows(tmp_path):
    write_predictions(tmp_path, oof=fake_oof())
    result = comparisons.run(SETTINGS, artifacts_root=tmp_path, cohort=fake_cohort())
    assert not result.has_readers and result.model_vs_reader.empty
    assert set(result.table4["model"]) == {"siso", "mimo_local"}


def test_outputs_are_written_as_csv_and_strict_json(tmp_path):
    oof = fake_oof()
    write_predictions(tmp_path, oof=oof, grades=fake_grades(), scores=fake_scores())
    result = comparisons.run(SETTINGS, artifacts_root=tmp_path, cohort=fake_cohort(fake_readers(oof)))
    out = store.stage_dir(COMPARISONS, tmp_path)
    written = result.write_tables(out)
    assert sorted(p.name for p in written) == sorted(comparisons.stage.TABLE_FILES.values())
    assert len(pd.read_csv(out / "headline.csv")) == len(published.headline())
    store.write_metrics(out, result.headline(), profile="smoke", seed=0, settings=dataclasses.asdict(SETTINGS),
                        **result.details())
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["headline"] == store.read_headline(COMPARISONS, tmp_path)
    assert set(metrics["headline"]) == set(comparisons.HEADLINE_NAMES)
    assert metrics["stages_missing"] == [] and len(metrics["book_vs_papers"]) == 46
    assert {r["metric"] for r in metrics["table4_all_joints"]} == {"sensitivity", "specificity", "f_measure", "pr_auc"}


def test_same_seed_same_numbers(tmp_path):
    write_predictions(tmp_path, grades=fake_grades())
    first = comparisons.run(SETTINGS, artifacts_root=tmp_path, cohort=fake_cohort(), seed=1)
    second = comparisons.run(SETTINGS, artifacts_root=tmp_path, cohort=fake_cohort(), seed=1)
    pd.testing.assert_frame_equal(first.grading, second.grading)
    assert not first.grading.equals(comparisons.run(SETTINGS, artifacts_root=tmp_path, cohort=fake_cohort(),
                                                    seed=2).grading)


def test_settings_reach_the_computation(tmp_path):
    write_predictions(tmp_path, grades=fake_grades())
    result = comparisons.run(dataclasses.replace(SETTINGS, split="train"), artifacts_root=tmp_path,
                             cohort=fake_cohort())
    grades = fake_grades()
    assert result.grading["n"].max() == pytest.approx(
        ((grades["split"] == "train") & ~grades["imputed"]).groupby([grades["kind"], grades["method"]]).sum().max())
