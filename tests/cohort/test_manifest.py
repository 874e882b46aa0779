"""The YAML manifest: keys, defaults, file / line / key of every problem, and limits on hostile YAML."""
import pytest
import yaml

from fixtures.builders import assert_one, problem_lines, write_manifest
from ra_lib.cohort import load_cohort, load_manifest
from ra_lib.cohort.manifest import ENV_DATA_ROOT, MAX_MANIFEST_BYTES
from ra_lib.core.errors import ManifestError


def test_manifest_keys_and_defaults(native):
    manifest = load_manifest(native)
    assert (manifest.cohort, manifest.format, manifest.data_root) == ("tiny-native", "native", "data")
    assert manifest.folds.n_folds == 3 and manifest.salt_file == ".ra_book_salt"
    assert manifest.synthetic is None and manifest.landmark_map == {}


def test_manifest_carries_synthetic_settings(tmp_path):
    path = write_manifest(tmp_path / "m.yaml", cohort="s", format="native", data_root="missing",
                          synthetic={"profile": "quick", "seed": 0}, tables={"images": "images.csv"})
    assert load_manifest(path).synthetic == {"profile": "quick", "seed": 0}
    assert_one(problem_lines(path), "m.yaml:", "data_root:", "data root not found", "generate it first")


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


def test_home_folder_in_data_root_is_expanded(native, monkeypatch):
    monkeypatch.delenv(ENV_DATA_ROOT, raising=False)
    monkeypatch.setenv("HOME", str(native.parent))
    manifest = yaml.safe_load(native.read_text())
    write_manifest(native.parent / "elsewhere" / "m.yaml", **{**manifest, "data_root": "~/data"})
    assert load_cohort(native.parent / "elsewhere" / "m.yaml").data_root == native.parent / "data"


# --- hostile or mistaken YAML ------------------------------------------------------------------

def _problems(path) -> list[str]:
    with pytest.raises(ManifestError) as error:
        load_manifest(path)
    return [str(p) for p in error.value.problems]


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16"])
def test_manifest_that_is_not_utf8_is_a_clear_error(tmp_path, encoding):
    path = tmp_path / "m.yaml"
    path.write_bytes("cohort: Zürich\nformat: native\ntables: {images: i.csv}\n".encode(encoding))
    assert_one(_problems(path), "m.yaml:", "not UTF-8 text", "save the manifest as UTF-8")


def test_duplicate_key_is_an_error_not_a_silent_replacement(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("cohort: c\nformat: native\ntables: {images: i.csv, joint_scores: s.csv}\n"
                    "tables: {images: i.csv}\n")
    assert_one(_problems(path), "m.yaml:4: tables:", "duplicate key (first on line 3)")


@pytest.mark.parametrize("text, message", [
    ("cohort: " + "[" * 20000 + "]" * 20000 + "\n", "nested deeper than 32"),
    ("a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n"
                                                      for i in range(8)), "more than 16 aliases"),
    ("cohort: c\n" + "description: x\n" * 10 + "#" * MAX_MANIFEST_BYTES, "at most"),
])
def test_yaml_nesting_aliases_and_size_are_bounded(tmp_path, text, message):
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    assert_one(_problems(path), "bomb.yaml", message)


def test_fold_seed_and_paths_leaving_the_data_root(tmp_path):
    path = write_manifest(tmp_path / "m.yaml", cohort="c", format="native",
                          tables={"images": "../elsewhere/images.csv", "joint_scores": "/etc/scores.csv"},
                          folds={"n_folds": 3, "seed": -1}, privacy={"salt_file": "../salt"})
    found = _problems(path)
    assert_one(found, "folds.seed:", "whole number >= 0 (got -1)")
    assert_one(found, "tables.images:", "leaves the data root")
    assert_one(found, "tables.joint_scores:", "is absolute")
    assert_one(found, "privacy.salt_file:", "leaves the data root", "the salt stays in the data root")


def test_wrong_types_are_errors_even_when_falsy_or_unhashable(tmp_path):
    path = write_manifest(tmp_path / "m.yaml", cohort="c", format={"salt_file": "x"}, tables={"images": "i.csv"},
                          privacy="", folds=0, ignore_columns="")
    found = _problems(path)
    assert_one(found, "format:", "required, one of native")
    assert_one(found, "privacy:", "must be a mapping")
    assert_one(found, "folds:", "must be a mapping")
    assert_one(found, "ignore_columns:", "must be a list of strings")
