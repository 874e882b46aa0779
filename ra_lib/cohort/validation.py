"""Checking a whole cohort: every table through its adapter, every image header, the folds and the salt.

:func:`validate` never stops at the first problem and never raises for bad data: every
problem (a file, a row, an image) becomes a :class:`~ra_lib.core.errors.Problem`, and the
checked tables come back with the real patient ids still in them (pseudonymising is
:func:`ra_lib.cohort.load_cohort`'s job).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ra_lib.cohort import schema
from ra_lib.cohort.adapters import read_tables
from ra_lib.cohort.adapters.tables import RawTables
from ra_lib.cohort.folds import patient_folds
from ra_lib.cohort.hands import split_by_landmarks
from ra_lib.cohort.imageio import image_header, read_image
from ra_lib.cohort.manifest import MIN_FOLDS, Manifest
from ra_lib.cohort.paths import display_path, is_dir, outside_reason
from ra_lib.cohort.privacy import load_or_create_salt, pseudonym
from ra_lib.cohort.row_checks import (check_grades, check_landmarks, flag, flag_duplicates, flag_each_value,
                                      flag_missing, numbers, whole)
from ra_lib.cohort.sites import HAND_SITES
from ra_lib.core.errors import ImageReadError, Problem

#: Highest fold number a folds table may give.
MAX_FOLD = 999


@dataclass
class CheckedTables:
    """The checked tables (real patient ids still in them) and what assembling the cohort needs."""

    manifest: Manifest
    data_root: Path
    salt: str
    images: pd.DataFrame
    scores: pd.DataFrame
    foot_scores: pd.DataFrame
    landmarks: pd.DataFrame
    readers: pd.DataFrame
    folds: pd.DataFrame  # patient_id, fold


def validate(manifest: Manifest, data_root: str | Path | None = None,
             deep: bool = False) -> tuple[CheckedTables | None, list[Problem]]:
    """Check every table, image header (``deep``: every image's pixels), fold and the salt; list every problem.

    The salt file is created only once the cohort's images are found; ``None`` tables when the
    data root itself is missing.
    """
    root = manifest.resolve_data_root(data_root)
    if not is_dir(root):
        hint = (" (a generated cohort: generate it first, see its synthetic: settings)"
                if manifest.synthetic else "")
        return None, [manifest.problem("data_root", f"data root not found: {display_path(root)}{hint}")]
    raw = read_tables(manifest, root)
    problems = list(raw.problems)
    images = _check_images(raw, root, deep, problems)
    if images.empty and not any(p.severity == "error" for p in problems):
        problems.append(manifest.problem("tables", "the cohort has no images"))
    scores = check_grades(raw.scores, images, problems, "joint_scores")
    _check_complete_hands(scores, images, problems)
    foot_scores = check_grades(raw.foot_scores, images, problems, "foot_scores", foot=True)
    readers = check_grades(raw.readers, images, problems, "readers")
    landmarks = check_landmarks(raw.landmarks, images, manifest, problems)
    _check_hand_split(images, landmarks, problems)
    folds = _check_folds(raw.folds, images, manifest, root, problems)
    salt = _salt(manifest, root, problems) if not images.empty else ""
    if salt:
        _check_pseudonyms(images, salt, manifest, problems)
    problems.sort(key=lambda p: (p.file, p.row or 0))  # stable: one file's problems together, by row
    return CheckedTables(manifest, root, salt, images, scores, foot_scores, landmarks, readers, folds), problems


# --- images ------------------------------------------------------------------------------------

def _check_images(raw: RawTables, root: Path, deep: bool, problems: list[Problem]) -> pd.DataFrame:
    df = raw.images.copy()
    complete = flag_missing(problems, df, ("image_id", "path", "patient_id", "view"))
    flag(problems, df, df["image_id"].str.contains(":", regex=False), "image_id",
         "image ids may not contain ':' (it separates image and hand in hand ids)")
    flag(problems, df, df["image_id"].str.contains(r"[\x00-\x1f\x7f]"), "image_id",
         lambda r: f"image id {r['image_id']!r} contains a control character")
    flag_duplicates(problems, df, ["image_id"], df["image_id"] != "", "image_id")
    flag_each_value(problems, df, (df["view"] != "") & ~df["view"].isin(schema.VIEWS), "view",
                    lambda r: f"unknown view {r['view']!r}; expected one of {', '.join(schema.VIEWS)}")
    outside = df["path"].map(lambda p: outside_reason(p) if p else None)
    flag(problems, df, outside.notna(), "path", lambda r: f"path {r['path']!r} {outside[r.name]}")
    flag_duplicates(problems, df, ["path"], (df["path"] != "") & outside.isna(), "path")
    df["study_date"] = _check_dates(df, problems)
    widths, heights = [], []
    for index, relative, readable in zip(df.index, df["path"], outside.isna()):
        width = height = np.nan
        if relative and readable:
            width, height = _image_size(df.loc[[index]], raw.headers.get(relative), root / relative, deep, problems)
        widths.append(width)
        heights.append(height)
    df["width"], df["height"] = widths, heights
    return df[complete & outside.isna()]


def _image_size(row: pd.DataFrame, header: dict | None, path: Path, deep: bool,
                problems: list[Problem]) -> tuple[float, float]:
    """Width and height from one image's header (read unless given), its warnings flagged at ``row``."""
    try:
        header = header or image_header(path)
        notes = list(header.get("warnings", ()))
        if deep:
            notes += [n for n in read_image(path)[1].get("warnings", ()) if n not in notes]
    except ImageReadError as exc:
        flag(problems, row, [True], "path", f"{exc.reason}: {display_path(exc.path)}")
        return np.nan, np.nan
    for note in notes:
        flag(problems, row, [True], "path", f"{note}: {display_path(path)}", "warning")
    return header["width"], header["height"]


def _check_dates(df: pd.DataFrame, problems: list[Problem]) -> pd.Series:
    """Study dates as ``YYYY-MM-DD``: ``YYYYMMDD`` and ``YYYY-MM-DD`` accepted, old ``YYYY.MM.DD`` with a warning."""
    dotted = df["study_date"].str.fullmatch(r"\d{4}\.\d{2}\.\d{2}")
    dates = df["study_date"].str.replace(".", "-", regex=False).where(dotted, df["study_date"]).map(_iso_date)
    flag(problems, df, dates.isna(), "study_date",
         lambda r: f"study_date {r['study_date']!r} is not a date (YYYYMMDD or YYYY-MM-DD)")
    flag(problems, df, dotted & dates.notna(), "study_date",
         lambda r: f"study_date {r['study_date']!r} in the old YYYY.MM.DD form, read as {dates[r.name]}", "warning")
    return dates.fillna("")


def _iso_date(text: str) -> str | None:
    """``YYYYMMDD`` or ``YYYY-MM-DD`` as ``YYYY-MM-DD``; blank stays blank; anything else is ``None``."""
    if text == "":
        return ""
    compact = text.replace("-", "") if len(text) == 10 and text[4] == text[7] == "-" else text
    if len(compact) != 8 or not compact.isascii() or not compact.isdigit():
        return None
    try:
        return pd.Timestamp(f"{compact[:4]}-{compact[4:6]}-{compact[6:]}").strftime("%Y-%m-%d")
    except ValueError:
        return None


# --- scores and hands --------------------------------------------------------------------------

def _check_complete_hands(scores: pd.DataFrame, images: pd.DataFrame, problems: list[Problem]) -> None:
    """Warn about a hand scored at some but not all of the catalogue's sites (deleted rows, a partial export)."""
    views = dict(zip(images["image_id"], images["view"]))
    on_image = [h in schema.VIEW_TO_HANDS.get(views.get(i), ()) for i, h in zip(scores["image_id"], scores["hand"])]
    valid = scores[(scores["grade"] >= 0) & np.array(on_image, dtype=bool)]
    catalogue = {(s.kind, s.site) for s in HAND_SITES}
    for (image_id, hand), group in valid.groupby(["image_id", "hand"], sort=False):
        missing = sorted(catalogue - set(zip(group["kind"], group["site"])))
        if missing:
            shown = ", ".join(f"{k} {s}" for k, s in missing[:4]) + (" ..." if len(missing) > 4 else "")
            flag(problems, group.iloc[[0]], [True], "site",
                 f"hand {hand} of image {image_id!r} is scored at {len(catalogue) - len(missing)} of "
                 f"{len(catalogue)} sites (missing: {shown})", "warning")


def _check_hand_split(images: pd.DataFrame, landmarks: pd.DataFrame, problems: list[Problem]) -> None:
    """Both-hands images whose landmarks would leave one hand with no columns."""
    widths = dict(zip(images["image_id"], images["width"]))
    both = set(images.loc[images["view"] == "both_hands", "image_id"])
    points = landmarks[landmarks["image_id"].isin(both) & np.isfinite(landmarks["x"].astype(float))]
    for image_id, group in points.groupby("image_id"):
        split, _ = split_by_landmarks(group)
        width = widths.get(image_id)
        if split is not None and np.isfinite(width) and not 0 < split < width:
            flag(problems, group.iloc[[0]], [True], "x",
                 f"the landmarks of image {image_id!r} put the split between its hands at column {split} of "
                 f"{int(width)}: one hand would have no pixels")


# --- folds and privacy -------------------------------------------------------------------------

def _check_folds(df: pd.DataFrame | None, images: pd.DataFrame, manifest: Manifest, root: Path,
                 problems: list[Problem]) -> pd.DataFrame:
    """Given folds checked (patient-disjoint, every patient in one); else folds generated from the spec."""
    patients = sorted(set(images["patient_id"]) - {""})
    if df is None:
        if patients and len(patients) < manifest.folds.n_folds:
            problems.append(manifest.problem("folds.n_folds", f"{len(patients)} patient(s) cannot fill "
                                                              f"{manifest.folds.n_folds} folds"))
            return pd.DataFrame(columns=["patient_id", "fold"])
        if not patients:
            return pd.DataFrame(columns=["patient_id", "fold"])
        folds = patient_folds(patients, manifest.folds.n_folds, manifest.folds.seed)
        return folds.rename(columns={"patient": "patient_id"})
    shown = display_path(root / manifest.tables["folds"])
    df = df.copy()
    flag_missing(problems, df, schema.FOLD_COLUMNS)
    fold = numbers(df["fold"])
    valid = whole(fold, 0, MAX_FOLD)
    flag(problems, df, (df["fold"] != "") & ~valid, "fold",
         lambda r: f"fold {r['fold']!r} must be a whole number from 0 to {MAX_FOLD}")
    df = df[valid & (df["patient_id"] != "")].assign(fold=fold[valid].astype(int))
    for _, group in df.groupby("patient_id"):
        if group["fold"].nunique() > 1:  # rows, not ids, in the message: no identifier printed
            problems.append(Problem(shown, int(group["_row"].iloc[0]), "fold",
                                    f"a patient is in two folds ({sorted(set(group['fold']))}, rows "
                                    f"{', '.join(str(r) for r in group['_row'])}); folds must be patient-disjoint"))
    missing = sorted(set(patients) - set(df["patient_id"]))
    first_image = images.drop_duplicates("patient_id").set_index("patient_id")["image_id"]
    for patient in missing:
        problems.append(Problem(shown, None, "patient_id",
                                f"the patient of image {first_image[patient]!r} has no fold"))
    extra = df[~df["patient_id"].isin(patients)]
    flag(problems, extra, [True] * len(extra), "patient_id", "patient has no image in the cohort", "warning")
    n_folds = df["fold"].nunique()
    if len(df) and n_folds < MIN_FOLDS:
        problems.append(Problem(shown, None, "fold", f"{n_folds} fold(s); train / validation / test "
                                                     f"rotation needs at least {MIN_FOLDS}"))
    return df.drop_duplicates("patient_id")[["patient_id", "fold"]]


def _salt(manifest: Manifest, root: Path, problems: list[Problem]) -> str:
    """The cohort's salt, created if missing, read only inside the data root and never through a link."""
    path = root / manifest.salt_file
    shown = display_path(path)
    try:
        if not path.parent.resolve().is_relative_to(root.resolve()):
            problems.append(Problem(shown, None, None, "salt file would lie outside the data root (a folder "
                                                       "on its path is a link)"))
            return ""
        return load_or_create_salt(path)
    except (OSError, ValueError, RuntimeError) as exc:  # RuntimeError: a symlink loop on resolving
        problems.append(Problem(shown, None, None, f"salt file unusable: {exc}"))
        return ""


def _check_pseudonyms(images: pd.DataFrame, salt: str, manifest: Manifest, problems: list[Problem]) -> None:
    patients = sorted(set(images["patient_id"]) - {""})
    if len({pseudonym(p, salt) for p in patients}) < len(patients):
        problems.append(manifest.problem("privacy.salt_file", "two patients share a pseudonym under this "
                                                              "salt; delete the salt file to draw a new one"))
