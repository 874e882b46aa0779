"""The YAML manifest: keys, defaults, file / line / key of every problem, and limits on hostile YAML."""
from pathlib import Path

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
