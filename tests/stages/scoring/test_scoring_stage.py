"""Scoring end to end on tiny bundles: outputs, flags with reasons, resumption, atomicity, privacy."""
import dataclasses
import re

import pandas as pd
import pytest

from fixtures.builders import PATIENT_NAME, hand_array, make_native_cohort, write_dicom
from fixtures.scoring_builds import write_tiny_bundles
from ra_lib.cohort import load_cohort
from ra_lib.cohort.privacy import load_or_create_salt, pseudonym
from ra_lib.stages.scoring import PROFILES, execution, run
from ra_lib.stages.scoring.inputs import collect, from_cohort
from ra_lib.stages.scoring.stage import OUTPUT_FILES
from ra_lib.stages.scoring.truth import compare

SMOKE = PROFILES["smoke"]


def score(inputs, artifacts, out, **kwargs):
    return run(inputs, artifacts, out, SMOKE, progress=False, **kwargs)


def test_every_file_gets_a_row_and_the_outputs_are_written(artifacts, png_folder, tmp_path):
    result = score(collect([png_folder]), artifacts, tmp_path / "out")
    assert len(result.images) == 7
    assert sorted(result.images["source"]) == ["inputs/broken.png"] + [f"inputs/sub/image_{i}.png" for i in range(6)]
    for name in OUTPUT_FILES:
        assert (tmp_path / "out" / name).is_file()
    assert pd.read_parquet(tmp_path / "out" / "images.parquet").equals(result.images)
    pictures = result.images["overlay"].dropna()
    assert len(pictures) == 6 and all((tmp_path / "out" / p).is_file() for p in pictures)
    both = result.images[result.images["selection"] == "both_hands"]
    assert set(result.hands["image_key"]) == set(both["image_key"])
    assert result.hands["score"].notna().all()


def test_unreadable_file_is_listed_with_its_reason(artifacts, png_folder, tmp_path):
    images = score(collect([png_folder]), artifacts, tmp_path / "out").images.set_index("source")
    broken = images.loc["inputs/broken.png"]
    assert broken["status"] == "flagged" and broken["flags"] == "unreadable"
    assert "not an image file" in broken["reasons"] and broken["overlay"] is None
    assert "broken.png" not in broken["reasons"]


def test_non_hands_and_missing_score_model_are_flagged(png_folder, tmp_path):
    artifacts = write_tiny_bundles(tmp_path / "artifacts", with_score=False)
    result = score(collect([png_folder]), artifacts, tmp_path / "out")
    images = result.images
    others = images[images["selection"] == "other"]
    assert len(others) and others["flags"].str.contains("not_a_hand").all()
    hands = images[images["selection"].isin(["one_hand", "both_hands"])]
    assert len(hands) and hands["flags"].str.contains("missing_model").all()
    reason = "no overall-score model: 05_overall_score/bundle/bundle.json is missing"
    assert hands["reasons"].str.contains(reason).all()
    assert result.models["05_overall_score"].startswith("none:")


def test_a_per_image_score_model_scores_both_hands_images_whole(png_folder, tmp_path):
    artifacts = write_tiny_bundles(tmp_path / "artifacts", unit="image")
    result = score(collect([png_folder]), artifacts, tmp_path / "out")
    both = result.images["selection"] == "both_hands"
    assert both.any() and result.images.loc[both, "overall_score"].notna().all()
    assert result.images.loc[~both, "overall_score"].isna().all()
    assert result.hands["score"].isna().all() and (result.images.loc[both, "score_unit"] == "image").all()


def test_missing_selection_model_flags_every_readable_image(png_folder, tmp_path):
    result = score(collect([png_folder]), tmp_path / "empty", tmp_path / "out")
    readable = result.images[result.images["flags"] != "unreadable"]
    assert (readable["flags"] == "missing_model").all() and readable["selection"].isna().all()


def test_a_second_run_skips_done_images_and_gives_identical_tables(artifacts, png_folder, tmp_path):
    inputs = collect([png_folder])
    first = score(inputs, artifacts, tmp_path / "out")
    calls = []
    original = execution.score_task

    def counting(*args):
        calls.append(args[0])
        return original(*args)

    execution.score_task = counting
    try:
        second = score(inputs, artifacts, tmp_path / "out")
    finally:
        execution.score_task = original
    assert calls == [] and second.reused == 7
    pd.testing.assert_frame_equal(first.images, second.images)
    pd.testing.assert_frame_equal(first.hands, second.hands)


def test_new_settings_or_models_rescore(artifacts, png_folder, tmp_path):
    inputs = collect([png_folder])
    score(inputs, artifacts, tmp_path / "out")
    wider = run(inputs, artifacts, tmp_path / "out", dataclasses.replace(SMOKE, uncertain_margin=0.3), progress=False)
    assert wider.reused == 0


def test_a_crash_leaves_no_partial_outputs_and_the_rerun_resumes(artifacts, png_folder, tmp_path, monkeypatch):
    inputs = collect([png_folder])
    original, done = execution.score_task, []

    def crashing(*args):
        if len(done) == 3:
            raise KeyboardInterrupt("killed")
        done.append(args[0])
        return original(*args)

    monkeypatch.setattr(execution, "score_task", crashing)
    with pytest.raises(KeyboardInterrupt):
        score(inputs, artifacts, tmp_path / "out")
    out = tmp_path / "out"
    assert not any((out / name).exists() for name in OUTPUT_FILES)
    leftovers = [p.name for p in out.rglob("*") if p.is_file()]
    assert len(leftovers) == len([p for p in leftovers if re.fullmatch(r"[0-9a-f]{64}\.json|[0-9a-f]{16}\.png", p)])
    assert len([p for p in leftovers if p.endswith(".json")]) == 3
    monkeypatch.setattr(execution, "score_task", original)
    assert score(inputs, artifacts, out).reused == 3


def test_dicom_patients_are_pseudonymised_and_the_report_identifies_nobody(artifacts, tmp_path):
    folder = tmp_path / "export"
    write_dicom(folder / "Doe_Jane" / "IM0001", hand_array(both=True), patient_id="MRN-12345", laterality="B")
    write_dicom(folder / "Doe_Jane" / "IM0002", hand_array(), patient_id="MRN-12345", laterality="R")
    result = score(collect([folder]), artifacts, tmp_path / "out")
    salt = load_or_create_salt(folder / ".ra_book_salt")
    assert set(result.images["patient"]) == {pseudonym("MRN-12345", salt)}
    report = (tmp_path / "out" / "report.html").read_text()
    for identifying in ("MRN-12345", "Doe", PATIENT_NAME, "IM0001", pseudonym("MRN-12345", salt)):
        assert identifying not in report
    for table in ("images.csv", "hands.csv", "patients.csv"):
        assert "MRN-12345" not in (tmp_path / "out" / table).read_text()


def test_a_cohort_is_scored_beside_its_truth(artifacts, tmp_path):
    cohort = load_cohort(make_native_cohort(tmp_path / "cohort", n_patients=3))
    result = score(from_cohort(cohort), artifacts, tmp_path / "out")
    assert list(result.images["image_id"]) == list(cohort.images["image_id"])
    assert set(result.images["patient"]) == set(cohort.images["patient"])
    truth = compare(result.images, result.hands, cohort)
    assert truth.images["view_true"].notna().all()
    assert 0 <= truth.selection_agreement <= 1
    assert (truth.hands["error"] == truth.hands["score"] - truth.hands["score_true"]).all()
    headline = result.headline(truth)
    assert headline["selection_agreement"] == truth.selection_agreement
    assert headline["images"] == len(cohort.images)
