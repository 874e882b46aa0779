"""The DICOM-folder export of a generated cohort: files laid out as a PACS export would be.

``dicoms/ST0001/SE0001/IM0001`` (studies, series and images numbered in export order, every
file named ``IM0001`` because each synthetic series holds one image; no extension, no
identifier in any path) and ``scores.csv``, ``landmarks.csv``, ``readers.csv`` and ``views.csv``
keyed by SOPInstanceUID, as :mod:`ra_lib.cohort.adapters.dicom_folder` reads them.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pydicom

from ra_lib.cohort.adapters.dicom_folder import VIEWS_COLUMNS, infer_view
from ra_lib.cohort.imageio import image_header

DICOM_DIR = "dicoms"
#: The cohort's tables and their names in the export.
TABLES = {"joint_scores.csv": "scores.csv", "landmarks.csv": "landmarks.csv", "readers.csv": "readers.csv"}
VIEWS = "views.csv"


def export_dicom_folder(cohort_dir: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Lay a generated cohort out as a PACS export; return ``out_dir``.

    Every image file is copied byte for byte to ``dicoms/ST{n}/SE{m}/IM0001``: one folder per
    study (StudyInstanceUID) and in it one per image, the generator writing one image per
    series; both are numbered in the order of the cohort's image ids.
    The score, landmark and reader tables are the cohort's with each ``image_id`` replaced by its
    file's SOPInstanceUID. ``views.csv`` lists only the images whose view the tags do not give
    (:func:`~ra_lib.cohort.adapters.dicom_folder.infer_view` disagrees with the cohort's view): hands
    with a blank or EXTREMITY body part, or without laterality. The smoke cohort (seed 0) has
    three, hand images sent with a blank BodyPartExamined; the file is written (header only)
    even when there are none.

    ``out_dir`` must be missing, empty or a previous export, whose ``dicoms/`` and tables are
    replaced (other files, such as the pseudonym salt, are kept). Deterministic: the same
    cohort gives the same files.
    """
    src, out = Path(cohort_dir), Path(out_dir)
    images = pd.read_csv(src / "images.csv", dtype=str, keep_default_na=False)
    _prepare(out)
    uid_of, views, studies, series_count = {}, [], {}, {}
    for image_id, relative, view in sorted(zip(images["image_id"], images["path"], images["view"])):
        path = src / relative
        header = image_header(path)
        if header["format"] != "dicom":
            raise ValueError(f"{path}: image {image_id} is not a DICOM file; a DICOM-folder export needs DICOM")
        study_uid = str(pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["StudyInstanceUID"])
                        .StudyInstanceUID)
        study = studies.setdefault(study_uid, len(studies) + 1)
        series_count[study] = series_count.get(study, 0) + 1
        target = out / DICOM_DIR / f"ST{study:04d}" / f"SE{series_count[study]:04d}" / "IM0001"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        uid_of[image_id] = header["sop_instance_uid"]
        if infer_view(header)[0] != view:
            views.append((header["sop_instance_uid"], view))
    if len(set(uid_of.values())) != len(uid_of):
        raise ValueError(f"{src}: two images share a SOPInstanceUID; they cannot be told apart in a DICOM folder")
    for name, exported in TABLES.items():
        table = pd.read_csv(src / name, dtype=str, keep_default_na=False)
        unknown = sorted(set(table["image_id"]) - set(uid_of))
        if unknown:
            raise ValueError(f"{src / name}: image_id {unknown[0]!r} is not in images.csv")
        table["image_id"] = table["image_id"].map(uid_of)
        table.to_csv(out / exported, index=False, lineterminator="\n")
    pd.DataFrame(views, columns=list(VIEWS_COLUMNS)).to_csv(out / VIEWS, index=False, lineterminator="\n")
    return out


def _prepare(out: Path) -> None:
    """Make ``out`` ready for writing: refuse a foreign non-empty folder, clear a previous export."""
    if out.is_dir() and any(out.iterdir()):
        if not ((out / DICOM_DIR).is_dir() and (out / TABLES["joint_scores.csv"]).is_file()):
            raise FileExistsError(f"{out} is not empty and holds no DICOM-folder export (no {DICOM_DIR}/ and "
                                  f"{TABLES['joint_scores.csv']}); refusing to write into it")
        shutil.rmtree(out / DICOM_DIR)
    out.mkdir(parents=True, exist_ok=True)
