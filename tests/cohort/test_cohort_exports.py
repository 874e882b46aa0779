"""The smoke synthetic cohort, its RA2-layout export and its DICOM-folder export load into the same per-hand tables.

All three are read through the book's own manifests (``data_manifests/synthetic_smoke.yaml``,
``ra2_example.yaml``, ``dicom_folder_example.yaml``) with ``data_root`` pointed at a temporary copy.

How rows are matched across layouts:

* native <-> DICOM folder: a native image is the DICOM file whose SOPInstanceUID tag becomes the
  DICOM-folder image id (read here from the native file, not from the export). The DICOM-folder
  root gets the native root's salt file, so the same PatientID gives the same pseudonym.
* native <-> RA2: the RA2 export keeps each patient's first visit with both hands imaged, under an
  opaque ``SYN0001``-style id, and writes no record linking it to the MRN. The patient link is
  therefore the patient's 62-grade score vector (both hands, every site): the test requires each
  RA2 vector to equal exactly one native first-visit vector and the match to be one-to-one. The
  folds then check that link independently: generated folds depend only on the sort order of the raw
  ids, which the export keeps (SYN ids are numbered in MRN order) when every patient is exported.
"""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pydicom
import pytest

from ra_lib.cohort import check, load_cohort, load_manifest
from ra_lib.synthetic import export_dicom_folder, export_ra2, generate_cohort
from ra_lib.synthetic.__main__ import main as synthetic_main

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = {"native": REPO / "data_manifests" / "synthetic_smoke.yaml",
             "ra2": REPO / "data_manifests" / "ra2_example.yaml",
             "dicom": REPO / "data_manifests" / "dicom_folder_example.yaml"}
SALT = ".ra_book_salt"
COVERS = {"left_hand": {"L"}, "right_hand": {"R"}, "both_hands": {"L", "R"}}


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("cohorts")
    native = generate_cohort(base / "synthetic-smoke", profile="smoke", seed=0)
    return {"native": native, "ra2": export_ra2(native, base / "synthetic-smoke-ra2"),
            "dicom": export_dicom_folder(native, base / "synthetic-smoke-dicom")}


@pytest.fixture(scope="module")
def cohorts(roots):
    native = load_cohort(MANIFESTS["native"], data_root=roots["native"])  # creates the native salt
    shutil.copyfile(roots["native"] / SALT, roots["dicom"] / SALT)
    return {"native": native, "ra2": load_cohort(MANIFESTS["ra2"], data_root=roots["ra2"]),
            "dicom": load_cohort(MANIFESTS["dicom"], data_root=roots["dicom"])}


def _digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != SALT}


def _sop_uids(cohort) -> dict[str, str]:
    """Native image id -> the SOPInstanceUID tag of its file."""
    return {image_id: str(pydicom.dcmread(cohort.image_path(image_id), stop_before_pixels=True).SOPInstanceUID)
            for image_id in cohort.images["image_id"]}


def _same(left: pd.DataFrame, right: pd.DataFrame, key: list[str]) -> None:
    pd.testing.assert_frame_equal(left.sort_values(key, ignore_index=True), right.sort_values(key, ignore_index=True))


@pytest.mark.parametrize("layout", ["ra2", "dicom"])
def test_example_manifests_point_at_the_exports_and_check_clean(roots, layout, monkeypatch):
    monkeypatch.delenv("RA_DATA_ROOT", raising=False)
    default_root = load_manifest(MANIFESTS[layout]).resolve_data_root()
    assert default_root == REPO / "_build" / "cohorts" / f"synthetic-smoke-{layout}"
    problems = check(MANIFESTS[layout], data_root=roots[layout])
    assert [str(p) for p in problems if p.severity == "error"] == []


def test_dicom_folder_export_is_a_byte_copy_in_uninformative_folders(roots, cohorts):
    native, dicom = cohorts["native"], cohorts["dicom"]
    uid = _sop_uids(native)
    for image_id in native.images["image_id"]:
        assert dicom.image_path(uid[image_id]).read_bytes() == native.image_path(image_id).read_bytes()
    assert dicom.images["path"].str.fullmatch(r"dicoms/ST\d{4}/SE\d{4}/IM0001").all()
    views = pd.read_csv(roots["dicom"] / "views.csv", dtype=str)
    untagged = native.images[native.images["view"].isin(COVERS) & (native.images["body_part"].fillna("") != "HAND")]
    assert sorted(views["image_id"]) == sorted(untagged["image_id"].map(uid)) and len(views) == 3


