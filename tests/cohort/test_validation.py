"""Checking a cohort: images, dates, folds, the salt; one bad fixture per problem class."""
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from fixtures.builders import assert_one, edit_csv, problem_lines, write_manifest, write_png
from ra_lib.cohort import check


def test_good_cohort_checks_clean_and_writes_only_the_salt(native):
    data = native.parent / "data"
    before = sorted(p.relative_to(data) for p in data.rglob("*"))
    assert check(native) == []
    after = sorted(p.relative_to(data) for p in data.rglob("*"))
    assert set(after) - set(before) == {Path(".ra_book_salt")} and set(before) <= set(after)


def test_missing_image_file(native):
    (native.parent / "data" / "images" / "PAT000-RH.dcm").unlink()
    assert_one(problem_lines(native), "images.csv:3: path:", "file not found", "PAT000-RH.dcm")


def test_truncated_image(native):
    path = native.parent / "data" / "images" / "PAT001-LH.dcm"
    path.write_bytes(path.read_bytes()[:-500])
    assert_one(problem_lines(native), "images.csv:5: path:", "truncated", "PAT001-LH.dcm")


def test_corrupt_pixels_found_only_by_deep_check(native):
    data = native.parent / "data"
    noise = np.random.default_rng(0).integers(0, 255, (64, 64)).astype(np.uint8)
    write_png(data / "images" / "noisy.png", noise)
    raw = bytearray((data / "images" / "noisy.png").read_bytes())
    raw[200:240] = b"\x00" * 40  # damage the compressed pixels, keep the end chunk
    (data / "images" / "noisy.png").write_bytes(bytes(raw))
    edit_csv(data / "images.csv", lambda df: df.__setitem__("path", df["path"].replace(
        "images/PAT002-LH.dcm", "images/noisy.png")))
    assert problem_lines(native) == []
    assert_one(problem_lines(native, deep=True), "images.csv:8: path:", "noisy.png")


def test_duplicate_image_ids(native):
    edit_csv(native.parent / "data" / "images.csv", lambda df: df.__setitem__("image_id", df["image_id"].replace(
        "PAT001-RH", "PAT001-LH")))
    assert_one(problem_lines(native), "images.csv:6: image_id:", "duplicate image_id PAT001-LH (first in row 5)")


def test_unknown_view_and_bad_date(native):
    def damage(df):
        df.loc[0, "view"] = "lateral"
        df.loc[1, "study_date"] = "2020-13-40"
    edit_csv(native.parent / "data" / "images.csv", damage)
    found = problem_lines(native)
    assert_one(found, "images.csv:2: view:", "unknown view 'lateral'; expected one of left_hand")
    assert_one(found, "images.csv:3: study_date:", "is not a date")


def test_patient_in_two_folds_and_patient_without_fold(native):
    data = native.parent / "data"
    pd.DataFrame({"patient_id": ["PAT000", "PAT001", "PAT001", "PAT404"], "fold": [0, 1, 2, 0]}).to_csv(
        data / "folds.csv", index=False)
    manifest = yaml.safe_load(native.read_text())
    manifest["tables"]["folds"] = "folds.csv"
    write_manifest(native, **manifest)
    problems = check(native)
    found = [str(p) for p in problems]
    line = assert_one(found, "folds.csv:3: fold:", "a patient is in two folds ([1, 2], rows 3, 4)")
    assert "PAT001" not in line  # rows, not identifiers, in the message
    assert_one(found, "folds.csv: patient_id:", "the patient of image 'PAT002-LH' has no fold")
    assert_one(found, "folds.csv:5: patient_id: warning:", "no image in the cohort")


def test_reader_grades_and_image_id_separator(native):
    data = native.parent / "data"
    edit_csv(data / "readers.csv", lambda df: df.__setitem__("grade", ["9"] + list(df["grade"][1:])))
    edit_csv(data / "images.csv", lambda df: df.__setitem__("image_id", df["image_id"].replace("PAT002-RH", "PAT:2")))
    found = problem_lines(native)
    assert_one(found, "readers.csv:2: grade:", "grade 9 out of range 0-5 for hand erosion mcp2")
    assert_one(found, "images.csv:9: image_id:", "may not contain ':'")
