"""Model bundles: round trip, atomic replacement, and clear errors for a bundle that does not match."""
import json

import pytest
import torch

from ra_lib.core import bundles


def tiny_state():
    torch.manual_seed(0)
    return torch.nn.Linear(3, 2).state_dict()


def write(folder, **kwargs):
    args = dict(cohort_fingerprint="abc", headline={"accuracy": 0.9}, extra={"classes": ["a", "b"]})
    args.update(kwargs)
    return bundles.write_bundle(folder, "01_image_selection", {"epochs": 1}, {"net": tiny_state()}, **args)


def edit_record(folder, **changes):
    path = folder / bundles.BUNDLE_FILE
    record = json.loads(path.read_text())
    for key, value in changes.items():
        record[key] = value
    path.write_text(json.dumps(record))


def test_round_trip_keeps_weights_settings_and_metadata(tmp_path):
    folder = write(tmp_path / "bundle")
    bundle = bundles.load_bundle(folder, "01_image_selection")
    assert bundle.settings == {"epochs": 1} and bundle.headline == {"accuracy": 0.9}
    assert bundle.extra == {"classes": ["a", "b"]} and bundle.cohort_fingerprint == "abc"
    assert bundle.versions == {"ra_lib": bundles.ra_lib_version(), "torch": torch.__version__}
    for name, tensor in tiny_state().items():
        assert torch.equal(bundle.state_dict("net")[name], tensor)
    assert len(bundle.fingerprint) == 64


def test_extra_files_are_copied_in_and_checked(tmp_path):
    snapshot = tmp_path / "snapshot.pt"
    snapshot.write_bytes(b"weights")
    folder = write(tmp_path / "bundle", files={"dlc/snapshot.pt": snapshot})
    assert (folder / "dlc" / "snapshot.pt").read_bytes() == b"weights"
    (folder / "dlc" / "snapshot.pt").write_bytes(b"other")
    with pytest.raises(bundles.BundleError, match="dlc/snapshot.pt changed"):
        bundles.load_bundle(folder)


def test_rewriting_replaces_the_bundle_and_leaves_no_temporary_folder(tmp_path):
    write(tmp_path / "bundle", headline={"accuracy": 0.1})
    write(tmp_path / "bundle", headline={"accuracy": 0.2})
    assert bundles.load_bundle(tmp_path / "bundle").headline == {"accuracy": 0.2}
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


def test_a_failed_write_keeps_the_old_bundle(tmp_path):
    write(tmp_path / "bundle")
    with pytest.raises(FileNotFoundError):
        write(tmp_path / "bundle", files={"missing.pt": tmp_path / "nowhere.pt"})
    assert bundles.load_bundle(tmp_path / "bundle").headline == {"accuracy": 0.9}
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


def test_ra_lib_minor_version_mismatch_is_an_error_naming_the_file(tmp_path):
    folder = write(tmp_path / "bundle")
    edit_record(folder, versions={"ra_lib": "99.1.0", "torch": torch.__version__})
    with pytest.raises(bundles.BundleError, match=r"bundle\.json: written by ra_lib 99\.1\.0"):
        bundles.load_bundle(folder)


def test_unknown_format_version_and_other_stage_are_errors(tmp_path):
    folder = write(tmp_path / "bundle")
    with pytest.raises(bundles.BundleError, match="a bundle of stage '01_image_selection', expected stage '05"):
        bundles.load_bundle(folder, "05_overall_score")
    edit_record(folder, format_version=7)
    with pytest.raises(bundles.BundleError, match="unknown bundle format version 7"):
        bundles.load_bundle(folder)


def test_torch_version_difference_is_a_warning(tmp_path):
    folder = write(tmp_path / "bundle")
    edit_record(folder, versions={"ra_lib": bundles.ra_lib_version(), "torch": "1.0.0"})
    with pytest.warns(UserWarning, match="written with torch 1.0.0"):
        bundles.load_bundle(folder)


def test_missing_bundle_names_the_file(tmp_path):
    with pytest.raises(bundles.BundleError, match=r"nothing/bundle\.json is missing"):
        bundles.load_bundle(tmp_path / "nothing")


def test_cohort_fingerprint_ignores_row_order():
    import pandas as pd

    images = pd.DataFrame({"image_id": ["a", "b"], "patient": ["P-1", "P-2"], "view": ["other", "both_hands"]})
    assert bundles.cohort_fingerprint(images) == bundles.cohort_fingerprint(images.iloc[::-1])