def test_dicom_folder_loads_into_the_native_tables(cohorts):
    native, dicom = cohorts["native"], cohorts["dicom"]
    uid = _sop_uids(native)

    def renamed(table: pd.DataFrame) -> pd.DataFrame:
        out = table.copy()
        if "image_id" in out:
            out["image_id"] = out["image_id"].map(uid)
        if "hand_id" in out:
            out["hand_id"] = [f"{uid[h.rsplit(':', 1)[0]]}:{h.rsplit(':', 1)[1]}" for h in out["hand_id"]]
        return out

    _same(renamed(native.images).drop(columns="path"), dicom.images.drop(columns="path"), ["image_id"])
    _same(renamed(native.hands), dicom.hands, ["hand_id"])
    _same(renamed(native.scores), dicom.scores, ["hand_id", "kind", "site"])
    _same(renamed(native.landmarks), dicom.landmarks, ["hand_id", "landmark"])
    _same(renamed(native.readers), dicom.readers, ["reader_id", "hand_id", "kind", "site"])
    _same(native.folds, dicom.folds, ["patient"])
    assert len(dicom.scores) == 16 * 31 and dicom.warnings == []


def _first_visit_images(cohort) -> list[str]:
    """Per patient, the hand images of the earliest study date at which both hands were imaged."""
    hands = cohort.images[cohort.images["view"].isin(COVERS)]
    chosen = []
    for _, visits in hands.groupby("patient"):
        for _, visit in visits.groupby("study_date", sort=True):
            if set().union(*(COVERS[v] for v in visit["view"])) == {"L", "R"}:
                chosen += list(visit["image_id"])
                break
    return chosen


def _score_vectors(scores: pd.DataFrame) -> dict[str, tuple]:
    return {patient: tuple(sorted(zip(group["hand"], group["kind"], group["site"], group["grade"])))
            for patient, group in scores.groupby("patient")}


def test_ra2_export_loads_into_the_native_first_visit_tables(roots, cohorts):
    native, ra2 = cohorts["native"], cohorts["ra2"]
    first = _first_visit_images(native)
    native_scores = native.scores[native.scores["image_id"].isin(first)]
    native_vectors, ra2_vectors = _score_vectors(native_scores), _score_vectors(ra2.scores)
    assert len(set(native_vectors.values())) == len(native_vectors)  # the score vector identifies a patient
    matches = {p: [q for q, v in native_vectors.items() if v == vector] for p, vector in ra2_vectors.items()}
    assert all(len(m) == 1 for m in matches.values()), "an RA2 patient's grades match no (or several) native patients"
    to_native = {p: m[0] for p, m in matches.items()}
    assert sorted(to_native.values()) == sorted(native_vectors)  # one-to-one, every native patient exported

    columns = ["patient", "hand", "kind", "site", "grade"]
    _same(ra2.scores.assign(patient=ra2.scores["patient"].map(to_native))[columns], native_scores[columns],
          ["patient", "hand", "kind", "site"])
    assert ra2.foot_scores.empty and ra2.landmarks.empty and ra2.readers.empty

    native_hands = native.hands[native.hands["image_id"].isin(first)]
    ra2_hands = ra2.hands.assign(patient=ra2.hands["patient"].map(to_native))
    pd.testing.assert_series_equal(ra2_hands.groupby("patient")["hand"].apply(sorted),
                                   native_hands.groupby("patient")["hand"].apply(sorted))
    # hand width: the export cuts a both-hands image where the loader splits it (unrotated images only)
    truth = pd.read_csv(roots["native"] / "truth_images.csv").set_index("image_id")["rot90_k"]
    upright = native_hands[native_hands["image_id"].map(truth) == 0]
    width = dict(zip(zip(ra2_hands["patient"], ra2_hands["hand"]), ra2_hands["x1"] - ra2_hands["x0"]))
    assert [width[p, h] for p, h in zip(upright["patient"], upright["hand"])] == list(upright["x1"] - upright["x0"])

    assert native.folds["patient"].nunique() == len(to_native)  # every native patient has an RA2 row
    _same(ra2.folds.assign(patient=ra2.folds["patient"].map(to_native)), native.folds, ["patient"])


def test_cli_writes_the_same_dicom_folder_export(roots, tmp_path):
    synthetic_main([str(roots["native"]), "--profile", "smoke", "--dicom-folder", str(tmp_path / "again")])
    assert _digests(tmp_path / "again") == _digests(roots["dicom"])
    synthetic_main([str(roots["native"]), "--profile", "smoke", "--dicom-folder", str(tmp_path / "again")])
    assert _digests(tmp_path / "again") == _digests(roots["dicom"])  # a previous export is replaced


def test_dicom_folder_export_refuses_a_foreign_folder(roots, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="holds no DICOM-folder export"):
        export_dicom_folder(roots["native"], tmp_path)
