"""Pseudonyms: form, determinism, salt dependence; the salt file; no identifiers in cohort tables."""
import os
import re
import stat

import pytest

from fixtures.builders import BIRTH_DATE, PATIENT_NAME, make_native_cohort
from ra_lib.cohort import load_cohort
from ra_lib.cohort.privacy import load_or_create_salt, pseudonym

PSEUDONYM = r"P-[0-9a-f]{10}"


def test_pseudonym_form_and_determinism():
    value = pseudonym("UAB001", "salt-a")
    assert re.fullmatch(PSEUDONYM, value)
    assert pseudonym("UAB001", "salt-a") == value
    assert pseudonym("UAB002", "salt-a") != value
    assert pseudonym("UAB001", "salt-b") != value


def test_pseudonym_needs_a_salt():
    with pytest.raises(ValueError, match="salt"):
        pseudonym("UAB001", "")


def test_salt_file_created_once_owner_only_then_reused(tmp_path):
    path = tmp_path / "data" / ".ra_book_salt"
    salt = load_or_create_salt(path)
    assert len(salt) == 64 and path.exists()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_salt(path) == salt
    assert load_or_create_salt(tmp_path / "other_salt") != salt


def test_empty_salt_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / ".ra_book_salt"
    path.write_text("\n")
    with pytest.raises(ValueError, match=".ra_book_salt.*empty"):
        load_or_create_salt(path)


def test_cohort_tables_hold_pseudonyms_never_ids_names_or_birth_dates(tmp_path):
    cohort = load_cohort(make_native_cohort(tmp_path, n_patients=3, both_hands=False))
    salt = (cohort.data_root / ".ra_book_salt").read_text().strip()
    assert set(cohort.images["patient"]) == {pseudonym(f"PAT{p:03d}", salt) for p in range(3)}
    for table in (cohort.images, cohort.hands, cohort.scores, cohort.folds):
        assert "patient_id" not in table.columns
        assert table["patient"].str.fullmatch(PSEUDONYM).all()
    text = "".join(t.to_csv() for t in (cohort.images, cohort.hands, cohort.scores, cohort.landmarks,
                                        cohort.readers, cohort.folds))
    assert PATIENT_NAME not in text and BIRTH_DATE not in text and "19500101" not in text
    assert not any(f",PAT{p:03d}," in text for p in range(3))  # ids only inside image ids, never as a value


@pytest.mark.parametrize("target", ["dangling", "loop", "outside"])
def test_salt_file_is_never_read_or_written_through_a_link(tmp_path, target):
    path = tmp_path / "data" / ".ra_book_salt"
    path.parent.mkdir()
    outside = tmp_path / "outside_salt"
    if target == "outside":
        outside.write_text("secret\n")
    link_to = {"dangling": tmp_path / "nowhere", "loop": path, "outside": outside}[target]
    path.symlink_to(link_to)
    with pytest.raises(ValueError, match="symbolic link"):
        load_or_create_salt(path)
    assert not (tmp_path / "nowhere").exists()
