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


# --- paths, salt, numbers, silent changes --------------------------------------------------------

def test_image_paths_must_stay_inside_the_data_root(native, tmp_path):
    data = native.parent / "data"
    (tmp_path / "outside.dcm").write_bytes((data / "images" / "PAT000-LH.dcm").read_bytes())
    edit_csv(data / "images.csv", lambda df: df.__setitem__("path", df["path"].replace(
        {"images/PAT000-LH.dcm": "../../outside.dcm", "images/PAT000-RH.dcm": str(tmp_path / "outside.dcm")})))
    found = problem_lines(native)
    assert_one(found, "images.csv:2: path:", "leaves the data root")
    assert_one(found, "images.csv:3: path:", "is absolute")


def test_two_image_ids_for_one_file_is_an_error(native):
    edit_csv(native.parent / "data" / "images.csv", lambda df: df.__setitem__("path", df["path"].replace(
        "images/PAT001-LH.dcm", "images/PAT000-LH.dcm")))
    assert_one(problem_lines(native), "images.csv:5: path:", "duplicate path images/PAT000-LH.dcm (first in row 2)")


def test_no_salt_is_written_before_the_cohort_is_found(native, tmp_path):
    data = native.parent / "data"
    (data / "images.csv").unlink()
    assert_one(problem_lines(native), "images.csv:", "images table not found")
    assert not (data / ".ra_book_salt").exists()
    assert_one(problem_lines(native, data_root=tmp_path / "absent"), "data root not found")
    assert not (tmp_path / "absent").exists()


def test_salt_file_that_is_a_link_is_a_problem_not_a_crash(native, tmp_path):
    data = native.parent / "data"
    (data / ".ra_book_salt").symlink_to(data / ".ra_book_salt")  # a loop
    assert_one(problem_lines(native), ".ra_book_salt:", "salt file unusable", "symbolic link")
    (data / ".ra_book_salt").unlink()
    (data / ".ra_book_salt").symlink_to(tmp_path / "elsewhere")  # dangling
    assert_one(problem_lines(native), ".ra_book_salt:", "symbolic link")
    assert not (tmp_path / "elsewhere").exists()


def test_folds_that_are_not_small_whole_numbers(native):
    data = native.parent / "data"
    pd.DataFrame({"patient_id": ["PAT000", "PAT001", "PAT002"],
                  "fold": ["inf", "12345678901234567890", "nan"]}).to_csv(data / "folds.csv", index=False)
    manifest = yaml.safe_load(native.read_text())
    manifest["tables"]["folds"] = "folds.csv"
    write_manifest(native, **manifest)
    found = problem_lines(native)
    for row, value in ((2, "inf"), (3, "12345678901234567890"), (4, "nan")):
        assert_one(found, f"folds.csv:{row}: fold:", f"fold {value!r} must be a whole number from 0 to 999")


def test_old_dotted_dates_are_a_warning(native):
    edit_csv(native.parent / "data" / "images.csv", lambda df: df.__setitem__("study_date", "1994.11.05"))
    problems = check(native)
    assert problems and all(p.severity == "warning" for p in problems)
    assert_one([str(p) for p in problems], "images.csv:2: study_date: warning:", "read as 1994-11-05")


def test_a_hand_missing_some_scores_is_a_warning(native):
    scores = native.parent / "data" / "joint_scores.csv"
    edit_csv(scores, lambda df: df.drop(index=[3, 4], inplace=True))
    problems = check(native)
    assert [p.severity for p in problems] == ["warning"]
    assert "hand L of image 'PAT000-LH' is scored at 29 of 31 sites (missing: erosion pip4, erosion pip5)" in str(
        problems[0])


def test_landmarks_collapsing_a_hand_to_no_pixels(native):
    def collapse(df):
        both = df["image_id"] == "PAT001-BH"
        df.loc[both & (df["hand"] == "L"), "x"] = "0"
        df.loc[both & (df["hand"] == "R"), "x"] = "0.2"
    edit_csv(native.parent / "data" / "landmarks.csv", collapse)
    assert_one(problem_lines(native), "landmarks.csv:", "x:", "image 'PAT001-BH'", "one hand would have no pixels")


def test_one_unreadable_dicom_never_stops_the_check(native):
    images = native.parent / "data" / "images"
    (images / "PAT000-LH.dcm").write_bytes(_with_frames((images / "PAT000-LH.dcm").read_bytes(), b"1A"))
    raw = (images / "PAT001-RH.dcm").read_bytes()  # an unknown transfer syntax of the same length
    (images / "PAT001-RH.dcm").write_bytes(raw.replace(b"1.2.840.10008.1.2.1\x00", b"1.2.840.99999.9.9.9\x00", 1))
    edit_csv(native.parent / "data" / "joint_scores.csv", lambda df: df.__setitem__("grade", df["grade"].replace(
        "3", "inf")))
    found = problem_lines(native, deep=True)
    assert_one(found, "images.csv:2: path:", "NumberOfFrames '1A'", "PAT000-LH.dcm")
    assert_one(found, "images.csv:6: path:", "unknown transfer syntax", "PAT001-RH.dcm")
    assert any("grade 'inf' is not a whole number" in line for line in found)


def _with_frames(raw: bytes, value: bytes) -> bytes:
    """A DICOM file with a NumberOfFrames (0028,0008) IS element of ``value`` before Rows (0028,0010)."""
    rows = b"\x28\x00\x10\x00US"
    at = raw.index(rows)
    padded = value + b" " * (len(value) % 2)
    return raw[:at] + b"\x28\x00\x08\x00IS" + len(padded).to_bytes(2, "little") + padded + raw[at:]
