"""Cohort manifests: one YAML file says where a cohort is and how it is laid out.

:func:`load_manifest` reads and validates the YAML; :func:`load_cohort` reads the cohort
through its format's adapter (:mod:`ra_lib.cohort.adapters`), checks every value, replaces patient
identifiers by pseudonyms and returns a :class:`Cohort` whose tables follow the ``COHORT_*``
contracts of :mod:`ra_lib.cohort.schema`; :func:`check` reports every problem at once without loading.
Command line: ``python -m ra_lib.cohort check MANIFEST [--deep] [--data-root DIR]``.

Data root precedence: the ``data_root`` argument, then the ``RA_DATA_ROOT`` environment
variable, then the manifest's ``data_root`` (relative to the manifest file).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import yaml
from PIL import Image

from ra_lib.cohort import schema
from ra_lib.cohort.adapters import (FORMAT_TABLES, FORMATS, GRADE_SOURCE, RawTables, display_path, empty_table,
                             read_tables)
from ra_lib.core.errors import ImageReadError, ManifestError, Problem
from ra_lib.cohort.folds import patient_folds
from ra_lib.cohort.imageio import image_header, read_image
from ra_lib.cohort.privacy import load_or_create_salt, pseudonym
from ra_lib.cohort.sites import FOOT_SITES, HAND_LANDMARKS, HAND_SITES, HANDS, KINDS

ENV_DATA_ROOT = "RA_DATA_ROOT"
DEFAULT_SALT_FILE = ".ra_book_salt"
#: Columns of the cohort's ``foot_scores`` table (RA2 feet; never mixed into the per-hand scores).
COHORT_FOOT_SCORE_COLUMNS = ("image_id", "patient", "foot", "kind", "site", "grade")
_TOP_KEYS = ("cohort", "format", "data_root", "description", "synthetic", "tables", "landmark_map",
             "ignore_landmarks", "ignore_columns", "folds", "privacy")
_MIN_FOLDS = 3  # train / validation / test rotation


@dataclass(frozen=True)
class FoldSpec:
    """How to make patient folds when the cohort gives none."""

    n_folds: int = 8
    seed: int = 0


@dataclass(frozen=True)
class Manifest:
    """A validated cohort manifest (see ``book/use_your_own_data.md`` for every key)."""

    path: Path
    cohort: str
    format: str
    tables: dict
    data_root: str = "."
    description: str = ""
    synthetic: dict | None = None
    landmark_map: dict = field(default_factory=dict)
    ignore_landmarks: tuple[str, ...] = ()
    ignore_columns: tuple[str, ...] = ()
    folds: FoldSpec = FoldSpec()
    salt_file: str = DEFAULT_SALT_FILE
    key_lines: dict = field(default_factory=dict, repr=False, compare=False)

    def resolve_data_root(self, data_root: str | Path | None = None) -> Path:
        """The data root (absolute, ``~`` expanded): ``data_root`` argument, else ``$RA_DATA_ROOT``, else the
        manifest's ``data_root`` relative to the manifest file."""
        if data_root is not None:
            root = Path(data_root).expanduser()
        elif os.environ.get(ENV_DATA_ROOT):
            root = Path(os.environ[ENV_DATA_ROOT]).expanduser()
        else:
            root = self.path.parent / Path(self.data_root).expanduser()
        return Path(os.path.normpath(root.absolute()))

    def problem(self, key: str, message: str) -> Problem:
        """A problem with one manifest key, at its line."""
        return Problem(display_path(self.path), self.key_lines.get(key), key, message)


# --- manifest ----------------------------------------------------------------------------------

