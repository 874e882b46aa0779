"""A folder of DICOM files (a PACS export): the image table is built from the DICOM tags.

``tables: {dicom_dir: dicoms/, joint_scores: scores.csv, landmarks: ..., views: views.csv}``.

* Every regular file under ``dicom_dir`` (recursively; hidden files and ``DICOMDIR`` skipped)
  must be a DICOM image; anything else is a problem naming the file. Links to folders are not
  followed (a warning each).
* ``image_id`` is the SOPInstanceUID: unique by the DICOM standard, it survives renaming and
  re-export (PACS exports often repeat file names such as ``IM0001`` in every series folder).
  The score, landmark, reader and views tables use it as their ``image_id``.
* ``patient_id`` = PatientID (pseudonymised on loading), ``study_date`` = StudyDate,
  ``body_part`` = BodyPartExamined. Names and birth dates are not read.
* The view is inferred by :func:`infer_view`; a ``views`` table (columns ``image_id, view``)
  overrides it image by image (an image listed twice is an error). Inference is a first guess only: paper 000 shows that tags
  (HAND vs EXTREMITY) do not separate hand radiographs reliably, which is what stage 1 is for.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ra_lib.cohort import schema
from ra_lib.cohort.adapters.tables import RawTables, empty_table, read_csv, read_optional_tables, table_or_empty
from ra_lib.cohort.imageio import image_header
from ra_lib.cohort.manifest import Manifest
from ra_lib.cohort.paths import display_path, is_dir
from ra_lib.core.errors import ImageReadError, Problem

#: BodyPartExamined values taken to show a whole hand (upper case, as DICOM defined terms are).
HAND_BODY_PARTS = ("HAND", "HANDS")
#: ViewPosition values of a scoreable (frontal) hand radiograph; a blank value is accepted too.
FRONTAL_POSITIONS = ("PA", "AP")
LATERALITY_VIEWS = {"L": "left_hand", "R": "right_hand", "B": "both_hands"}
VIEWS_COLUMNS = ("image_id", "view")


def infer_view(header: dict) -> tuple[str, str | None]:
    """The view of one DICOM image from its tags, and a reason when the guess is doubtful.

    Rule: a body part of HAND / HANDS with a frontal (PA, AP or blank) view position gives
    ``left_hand`` / ``right_hand`` / ``both_hands`` for laterality L / R / B (ImageLaterality,
    else Laterality). Everything else is ``other``; a hand image without usable laterality is
    ``other`` with a reason (add it to the views table to use it).
    """
    body_part = header.get("body_part", "").upper()
    if body_part not in HAND_BODY_PARTS:
        return "other", None
    position = header.get("view_position", "").upper()
    if position and position not in FRONTAL_POSITIONS:
        return "other", None
    laterality = (header.get("image_laterality") or header.get("laterality") or "").upper()
    if laterality in LATERALITY_VIEWS:
        return LATERALITY_VIEWS[laterality], None
    return "other", (f"body part {body_part} but laterality {laterality or 'blank'}: view set to 'other'; "
                     "give its view in the views table to use it")


def read(manifest: Manifest, data_root: Path) -> RawTables:
    """Read a DICOM-folder cohort: image table from tags, the other tables from CSVs."""
    problems: list[Problem] = []
    dicom_dir = data_root / manifest.tables["dicom_dir"]
    other = read_optional_tables(manifest, data_root, problems, ("joint_scores", "landmarks", "readers", "folds"))
    images, headers = _image_table(dicom_dir, data_root, problems)
    if manifest.tables.get("views"):
        _apply_views(images, data_root / manifest.tables["views"], problems)
    return RawTables(images=images, scores=table_or_empty(other["joint_scores"], "joint_scores"),
                     landmarks=table_or_empty(other["landmarks"], "landmarks"),
                     readers=table_or_empty(other["readers"], "readers"),
                     folds=other["folds"], headers=headers, problems=problems)


def dicom_files(dicom_dir: Path, problems: list[Problem] | None = None) -> list[Path]:
    """The files of a DICOM folder, sorted: hidden files and folders and ``DICOMDIR`` skipped.

    Symbolic links to folders are not followed (they could loop or leave the data root); each
    one is a warning in ``problems``.
    """
    found = []
    for folder, subfolders, names in os.walk(dicom_dir):
        visible = sorted(d for d in subfolders if not d.startswith("."))
        for name in visible:
            if problems is not None and os.path.islink(os.path.join(folder, name)):
                problems.append(Problem(display_path(Path(folder) / name), None, "dicom_dir",
                                        "symbolic link to a folder not followed; copy the files in instead",
                                        "warning"))
        subfolders[:] = visible
        found += [Path(folder) / n for n in names if not n.startswith(".") and n.upper() != "DICOMDIR"]
    return sorted(found)


def _image_table(dicom_dir: Path, data_root: Path, problems: list[Problem]) -> tuple[pd.DataFrame, dict]:
    if not is_dir(dicom_dir):
        problems.append(Problem(display_path(dicom_dir), None, "dicom_dir", "DICOM folder not found"))
        return empty_table("images"), {}
    rows, headers = [], {}
    for path in dicom_files(dicom_dir, problems):
        shown = display_path(path)
        try:
            header = image_header(path)
        except ImageReadError as exc:
            problems.append(Problem(shown, None, None, exc.reason))
            continue
        if header["format"] != "dicom":
            problems.append(Problem(shown, None, None, f"not a DICOM file ({header['format']})"))
            continue
        view, doubt = infer_view(header)
        if doubt:
            problems.append(Problem(shown, None, "view", doubt, "warning"))
        relative = Path(os.path.relpath(path, data_root)).as_posix()
        headers[relative] = header
        rows.append({"image_id": header["sop_instance_uid"], "path": relative,
                     "patient_id": header["patient_id"], "study_date": header["study_date"],
                     "view": view, "body_part": header["body_part"], "_file": shown, "_row": None})
    if not rows:
        problems.append(Problem(display_path(dicom_dir), None, "dicom_dir", "no DICOM images found"))
        return empty_table("images"), headers
    return pd.DataFrame(rows, columns=empty_table("images").columns), headers


def _apply_views(images: pd.DataFrame, path: Path, problems: list[Problem]) -> None:
    """Override inferred views with the views table (in place)."""
    shown = display_path(path)
    views = read_csv(path, "views", problems)
    if views is None:
        return
    header = [c for c in views.columns if c not in ("_file", "_row")]
    missing = [c for c in VIEWS_COLUMNS if c not in header]
    for column in missing:
        problems.append(Problem(shown, 1, column, "required column missing from the views table"))
    for column in header:
        if column not in VIEWS_COLUMNS:
            problems.append(Problem(shown, 1, column, f"unknown column in the views table; expected "
                                                      f"{', '.join(VIEWS_COLUMNS)}"))
    if missing:
        return
    known = set(images["image_id"])
    position = {image_id: i for i, image_id in zip(images.index, images["image_id"])}
    first_row: dict[str, int] = {}
    for row, image_id, view in zip(views["_row"], views["image_id"], views["view"]):
        if image_id in first_row:
            problems.append(Problem(shown, row, "image_id", f"image {image_id!r} already has a view "
                                                            f"(row {first_row[image_id]})"))
        elif image_id not in known:
            problems.append(Problem(shown, row, "image_id", f"image {image_id!r} is not in the DICOM folder "
                                                            "(ids are SOPInstanceUIDs)"))
        elif view not in schema.VIEWS:
            problems.append(Problem(shown, row, "view", f"unknown view {view!r}; expected one of "
                                                        f"{', '.join(schema.VIEWS)}"))
        else:
            images.loc[position[image_id], "view"] = view
        first_row.setdefault(image_id, row)
