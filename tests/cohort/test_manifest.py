"""Manifests and native cohorts: loading into the contracts, and one bad fixture per problem class."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from fixtures.builders import GAP, hand_array, make_native_cohort, write_manifest, write_png
from ra_lib.cohort import schema
from ra_lib.core.errors import ManifestError
from ra_lib.cohort.manifest import ENV_DATA_ROOT, check, load_cohort, load_manifest, main, split_column
from ra_lib.cohort.privacy import pseudonym

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def native(tmp_path):
    return make_native_cohort(tmp_path, n_patients=3)


def edit_csv(path: Path, change) -> None:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(df)
    df.to_csv(path, index=False)


def messages(manifest, **options) -> list[str]:
    return [str(p) for p in check(manifest, **options)]


def assert_one(found: list[str], *parts: str) -> str:
    """Exactly one problem line contains every part; return it."""
    hits = [line for line in found if all(part in line for part in parts)]
    assert len(hits) == 1, f"expected one problem with {parts}, got {hits} in {found}"
    return hits[0]


# --- manifest file -----------------------------------------------------------------------------

def test_manifest_keys_and_defaults(native):
    manifest = load_manifest(native)
    assert (manifest.cohort, manifest.format, manifest.data_root) == ("tiny-native", "native", "data")
    assert manifest.folds.n_folds == 3 and manifest.salt_file == ".ra_book_salt"
    assert manifest.synthetic is None and manifest.landmark_map == {}


def test_manifest_carries_synthetic_settings(tmp_path):
    path = write_manifest(tmp_path / "m.yaml", cohort="s", format="native", data_root="missing",
                          synthetic={"profile": "quick", "seed": 0}, tables={"images": "images.csv"})
    assert load_manifest(path).synthetic == {"profile": "quick", "seed": 0}
    assert_one(messages(path), "m.yaml:", "data_root:", "data root not found", "generate it first")


def test_manifest_reports_every_key_problem_with_file_line_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "format: xml\n"
        "colour: blue\n"
        "tables: {joint_scores: s.csv, photos: p.csv}\n"
        "folds: {n_folds: 2, shuffle: true}\n"
        "landmark_map: {MCP_II: mcp22}\n"
        "privacy: {salt: x}\n"
    )
    with pytest.raises(ManifestError) as error:
        load_manifest(path)
    found = [str(p) for p in error.value.problems]
    assert_one(found, "bad.yaml: cohort:", "required")
    assert_one(found, "bad.yaml:1: format:", "native, ra2, dicom_folder")
    assert_one(found, "bad.yaml:2: colour:", "unknown key")
    assert_one(found, "bad.yaml:4: folds.n_folds:", ">= 3")
    assert_one(found, "bad.yaml:4: folds.shuffle:", "unknown key")
    assert_one(found, "bad.yaml:5: landmark_map.MCP_II:", "'mcp22' is not a canonical landmark")
    assert_one(found, "bad.yaml:6: privacy.salt:", "unknown key")


def test_native_manifest_table_keys(tmp_path):
    path = write_manifest(tmp_path / "t.yaml", cohort="c", format="native", tables={"scores": "s.csv"})
    with pytest.raises(ManifestError) as error:
        load_manifest(path)
    found = [str(p) for p in error.value.problems]
    assert_one(found, "tables.scores:", "unknown table for format native")
    assert_one(found, "tables.images:", "required for format native")


def test_invalid_yaml_and_missing_manifest(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("cohort: a\ntables: {images: [\n")
    with pytest.raises(ManifestError, match="broken.yaml:3: not valid YAML"):
        load_manifest(path)
    with pytest.raises(ManifestError, match="absent.yaml: manifest not found"):
        load_manifest(tmp_path / "absent.yaml")


# --- loading -----------------------------------------------------------------------------------

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


def test_both_hands_split_at_the_landmark_midline(native):
    hands = load_cohort(native).hands.set_index("hand_id")
    # right hand on the viewer's left (PA): landmarks up to x=31, left hand's from x=60
    assert tuple(hands.loc["PAT000-BH:R", ["x0", "x1"]]) == (0, 46)
    assert tuple(hands.loc["PAT000-BH:L", ["x0", "x1"]]) == (46, 96)
    assert tuple(hands.loc["PAT000-LH:L", ["x0", "x1"]]) == (0, 64)


def test_landmarks_decide_which_hand_is_on_the_viewers_left(native):
    landmarks = native.parent / "data" / "landmarks.csv"
    edit_csv(landmarks, lambda df: df.__setitem__("hand", df["hand"].where(
        ~df["image_id"].str.endswith("BH"), df["hand"].map({"L": "R", "R": "L"}))))
    hands = load_cohort(native).hands.set_index("hand_id")
    assert tuple(hands.loc["PAT000-BH:L", ["x0", "x1"]]) == (0, 46)


def test_both_hands_split_at_the_darkest_column_without_landmarks(tmp_path):
    cohort = load_cohort(make_native_cohort(tmp_path, n_patients=3, with_landmarks=False))
    hands = cohort.hands.set_index("hand_id")
    split = hands.loc["PAT000-BH:R", "x1"]
    assert GAP - 4 <= split < GAP + 4 and hands.loc["PAT000-BH:L", "x0"] == split
    assert split_column(hand_array(both=True).astype(float)) in range(GAP - 4, GAP + 4)


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
    assert_one(messages(native), "images.csv:1: patient_name:", "unknown column", "ignore_columns")
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
    found = messages(native)
    assert_one(found, "landmarks.csv:8: landmark:", "unknown landmark 'MCP_II'", "landmark_map", "(and 11 more row(s))")
    assert_one(found, "landmarks.csv:266: landmark:", "unknown landmark 'fingertip2'")
    manifest = yaml.safe_load(native.read_text())
    write_manifest(native, **manifest, landmark_map={"MCP_II": "mcp2"}, ignore_landmarks=["fingertip2"])
    cohort = load_cohort(native)
    assert "MCP_II" not in set(cohort.landmarks["landmark"]) and "fingertip2" not in set(cohort.landmarks["landmark"])
    assert (cohort.landmarks["landmark"] == "mcp2").sum() == 12


# --- check: one bad fixture per problem class --------------------------------------------------

def test_good_cohort_checks_clean_and_writes_only_the_salt(native, capsys):
    data = native.parent / "data"
    before = sorted(p.relative_to(data) for p in data.rglob("*"))
    assert check(native) == []
    after = sorted(p.relative_to(data) for p in data.rglob("*"))
    assert set(after) - set(before) == {Path(".ra_book_salt")} and set(before) <= set(after)
    assert main(["check", str(native)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: cohort 'tiny-native' (native): 9 images, 12 hands, 3 patients, 372 scores")


def test_missing_image_file(native):
    (native.parent / "data" / "images" / "PAT000-RH.dcm").unlink()
    assert_one(messages(native), "images.csv:3: path:", "file not found", "PAT000-RH.dcm")


def test_truncated_image(native):
    path = native.parent / "data" / "images" / "PAT001-LH.dcm"
    path.write_bytes(path.read_bytes()[:-500])
    assert_one(messages(native), "images.csv:5: path:", "truncated", "PAT001-LH.dcm")


def test_corrupt_pixels_found_only_by_deep_check(native):
    data = native.parent / "data"
    noise = np.random.default_rng(0).integers(0, 255, (64, 64)).astype(np.uint8)
    write_png(data / "images" / "noisy.png", noise)
    raw = bytearray((data / "images" / "noisy.png").read_bytes())
    raw[200:240] = b"\x00" * 40  # damage the compressed pixels, keep the end chunk
    (data / "images" / "noisy.png").write_bytes(bytes(raw))
    edit_csv(data / "images.csv", lambda df: df.__setitem__("path", df["path"].replace(
        "images/PAT002-LH.dcm", "images/noisy.png")))
    assert messages(native) == []
    assert_one(messages(native, deep=True), "images.csv:8: path:", "noisy.png")


def test_duplicate_image_ids(native):
    edit_csv(native.parent / "data" / "images.csv", lambda df: df.__setitem__("image_id", df["image_id"].replace(
        "PAT001-RH", "PAT001-LH")))
    assert_one(messages(native), "images.csv:6: image_id:", "duplicate image_id PAT001-LH (first in row 5)")


def test_duplicate_score_rows(native):
    scores = native.parent / "data" / "joint_scores.csv"
    df = pd.read_csv(scores, dtype=str, keep_default_na=False)
    pd.concat([df, df.iloc[[3]]]).to_csv(scores, index=False)
    assert_one(messages(native), f"joint_scores.csv:{len(df) + 2}: site:", "duplicate score for", "(first in row 5)")


def test_unknown_site_kind_and_hand(native):
    def damage(df):
        df.loc[0, "site"] = "mcp9"
        df.loc[1, "kind"] = "swelling"
        df.loc[2, "hand"] = "X"
    edit_csv(native.parent / "data" / "joint_scores.csv", damage)
    found = messages(native)
    assert_one(found, "joint_scores.csv:2: site:", "unknown hand erosion site 'mcp9'")
    assert_one(found, "joint_scores.csv:3: kind:", "unknown kind 'swelling'")
    assert_one(found, "joint_scores.csv:4: hand:", "hand 'X' must be L or R")


def test_unknown_column(native):
    edit_csv(native.parent / "data" / "joint_scores.csv", lambda df: df.insert(5, "reader", "A"))
    assert_one(messages(native), "joint_scores.csv:1: reader:", "unknown column in the joint_scores table")


def test_missing_required_column(native):
    edit_csv(native.parent / "data" / "joint_scores.csv", lambda df: df.drop(columns="grade", inplace=True))
    assert_one(messages(native), "joint_scores.csv:1: grade:", "required column missing")


def test_grades_out_of_range_or_not_whole(native):
    scores = native.parent / "data" / "joint_scores.csv"

    def damage(df):
        erosion = df.index[(df["kind"] == "erosion")][0]
        jsn = df.index[(df["kind"] == "jsn")][0]
        df.loc[erosion, "grade"], df.loc[jsn, "grade"] = "6", "5"
        df.loc[erosion + 1, "grade"], df.loc[erosion + 2, "grade"] = "2.5", "-1"
    edit_csv(scores, damage)
    found = messages(native)
    assert_one(found, "joint_scores.csv:2: grade:", "grade 6 out of range 0-5 for hand erosion ip")
    assert_one(found, "grade:", "grade 5 out of range 0-4 for hand jsn pip2")
    assert_one(found, "joint_scores.csv:3: grade:", "'2.5' is not a whole number")
    assert_one(found, "joint_scores.csv:4: grade:", "grade -1 out of range")


def test_eroded_pct_range_and_kind(native):
    def damage(df):
        df.loc[0, "eroded_pct"] = "140"
        df.loc[df.index[df["kind"] == "jsn"][0], "eroded_pct"] = "10"
    edit_csv(native.parent / "data" / "joint_scores.csv", damage)
    found = messages(native)
    assert_one(found, "joint_scores.csv:2: eroded_pct:", "from 0 to 100")
    assert_one(found, "eroded_pct:", "erosion rows only")


def test_score_for_unknown_image_or_hand_not_on_image(native):
    def damage(df):
        df.loc[0, "image_id"] = "PAT404-LH"
        df.loc[df.index[df["image_id"] == "PAT001-LH"][0], "hand"] = "R"
    edit_csv(native.parent / "data" / "joint_scores.csv", damage)
    found = messages(native)
    assert_one(found, "joint_scores.csv:2: image_id:", "image 'PAT404-LH' is not in the images table")
    assert_one(found, "hand:", "hand R is not on image 'PAT001-LH' (view left_hand)")


def test_landmark_outside_the_image(native):
    def damage(df):
        df.loc[0, "x"] = "64"
        df.loc[1, "y"] = "-3"
    edit_csv(native.parent / "data" / "landmarks.csv", damage)
    found = messages(native)
    assert_one(found, "landmarks.csv:2: x:", "landmark (64, 10) is outside image 'PAT000-LH' (64 x 64 pixels)")
    assert_one(found, "landmarks.csv:3: y:", "outside image")


def test_unknown_view_and_bad_date(native):
    def damage(df):
        df.loc[0, "view"] = "lateral"
        df.loc[1, "study_date"] = "2020-13-40"
    edit_csv(native.parent / "data" / "images.csv", damage)
    found = messages(native)
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


def test_command_line_prints_one_problem_per_line_and_exits_1(native, capsys):
    (native.parent / "data" / "images" / "PAT000-RH.dcm").unlink()
    assert main(["check", str(native)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert any(line.endswith("images/PAT000-RH.dcm") and ":3: path: file not found" in line for line in out)
    assert out[-1] == "1 error(s), 0 warning(s)"


def test_module_entry_point_has_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "ra_lib.cohort", "check", str(tmp_path / "none.yaml")],
                            cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 1
    assert "none.yaml: manifest not found" in result.stdout and "Traceback" not in result.stdout + result.stderr


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


def test_home_folder_in_data_root_is_expanded(native, monkeypatch):
    monkeypatch.delenv(ENV_DATA_ROOT, raising=False)
    monkeypatch.setenv("HOME", str(native.parent))
    manifest = yaml.safe_load(native.read_text())
    write_manifest(native.parent / "elsewhere" / "m.yaml", **{**manifest, "data_root": "~/data"})
    assert load_cohort(native.parent / "elsewhere" / "m.yaml").data_root == native.parent / "data"


def test_reader_grades_and_image_id_separator(native):
    data = native.parent / "data"
    edit_csv(data / "readers.csv", lambda df: df.__setitem__("grade", ["9"] + list(df["grade"][1:])))
    edit_csv(data / "images.csv", lambda df: df.__setitem__("image_id", df["image_id"].replace("PAT002-RH", "PAT:2")))
    found = messages(native)
    assert_one(found, "readers.csv:2: grade:", "grade 9 out of range 0-5 for hand erosion mcp2")
    assert_one(found, "images.csv:9: image_id:", "may not contain ':'")
