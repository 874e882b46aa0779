"""Paths of a cohort: what leaves the data root, and file tests that never raise."""
import pytest

from fixtures.builders import assert_one, problem_lines
from ra_lib.cohort.paths import is_dir, is_file, outside_reason


@pytest.mark.parametrize("path, reason", [
    ("images/a.dcm", None), ("a/../b.csv", None), ("./a.csv", None),
    ("../a.csv", "leaves the data root"), ("a/../../b", "leaves the data root"), ("/etc/passwd", "is absolute"),
    ("C:\\data\\a.csv", "is absolute"), ("~/a.csv", "starts with '~'"), ("a\x00b", "NUL"),
])
def test_outside_reason(path, reason):
    found = outside_reason(path)
    assert (found is None) if reason is None else (reason in found)


def test_file_tests_say_false_for_names_too_long_or_with_nul(tmp_path):
    (tmp_path / "a.csv").write_text("x")
    assert is_file(tmp_path / "a.csv") and is_dir(tmp_path)
    for odd in (tmp_path / ("x" * 300), tmp_path / "a\x00b"):
        assert not is_file(odd) and not is_dir(odd)


def test_data_root_with_a_name_too_long_is_a_clear_error(native):
    assert_one(problem_lines(native, data_root=native.parent / ("x" * 300)), "data_root:", "data root not found")
