"""What to score: files, folders searched recursively, or a cohort manifest; with patient pseudonyms.

A folder gives every visible file under it (as a DICOM-folder cohort does: hidden files and ``DICOMDIR``
skipped, links to folders not followed); each one is scored or listed as unreadable, never skipped.
Patient identifiers are pseudonymised exactly as ingestion does (:func:`ra_lib.cohort.privacy.pseudonym`
with the data's salt): a manifest's cohort brings its own; for files and folders the DICOM PatientID
is pseudonymised with the salt file given, by default ``.ra_book_salt`` in the first folder (created
if missing). PNG and JPEG files carry no patient.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ra_lib.cohort.adapters.dicom_folder import dicom_files
from ra_lib.cohort.imageio import image_header
from ra_lib.cohort.manifest import DEFAULT_SALT_FILE
from ra_lib.cohort.privacy import load_or_create_salt, pseudonym
from ra_lib.core.bundles import file_sha256
from ra_lib.core.errors import ImageReadError, RaDataError

MANIFEST_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class ScoringInput:
    """One file to score: ``source`` is how the tables name it (relative to its input folder)."""

    path: Path
    source: str
    patient: str | None = None
    laterality: str = ""  # DICOM ImageLaterality (else Laterality): "L", "R", ... or "" when unknown
    image_id: str | None = None  # the cohort's image id (manifest inputs only)
    study_date: str | None = None  # the visit (DICOM StudyDate or the manifest's study_date), when known


def from_cohort(cohort, image_ids: Sequence[str] | None = None) -> list[ScoringInput]:
    """A loaded cohort's images (``image_ids`` of them, in that order), with the cohort's pseudonyms."""
    images = cohort.images.set_index("image_id")
    ids = list(images.index) if image_ids is None else list(image_ids)
    inputs = []
    for image_id in ids:
        path = cohort.image_path(image_id)
        date = images.at[image_id, "study_date"] if "study_date" in images.columns else None
        inputs.append(ScoringInput(path, str(images.at[image_id, "path"]), images.at[image_id, "patient"],
                                   _header(path)[1], image_id, date if isinstance(date, str) and date else None))
    return inputs


def collect(paths: Iterable[str | Path], salt_file: str | Path | None = None) -> list[ScoringInput]:
    """The files of ``paths`` (files, folders, manifests) in order; raise :class:`RaDataError` for a missing path."""
    from ra_lib.cohort import load_cohort

    paths = [Path(p) for p in paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise RaDataError(f"no such file or folder: {', '.join(missing)}")
    found: list[tuple[Path, str]] = []
    inputs: list[ScoringInput] = []
    for path in paths:
        if path.is_dir():
            found += [(f, f"{path.name}/{f.relative_to(path).as_posix()}") for f in dicom_files(path)]
        elif path.suffix.lower() in MANIFEST_SUFFIXES:
            inputs += from_cohort(load_cohort(path))
        else:
            found.append((path, path.name))
    if found:
        salt = _salt(Path(salt_file) if salt_file else _default_salt_file(paths))
        for file, source in found:
            patient_id, side, date = _header(file)
            inputs.append(ScoringInput(file, source, pseudonym(patient_id, salt) if patient_id else None, side,
                                       study_date=date or None))
    return inputs


def _salt(path: Path) -> str:
    try:
        return load_or_create_salt(path)
    except (OSError, ValueError) as error:
        raise RaDataError(f"{path}: salt file unusable ({error}); give another with --salt-file") from None


def _default_salt_file(paths: Sequence[Path]) -> Path:
    folder = next((p for p in paths if p.is_dir()), None)
    return (folder if folder is not None else paths[0].parent) / DEFAULT_SALT_FILE


def _header(path: Path) -> tuple[str, str, str]:
    """A DICOM file's PatientID, laterality (ImageLaterality, else Laterality) and StudyDate; blanks for other
    files."""
    try:
        header = image_header(path)
    except ImageReadError:
        return "", "", ""
    side = header.get("image_laterality") or header.get("laterality") or ""
    return (str(header.get("patient_id") or "").strip(), str(side).strip().upper(),
            str(header.get("study_date") or "").strip())


def content_key(path: Path) -> str:
    """SHA-256 of a file's bytes; of its path when it cannot be opened (it is then listed as unreadable)."""
    try:
        return file_sha256(path)
    except OSError:
        return hashlib.sha256(f"unopenable:{path}".encode()).hexdigest()
