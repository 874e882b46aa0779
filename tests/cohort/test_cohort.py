"""Loading a cohort: the COHORT_* contracts, pixels of images and hands, data roots, folds, ignored names."""
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from fixtures.builders import assert_one, edit_csv, problem_lines, write_manifest
from ra_lib.cohort import ManifestError, load_cohort, schema
from ra_lib.cohort.manifest import ENV_DATA_ROOT
from ra_lib.cohort.privacy import pseudonym


def test_native_cohort_loads_into_the_cohort_contracts(native):
    cohort = load_cohort(native)
    contracts = {"images": schema.COHORT_IMAGE_COLUMNS, "hands": schema.COHORT_HAND_COLUMNS,
                 "scores": schema.COHORT_SCORE_COLUMNS, "landmarks": schema.COHORT_LANDMARK_COLUMNS,
                 "readers": schema.COHORT_READER_COLUMNS, "folds": schema.COHORT_FOLD_COLUMNS}
    for name, columns in contracts.items():
        assert tuple(getattr(cohort, name).columns) == columns, name
    assert len(cohort.images) == 9 and len(cohort.hands) == 12  # 3 x (left, right, both)
    assert len(cohort.scores) == 12 * 31 and cohort.scores["grade"].dtype == np.int64
    assert cohort.scores["hand_id"].isin(cohort.hands["hand_id"]).all()
    assert cohort.images["study_date"].eq("2020-01-02").all()
    assert len(cohort.landmarks) == 12 * 22 and len(cohort.readers) == 12
    assert set(cohort.folds["patient"]) == set(cohort.images["patient"]) and cohort.folds["fold"].nunique() == 3
    assert cohort.data_root == (native.parent / "data").absolute()


def test_load_image_and_load_hand(native):
    cohort = load_cohort(native)
    image = cohort.load_image("PAT000-BH")
    assert image.dtype == np.float32 and image.shape == (64, 96) and 0 <= image.min() < image.max() <= 1
    assert cohort.image_path("PAT000-BH") == cohort.data_root / "images" / "PAT000-BH.dcm"
    left = cohort.load_hand("PAT000-BH:L")
    assert left.shape == (64, 50)
    np.testing.assert_array_equal(cohort.load_hand("PAT000-BH:L", mirror_to_right=True), left[:, ::-1])
    right = cohort.load_hand("PAT000-BH:R")
    np.testing.assert_array_equal(cohort.load_hand("PAT000-BH:R", mirror_to_right=True), right)
    assert cohort.load_hand("PAT000-LH:L", size=32).shape == (32, 32)
    assert cohort.load_hand("PAT000-LH:L", size=(40, 20)).dtype == np.float32
    with pytest.raises(KeyError, match="PAT999"):
        cohort.load_hand("PAT999-LH:L")


def test_data_root_argument_beats_environment_beats_manifest(native, tmp_path, monkeypatch):
    moved = tmp_path / "elsewhere"
    shutil.copytree(native.parent / "data", moved)
    env_copy = tmp_path / "from_env"
    shutil.copytree(native.parent / "data", env_copy)
    monkeypatch.delenv(ENV_DATA_ROOT, raising=False)
    assert load_cohort(native).data_root == (native.parent / "data").absolute()
    monkeypatch.setenv(ENV_DATA_ROOT, str(env_copy))
    assert load_cohort(native).data_root == env_copy.absolute()
    assert load_cohort(native, data_root=moved).data_root == moved.absolute()


def test_generated_folds_do_not_depend_on_the_salt(native, tmp_path):
    first = load_cohort(native)
    copy = tmp_path / "copy"
    shutil.copytree(native.parent / "data", copy)
    (copy / ".ra_book_salt").unlink()
    second = load_cohort(native, data_root=copy)

    def by_patient(cohort):
        salt = (cohort.data_root / ".ra_book_salt").read_text().strip()
        fold = dict(zip(cohort.folds["patient"], cohort.folds["fold"]))
        return {p: fold[pseudonym(p, salt)] for p in ("PAT000", "PAT001", "PAT002")}

    assert by_patient(first) == by_patient(second)
    assert set(first.folds["patient"]).isdisjoint(second.folds["patient"])


def test_unknown_column_can_be_ignored_and_is_dropped(native):
    edit_csv(native.parent / "data" / "images.csv", lambda df: df.insert(3, "patient_name", "Doe^Jane"))
    assert_one(problem_lines(native), "images.csv:1: patient_name:", "unknown column", "ignore_columns")
    manifest = yaml.safe_load(native.read_text())
    write_manifest(native, **manifest, ignore_columns=["patient_name"])
    cohort = load_cohort(native)
    assert "patient_name" not in cohort.images.columns and "Doe^Jane" not in cohort.images.to_csv()


def test_landmark_names_are_mapped_or_ignored(native):
    landmarks = native.parent / "data" / "landmarks.csv"
    edit_csv(landmarks, lambda df: df.__setitem__("landmark", df["landmark"].replace({"mcp2": "MCP_II"})))
    extra = pd.read_csv(landmarks, dtype=str)
    extra = pd.concat([extra, extra.iloc[[0]].assign(landmark="fingertip2")])
    extra.to_csv(landmarks, index=False)
    found = problem_lines(native)
    assert_one(found, "landmarks.csv:8: landmark:", "unknown landmark 'MCP_II'", "landmark_map", "(and 11 more row(s))")
    assert_one(found, "landmarks.csv:266: landmark:", "unknown landmark 'fingertip2'")
    manifest = yaml.safe_load(native.read_text())
    write_manifest(native, **manifest, landmark_map={"MCP_II": "mcp2"}, ignore_landmarks=["fingertip2"])
    cohort = load_cohort(native)
    assert "MCP_II" not in set(cohort.landmarks["landmark"]) and "fingertip2" not in set(cohort.landmarks["landmark"])
    assert (cohort.landmarks["landmark"] == "mcp2").sum() == 12


def test_every_problem_is_reported_at_once(native):
    data = native.parent / "data"
    (data / "images" / "PAT000-RH.dcm").unlink()
    edit_csv(data / "images.csv", lambda df: df.__setitem__("view", df["view"].replace("both_hands", "bilateral")))
    edit_csv(data / "joint_scores.csv", lambda df: df.__setitem__("grade", df["grade"].replace("3", "7")))
    with pytest.raises(ManifestError) as error:
        load_cohort(native)
    text = str(error.value)
    assert "file not found" in text and "unknown view 'bilateral'" in text and "grade 7 out of range" in text
    assert len(error.value.problems) > 3 + 10


def test_images_only_cohort_for_image_selection(native):
    manifest = yaml.safe_load(native.read_text())
    manifest["tables"] = {"images": "images.csv"}
    write_manifest(native, **manifest)
    cohort = load_cohort(native)
    assert len(cohort.images) == 9 and len(cohort.hands) == 12
    for name, columns in (("scores", schema.COHORT_SCORE_COLUMNS), ("landmarks", schema.COHORT_LANDMARK_COLUMNS),
                          ("readers", schema.COHORT_READER_COLUMNS)):
        table = getattr(cohort, name)
        assert table.empty and tuple(table.columns) == columns