def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest; raise :class:`ManifestError` naming the file, line and key of every problem."""
    path = Path(path)
    shown = display_path(path)
    if not path.is_file():
        raise ManifestError([Problem(shown, None, None, "manifest not found")])
    text = path.read_text()
    try:
        lines = _key_lines(yaml.compose(text, Loader=yaml.SafeLoader))
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ManifestError([Problem(shown, mark.line + 1 if mark else None, None,
                                     f"not valid YAML: {getattr(exc, 'problem', None) or exc}")]) from None
    if not isinstance(data, dict):
        raise ManifestError([Problem(shown, None, None, "a manifest must be a YAML mapping of keys")])
    problems: list[Problem] = []

    def bad(key: str, message: str) -> None:
        problems.append(Problem(shown, lines.get(key), key, message))

    for key in data:
        if key not in _TOP_KEYS:
            bad(str(key), f"unknown key; expected one of {', '.join(_TOP_KEYS)}")
    cohort = data.get("cohort")
    if not isinstance(cohort, str) or not cohort.strip():
        bad("cohort", "required: the cohort's name")
    fmt = data.get("format")
    if fmt not in FORMATS:
        bad("format", f"required, one of {', '.join(FORMATS)} (got {fmt!r})")
    for key in ("data_root", "description"):
        if key in data and not isinstance(data[key], str):
            bad(key, "must be a string")
    if data.get("synthetic") is not None and not isinstance(data["synthetic"], dict):
        bad("synthetic", "must be a mapping such as {profile: quick, seed: 0}")
    tables = _check_tables(data.get("tables"), fmt, bad)
    landmark_map = _check_landmark_map(data.get("landmark_map") or {}, bad)
    ignore_landmarks = _string_list(data, "ignore_landmarks", bad)
    ignore_columns = _string_list(data, "ignore_columns", bad)
    folds = _check_fold_spec(data.get("folds") or {}, bad)
    salt_file = _check_privacy(data.get("privacy") or {}, bad)
    if problems:
        raise ManifestError(problems)
    return Manifest(path=path, cohort=cohort.strip(), format=fmt, tables=tables,
                    data_root=data.get("data_root", "."), description=data.get("description", ""),
                    synthetic=data.get("synthetic"), landmark_map=landmark_map,
                    ignore_landmarks=ignore_landmarks, ignore_columns=ignore_columns, folds=folds,
                    salt_file=salt_file, key_lines=lines)


def _key_lines(node, prefix: str = "") -> dict[str, int]:
    """``"key"`` / ``"key.subkey"`` -> 1-based line of that key in the YAML text."""
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            name = f"{prefix}{key_node.value}"
            lines[name] = key_node.start_mark.line + 1
            lines.update(_key_lines(value_node, f"{name}."))
    return lines


def _check_tables(tables, fmt, bad) -> dict:
    if not isinstance(tables, dict):
        bad("tables", "required: a mapping of table names to paths relative to data_root")
        return {}
    if fmt not in FORMAT_TABLES:
        return tables
    required, allowed = FORMAT_TABLES[fmt]
    for key in tables:
        if key not in allowed:
            bad(f"tables.{key}", f"unknown table for format {fmt}; expected one of {', '.join(allowed)}")
    for key in required:
        if not tables.get(key):
            bad(f"tables.{key}", f"required for format {fmt}")
    for key, value in tables.items():
        if value is not None and not isinstance(value, str):
            bad(f"tables.{key}", "must be a path (string) or null")
    return dict(tables)


def _check_landmark_map(landmark_map, bad) -> dict:
    if not isinstance(landmark_map, dict):
        bad("landmark_map", "must be a mapping of table names to canonical landmark names")
        return {}
    for name, canonical in landmark_map.items():
        if canonical not in HAND_LANDMARKS:
            bad(f"landmark_map.{name}", f"{canonical!r} is not a canonical landmark; expected one of "
                                        f"{', '.join(HAND_LANDMARKS)}")
    return {str(k): str(v) for k, v in landmark_map.items()}


def _string_list(data: dict, key: str, bad) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        bad(key, "must be a list of strings")
        return ()
    return tuple(value)


def _check_fold_spec(spec, bad) -> FoldSpec:
    if not isinstance(spec, dict):
        bad("folds", "must be a mapping such as {n_folds: 8, seed: 0}")
        return FoldSpec()
    for key in spec:
        if key not in ("n_folds", "seed"):
            bad(f"folds.{key}", "unknown key; expected n_folds, seed")
    n_folds, seed = spec.get("n_folds", 8), spec.get("seed", 0)
    if not isinstance(n_folds, int) or isinstance(n_folds, bool) or n_folds < _MIN_FOLDS:
        bad("folds.n_folds", f"must be a whole number >= {_MIN_FOLDS} (got {n_folds!r})")
    if not isinstance(seed, int) or isinstance(seed, bool):
        bad("folds.seed", f"must be a whole number (got {seed!r})")
    return FoldSpec(n_folds, seed)


def _check_privacy(privacy, bad) -> str:
    if not isinstance(privacy, dict):
        bad("privacy", "must be a mapping such as {salt_file: .ra_book_salt}")
        return DEFAULT_SALT_FILE
    for key in privacy:
        if key != "salt_file":
            bad(f"privacy.{key}", "unknown key; expected salt_file")
    salt_file = privacy.get("salt_file", DEFAULT_SALT_FILE)
    if not isinstance(salt_file, str) or not salt_file:
        bad("privacy.salt_file", "must be a file name relative to data_root")
        return DEFAULT_SALT_FILE
    return salt_file


# --- cohort ------------------------------------------------------------------------------------

@dataclass
class Cohort:
    """A loaded, pseudonymised cohort; tables follow the ``COHORT_*`` contracts of :mod:`ra_lib.cohort.schema`."""

    manifest: Manifest
    data_root: Path
    images: pd.DataFrame
    hands: pd.DataFrame
    scores: pd.DataFrame
    landmarks: pd.DataFrame
    readers: pd.DataFrame
    folds: pd.DataFrame
    foot_scores: pd.DataFrame
    warnings: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._paths = dict(zip(self.images["image_id"], self.images["path"]))
        self._hands = {h: (i, s, x0, x1) for h, i, s, x0, x1 in
                       zip(self.hands["hand_id"], self.hands["image_id"], self.hands["hand"],
                           self.hands["x0"], self.hands["x1"])}

    def image_path(self, image_id: str) -> Path:
        """Absolute path of one image file."""
        if image_id not in self._paths:
            raise KeyError(f"image {image_id!r} is not in cohort {self.manifest.cohort!r}")
        return self.data_root / self._paths[image_id]

    def load_image(self, image_id: str) -> np.ndarray:
        """The whole radiograph as float32 in [0, 1], bone bright (see :func:`ra_lib.cohort.imageio.read_image`)."""
        return read_image(self.image_path(image_id))[0]

    def load_hand(self, hand_id: str, size: int | tuple[int, int] | None = None,
                  mirror_to_right: bool = False) -> np.ndarray:
        """One hand: the image's columns ``x0:x1``, float32 in [0, 1].

        Anatomy is kept as imaged; ``mirror_to_right=True`` flips left hands horizontally for
        models that want one canonical orientation. ``size`` (``(height, width)`` or an int for
        a square) resizes bilinearly without keeping the aspect ratio.
        """
        if hand_id not in self._hands:
            raise KeyError(f"hand {hand_id!r} is not in cohort {self.manifest.cohort!r}")
        image_id, hand, x0, x1 = self._hands[hand_id]
        crop = self.load_image(image_id)[:, x0:x1]
        if mirror_to_right and hand == "L":
            crop = crop[:, ::-1]
        if size is not None:
            height, width = (size, size) if isinstance(size, int) else size
            crop = np.asarray(Image.fromarray(np.ascontiguousarray(crop)).resize((width, height),
                                                                               Image.Resampling.BILINEAR))
        return np.ascontiguousarray(crop, dtype=np.float32)


def load_cohort(manifest_or_path: Manifest | str | Path, data_root: str | Path | None = None) -> Cohort:
    """Load, check and pseudonymise a cohort; raise :class:`ManifestError` listing every problem."""
    manifest = manifest_or_path if isinstance(manifest_or_path, Manifest) else load_manifest(manifest_or_path)
    checked, problems = _validate(manifest, data_root, deep=False)
    if any(p.severity == "error" for p in problems):
        raise ManifestError(problems)
    cohort = _assemble(checked)
    cohort.warnings = problems
    if problems:
        warnings.warn(f"cohort {manifest.cohort!r} loaded with {len(problems)} warning(s), first: {problems[0]}",
                      stacklevel=2)
    return cohort


def check(manifest_path: str | Path, deep: bool = False, data_root: str | Path | None = None) -> list[Problem]:
    """Every problem of a manifest and its cohort (errors and warnings), without loading pixels unless ``deep``.

    Image headers are always opened (missing, unreadable and truncated files); ``deep`` also
    decodes every image. Nothing is written except the salt file, created if missing.
    """
    try:
        manifest = load_manifest(manifest_path)
    except ManifestError as exc:
        return exc.problems
    return _validate(manifest, data_root, deep)[1]


# --- validation --------------------------------------------------------------------------------

@dataclass
class _Checked:
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


def _validate(manifest: Manifest, data_root, deep: bool) -> tuple[_Checked | None, list[Problem]]:
    root = manifest.resolve_data_root(data_root)
    if not root.is_dir():
        hint = (" (a generated cohort: generate it first, see its synthetic: settings)"
                if manifest.synthetic else "")
        return None, [manifest.problem("data_root", f"data root not found: {display_path(root)}{hint}")]
    problems: list[Problem] = []
    salt_path = root / manifest.salt_file
    try:
        salt = load_or_create_salt(salt_path)
    except (OSError, ValueError) as exc:
        problems.append(Problem(display_path(salt_path), None, None, f"salt file unusable: {exc}"))
        salt = ""
    raw = read_tables(manifest, root)
    problems += raw.problems
    images = _check_images(raw, root, deep, problems)
    views = dict(zip(images["image_id"], images["view"]))
    scores = _check_grades(raw.scores, views, problems, "joint_scores")
    foot_scores = _check_grades(raw.foot_scores, views, problems, "foot_scores", foot=True)
    readers = _check_grades(raw.readers, views, problems, "readers")
    landmarks = _check_landmarks(raw.landmarks, images, manifest, problems)
    folds = _check_folds(raw.folds, images, manifest, root, problems)
    if salt:
        _check_pseudonyms(images, salt, manifest, problems)
    problems.sort(key=lambda p: (p.file, p.row or 0))  # stable: one file's problems together, by row
    return _Checked(manifest, root, salt, images, scores, foot_scores, landmarks, readers, folds), problems


def _flag(problems: list[Problem], df: pd.DataFrame, mask, column: str | Callable,
          message: str | Callable, severity: str = "error") -> None:
    """Append a problem for each row of ``df`` where ``mask``; column / message may be functions of the row."""
    for _, row in df[np.asarray(mask, dtype=bool)].iterrows():
        problems.append(Problem(row["_file"], None if pd.isna(row["_row"]) else int(row["_row"]),
                                column(row) if callable(column) else column,
                                message(row) if callable(message) else message, severity))


def _flag_each_value(problems: list[Problem], df: pd.DataFrame, mask, column: str, message: Callable) -> None:
    """Like :func:`_flag`, but once per distinct value of ``column``: at its first row, counting the others."""
    flagged = df[np.asarray(mask, dtype=bool)]
    counts = flagged[column].value_counts()
    first = flagged.drop_duplicates(column)
    _flag(problems, first, [True] * len(first), column,
          lambda r: message(r) + (f" (and {counts[r[column]] - 1} more row(s))" if counts[r[column]] > 1 else ""))


def _flag_missing(problems: list[Problem], df: pd.DataFrame, columns) -> pd.Series:
    """Flag blank required values; return the mask of rows that have all of them."""
    complete = pd.Series(True, index=df.index)
    for column in columns:
        blank = df[column] == ""
        _flag(problems, df, blank, column, f"{column} missing")
        complete &= ~blank
    return complete


def _flag_duplicates(problems: list[Problem], df: pd.DataFrame, key: list[str], mask, what: str) -> None:
    keyed = df[np.asarray(mask, dtype=bool)]
    first = {tuple(k): (f, r) for *k, f, r in keyed.drop_duplicates(key)[[*key, "_file", "_row"]].itertuples(
        index=False, name=None)}
    dup = keyed.duplicated(key, keep="first")

    def message(row):
        file, line = first[tuple(row[k] for k in key)]
        where = f"row {int(line)}" if file == row["_file"] and pd.notna(line) else file
        return f"duplicate {what} {'/'.join(str(row[k]) for k in key)} (first in {where})"

    _flag(problems, keyed, dup, key[-1], message)


def _check_images(raw: RawTables, root: Path, deep: bool, problems: list[Problem]) -> pd.DataFrame:
    df = raw.images.copy()
    complete = _flag_missing(problems, df, ("image_id", "path", "patient_id", "view"))
    _flag(problems, df, df["image_id"].str.contains(":", regex=False), "image_id",
          "image ids may not contain ':' (it separates image and hand in hand ids)")
    _flag_duplicates(problems, df, ["image_id"], df["image_id"] != "", "image_id")
    _flag_each_value(problems, df, (df["view"] != "") & ~df["view"].isin(schema.VIEWS), "view",
                     lambda r: f"unknown view {r['view']!r}; expected one of {', '.join(schema.VIEWS)}")
    dates = df["study_date"].map(_iso_date)
    _flag(problems, df, dates.isna(), "study_date",
          lambda r: f"study_date {r['study_date']!r} is not a date (YYYYMMDD or YYYY-MM-DD)")
    df["study_date"] = dates.fillna("")
    widths, heights = [], []
    for index, relative in zip(df.index, df["path"]):
        width = height = np.nan
        if relative:
            try:
                header = raw.headers.get(relative) or image_header(root / relative)
                if deep:
                    read_image(root / relative)
                width, height = header["width"], header["height"]
            except ImageReadError as exc:
                _flag(problems, df.loc[[index]], [True], "path", f"{exc.reason}: {display_path(exc.path)}")
        widths.append(width)
        heights.append(height)
    df["width"], df["height"] = widths, heights
    return df[complete]


def _iso_date(text: str) -> str | None:
    """``YYYYMMDD`` or ``YYYY-MM-DD`` as ``YYYY-MM-DD``; blank stays blank; anything else is ``None``."""
    if text == "":
        return ""
    compact = text.replace("-", "") if len(text) == 10 and text[4] == text[7] == "-" else text
    if len(compact) != 8 or not compact.isdigit():
        return None
    try:
        return pd.Timestamp(f"{compact[:4]}-{compact[4:6]}-{compact[6:]}").strftime("%Y-%m-%d")
    except ValueError:
        return None


def _check_grades(df: pd.DataFrame | None, views: dict, problems: list[Problem], table: str,
                  foot: bool = False) -> pd.DataFrame:
    """Validate a long score table (joint_scores, readers or RA2 feet); return it with typed grades."""
    df = empty_table("readers" if table == "readers" else "joint_scores") if df is None else df.copy()
    key = ["image_id", "hand", "kind", "site"]
    if table == "readers":
        key = ["reader_id", *key]
    complete = _flag_missing(problems, df, key)
    grade_column = (lambda r: r[GRADE_SOURCE]) if GRADE_SOURCE in df.columns else "grade"
    _flag(problems, df, df["grade"] == "", grade_column, "grade missing")
    known_image = df["image_id"].isin(views.keys())
    _flag(problems, df, (df["image_id"] != "") & ~known_image, "image_id",
          lambda r: f"image {r['image_id']!r} is not in the images table")
    valid_hand = df["hand"].isin(HANDS)
    _flag(problems, df, (df["hand"] != "") & ~valid_hand, "hand",
          lambda r: f"hand {r['hand']!r} must be L or R")
    if not foot:
        view = df["image_id"].map(views)
        on_image = [h in schema.VIEW_TO_HANDS.get(v, ()) for h, v in zip(df["hand"], view)]
        _flag(problems, df, known_image & valid_hand & ~np.array(on_image, dtype=bool), "hand",
              lambda r: f"hand {r['hand']} is not on image {r['image_id']!r} (view {views[r['image_id']]})")
    catalogue = {(s.kind, s.site): s.max_grade for s in (FOOT_SITES if foot else HAND_SITES)}
    valid_kind = df["kind"].isin(KINDS)
    _flag_each_value(problems, df, (df["kind"] != "") & ~valid_kind, "kind",
                     lambda r: f"unknown kind {r['kind']!r}; expected one of {', '.join(KINDS)}")
    limits = pd.Series([catalogue.get(k) for k in zip(df["kind"], df["site"])], index=df.index, dtype=float)
    where = "foot" if foot else "hand"
    _flag_each_value(problems, df, valid_kind & (df["site"] != "") & limits.isna(), "site",
                     lambda r: f"unknown {where} {r['kind']} site {r['site']!r}; expected one of "
                               f"{', '.join(s for k, s in catalogue if k == r['kind'])}")
    grades = pd.to_numeric(df["grade"], errors="coerce")
    whole = grades.notna() & (grades == grades.round())
    _flag(problems, df, (df["grade"] != "") & ~whole, grade_column,
          lambda r: f"grade {r['grade']!r} is not a whole number")
    out_of_range = whole & limits.notna() & ((grades < 0) | (grades > limits))
    _flag(problems, df, out_of_range, grade_column,
          lambda r: f"grade {r['grade']} out of range 0-{catalogue[(r['kind'], r['site'])]} "
                    f"for {where} {r['kind']} {r['site']}")
    if "eroded_pct" in df.columns:
        _check_eroded_pct(df, problems)
    _flag_duplicates(problems, df, key, complete, "score for" if table != "readers" else "reading for")
    df["grade"] = grades.fillna(-1).astype(int)
    return df.drop(columns=[GRADE_SOURCE], errors="ignore")


def _check_eroded_pct(df: pd.DataFrame, problems: list[Problem]) -> None:
    given = df["eroded_pct"] != ""
    values = pd.to_numeric(df["eroded_pct"], errors="coerce")
    _flag(problems, df, given & (values.isna() | (values < 0) | (values > 100)), "eroded_pct",
          lambda r: f"eroded_pct {r['eroded_pct']!r} must be a number from 0 to 100")
    _flag(problems, df, given & (df["kind"] == "jsn"), "eroded_pct",
          "eroded_pct applies to erosion rows only")
    df["eroded_pct"] = values


def _check_landmarks(df: pd.DataFrame, images: pd.DataFrame, manifest: Manifest,
                     problems: list[Problem]) -> pd.DataFrame:
    if df.empty:
        return pd.DataFrame(columns=[*schema.LANDMARK_COLUMNS, "_file", "_row"])
    df = df.copy()
    complete = _flag_missing(problems, df, schema.LANDMARK_COLUMNS)
    ignored = df["landmark"].isin(manifest.ignore_landmarks)
    df["landmark"] = df["landmark"].map(lambda n: manifest.landmark_map.get(n, n))
    unknown = (df["landmark"] != "") & ~ignored & ~df["landmark"].isin(HAND_LANDMARKS)
    _flag_each_value(problems, df, unknown, "landmark",
                     lambda r: f"unknown landmark {r['landmark']!r}: map it to a canonical name in the "
                               "manifest's landmark_map or list it in ignore_landmarks")
    df, complete = df[~ignored], complete[~ignored]
    sizes = images.set_index("image_id")[["view", "width", "height"]]
    sizes = sizes[~sizes.index.duplicated()]
    known = df["image_id"].isin(sizes.index)
    _flag(problems, df, (df["image_id"] != "") & ~known, "image_id",
          lambda r: f"image {r['image_id']!r} is not in the images table")
    view = df["image_id"].map(sizes["view"])
    on_image = np.array([h in schema.VIEW_TO_HANDS.get(v, ()) for h, v in zip(df["hand"], view)], dtype=bool)
    _flag(problems, df, known & (df["hand"] != "") & ~on_image, "hand",
          lambda r: f"hand {r['hand']!r} is not on image {r['image_id']!r} (view {sizes.loc[r['image_id'], 'view']})")
    for axis in ("x", "y"):
        values = pd.to_numeric(df[axis], errors="coerce")
        _flag(problems, df, (df[axis] != "") & ~np.isfinite(values), axis,
              lambda r, a=axis: f"{a} {r[a]!r} is not a number")
        df[axis] = values
    width, height = df["image_id"].map(sizes["width"]), df["image_id"].map(sizes["height"])
    outside_x = (df["x"] < 0) | (df["x"] >= width)
    outside_y = (df["y"] < 0) | (df["y"] >= height)
    _flag(problems, df, outside_x | outside_y, lambda r: "x" if outside_x[r.name] else "y",
          lambda r: f"landmark ({r['x']:g}, {r['y']:g}) is outside image {r['image_id']!r} "
                    f"({int(width[r.name])} x {int(height[r.name])} pixels)")
    _flag_duplicates(problems, df, ["image_id", "hand", "landmark"], complete, "landmark")
    return df


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
    _flag_missing(problems, df, schema.FOLD_COLUMNS)
    fold = pd.to_numeric(df["fold"], errors="coerce")
    valid = fold.notna() & (fold == fold.round()) & (fold >= 0)
    _flag(problems, df, (df["fold"] != "") & ~valid, "fold",
          lambda r: f"fold {r['fold']!r} must be a whole number >= 0")
    df = df[valid & (df["patient_id"] != "")].assign(fold=fold[valid].astype(int))
    for patient, group in df.groupby("patient_id"):
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
    _flag(problems, extra, [True] * len(extra), "patient_id", "patient has no image in the cohort", "warning")
    n_folds = df["fold"].nunique()
    if len(df) and n_folds < _MIN_FOLDS:
        problems.append(Problem(shown, None, "fold", f"{n_folds} fold(s); train / validation / test "
                                                     f"rotation needs at least {_MIN_FOLDS}"))
    return df.drop_duplicates("patient_id")[["patient_id", "fold"]]


def _check_pseudonyms(images: pd.DataFrame, salt: str, manifest: Manifest, problems: list[Problem]) -> None:
    patients = sorted(set(images["patient_id"]) - {""})
    if len({pseudonym(p, salt) for p in patients}) < len(patients):
        problems.append(manifest.problem("privacy.salt_file", "two patients share a pseudonym under this "
                                                              "salt; delete the salt file to draw a new one"))


# --- assembling the cohort tables --------------------------------------------------------------

def _assemble(checked: _Checked) -> Cohort:
    salt = checked.salt
    images = checked.images.copy()
    images["patient"] = images["patient_id"].map(lambda p: pseudonym(p, salt))
    patient_of = dict(zip(images["image_id"], images["patient"]))
    landmarks = checked.landmarks.copy()
    landmarks["hand_id"] = [schema.hand_id(i, h) for i, h in zip(landmarks["image_id"], landmarks["hand"])]
    hands = _hand_table(images, landmarks, checked.data_root)

    scores = checked.scores.copy()
    scores["hand_id"] = [schema.hand_id(i, h) for i, h in zip(scores["image_id"], scores["hand"])]
    scores["patient"] = scores["image_id"].map(patient_of)
    if "eroded_pct" not in scores.columns:
        scores["eroded_pct"] = np.nan
    scores["eroded_pct"] = pd.to_numeric(scores["eroded_pct"], errors="coerce")
    readers = checked.readers.copy()
    readers["hand_id"] = [schema.hand_id(i, h) for i, h in zip(readers["image_id"], readers["hand"])]
    feet = checked.foot_scores.copy()
    feet["patient"] = feet["image_id"].map(patient_of)
    feet = feet.rename(columns={"hand": "foot"})
    folds = checked.folds.assign(patient=checked.folds["patient_id"].map(lambda p: pseudonym(p, salt)))

    return Cohort(
        manifest=checked.manifest, data_root=checked.data_root,
        images=_typed(images, schema.COHORT_IMAGE_COLUMNS),
        hands=_typed(hands, schema.COHORT_HAND_COLUMNS, x0=int, x1=int),
        scores=_typed(scores, schema.COHORT_SCORE_COLUMNS, grade=int, eroded_pct=float),
        landmarks=_typed(landmarks, schema.COHORT_LANDMARK_COLUMNS, x=float, y=float),
        readers=_typed(readers, schema.COHORT_READER_COLUMNS, grade=int),
        folds=_typed(folds, schema.COHORT_FOLD_COLUMNS, fold=int).sort_values("patient", ignore_index=True),
        foot_scores=_typed(feet, COHORT_FOOT_SCORE_COLUMNS, grade=int),
    )


def _typed(df: pd.DataFrame, columns, **dtypes) -> pd.DataFrame:
    out = pd.DataFrame({c: df[c] if c in df.columns else pd.Series(dtype=object) for c in columns})
    for column, dtype in dtypes.items():
        out[column] = out[column].astype(dtype)
    for column in columns:
        if column not in dtypes:
            out[column] = out[column].astype(object)
    return out.reset_index(drop=True)


def _hand_table(images: pd.DataFrame, landmarks: pd.DataFrame, root: Path) -> pd.DataFrame:
    """One row per hand: both-hands images split at the landmark midline, else at the darkest column."""
    by_image = {image_id: group for image_id, group in landmarks.groupby("image_id")}
    rows = []
    for image_id, relative, patient, view, width in zip(images["image_id"], images["path"], images["patient"],
                                                        images["view"], images["width"]):
        hands = schema.VIEW_TO_HANDS[view]
        width = int(width)
        if len(hands) == 1:
            spans = {hands[0]: (0, width)}
        elif len(hands) == 2:
            split, left_side = _split_by_landmarks(by_image.get(image_id))
            if split is None:
                split, left_side = split_column(read_image(root / relative)[0]), "R"  # PA: right hand on viewer's left
            right_side = "L" if left_side == "R" else "R"
            spans = {left_side: (0, split), right_side: (split, width)}
        else:
            continue
        for hand in sorted(spans):
            x0, x1 = spans[hand]
            rows.append({"hand_id": schema.hand_id(image_id, hand), "image_id": image_id, "patient": patient,
                         "hand": hand, "x0": x0, "x1": x1})
    return pd.DataFrame(rows, columns=schema.COHORT_HAND_COLUMNS)


def _split_by_landmarks(points: pd.DataFrame | None) -> tuple[int | None, str]:
    """Midline between the two hands' landmarks and the hand on the viewer's left, if both hands have landmarks."""
    if points is None or set(points["hand"]) != {"L", "R"}:
        return None, "R"
    xs = {hand: group["x"] for hand, group in points.groupby("hand")}
    left, right = sorted(xs, key=lambda h: xs[h].mean())
    if xs[left].max() < xs[right].min():
        split = (xs[left].max() + xs[right].min()) / 2
    else:
        split = (xs[left].mean() + xs[right].mean()) / 2
    return int(round(split)), left


def split_column(image: np.ndarray) -> int:
    """Column splitting a both-hands image: the darkest column of the smoothed column profile in the middle third."""
    width = image.shape[1]
    profile = image.mean(axis=0)
    kernel = max(3, (width // 50) | 1)
    smooth = np.convolve(np.pad(profile, kernel // 2, mode="edge"), np.ones(kernel) / kernel, mode="valid")
    low, high = width // 3, max(width // 3 + 1, (2 * width) // 3)
    return int(low + np.argmin(smooth[low:high]))


# --- command line ------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    """``check MANIFEST [--deep] [--data-root DIR]``: print problems one per line; exit 1 on any error."""
    parser = argparse.ArgumentParser(prog="python -m ra_lib.cohort",
                                     description="Check a cohort manifest and its data.")
    commands = parser.add_subparsers(dest="command", required=True)
    checker = commands.add_parser("check", help="report every problem of a cohort at once")
    checker.add_argument("manifest")
    checker.add_argument("--deep", action="store_true", help="also decode every image's pixels")
    checker.add_argument("--data-root", default=None, help="override the data root")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        manifest = load_manifest(args.manifest)
        checked, problems = _validate(manifest, args.data_root, args.deep)
    except ManifestError as exc:
        checked, problems = None, exc.problems
    except Exception as exc:  # a bug, not bad data: still no traceback on the command line
        print(f"{args.manifest}: internal error while checking: {type(exc).__name__}: {exc}")
        return 2
    for problem in problems:
        print(problem)
    errors = sum(p.severity == "error" for p in problems)
    if errors:
        print(f"{errors} error(s), {len(problems) - errors} warning(s)")
        return 1
    print(_summary(checked, len(problems), time.perf_counter() - start))
    return 0


def _summary(checked: _Checked, n_warnings: int, seconds: float) -> str:
    images = checked.images
    hands = sum(len(schema.VIEW_TO_HANDS[v]) for v in images["view"])
    return (f"ok: cohort {checked.manifest.cohort!r} ({checked.manifest.format}): {len(images)} images, "
            f"{hands} hands, {images['patient_id'].nunique()} patients, {len(checked.scores)} scores, "
            f"{len(checked.landmarks)} landmarks, {len(checked.readers)} reader grades, "
            f"{checked.folds['fold'].nunique()} folds; {n_warnings} warning(s); checked in {seconds:.2f} s")


if __name__ == "__main__":
    sys.exit(main())
