"""Format adapters: read one cohort layout into the manifest-table contracts of :mod:`ra_lib.cohort.schema`.

Each adapter's ``read(manifest, data_root)`` returns :class:`RawTables`: string-valued tables with
the manifest columns (real patient ids still in them) plus ``_file`` / ``_row`` (where each row
came from, for error messages) and the problems found while reading. Checking the values,
pseudonymising and building the per-hand cohort tables is :mod:`ra_lib.cohort.manifest`'s job, the same
for every layout. This module also holds the ``native`` layout (the CSV tables named in the
manifest, as the synthetic generator writes them) and the CSV reader the other layouts share.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import pandas as pd

from ra_lib.cohort import schema
from ra_lib.core.errors import Problem

if TYPE_CHECKING:
    from ra_lib.cohort.manifest import Manifest

#: Columns each manifest table must have and may have.
TABLE_COLUMNS = {
    "images": (schema.IMAGE_COLUMNS, schema.IMAGE_OPTIONAL),
    "joint_scores": (schema.SCORE_COLUMNS, schema.SCORE_OPTIONAL),
    "landmarks": (schema.LANDMARK_COLUMNS, ()),
    "readers": (schema.READER_COLUMNS, ()),
    "folds": (schema.FOLD_COLUMNS, ()),
}
SOURCE_COLUMNS = ("_file", "_row")
#: Optional column naming the input column a grade came from (wide layouts such as RA2).
GRADE_SOURCE = "_grade_column"


@dataclass
class RawTables:
    """What an adapter read: manifest-contract tables (all values strings) and the problems so far."""

    images: pd.DataFrame
    scores: pd.DataFrame
    landmarks: pd.DataFrame
    readers: pd.DataFrame
    folds: pd.DataFrame | None = None
    foot_scores: pd.DataFrame | None = None
    #: image headers the adapter already read, by image ``path`` (saves a second read).
    headers: dict[str, dict] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def display_path(path: str | Path) -> str:
    """A path as shown in messages: relative to the working folder when inside it, else absolute."""
    path = Path(path)
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path.absolute())


def empty_table(name: str) -> pd.DataFrame:
    """An empty manifest table with its contract columns and the source columns."""
    required, optional = TABLE_COLUMNS[name]
    return pd.DataFrame(columns=[*required, *optional, *SOURCE_COLUMNS], dtype=object)


def read_csv_table(path: Path, name: str, ignore_columns: Sequence[str] = (),
                   problems: list[Problem] | None = None) -> pd.DataFrame | None:
    """Read one manifest CSV table as strings, checking its columns against the contract.

    Missing required and unknown columns are appended to ``problems`` (row 1, the header);
    ``None`` is returned when the table cannot be used. Columns in ``ignore_columns`` are
    dropped; absent optional columns are added empty. Values are stripped of surrounding blanks.
    """
    problems = [] if problems is None else problems
    shown = display_path(path)
    if not path.is_file():
        problems.append(Problem(shown, None, None, f"{name} table not found"))
        return None
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        problems.append(Problem(shown, None, None, f"{name} table is empty (no header line)"))
        return None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        problems.append(Problem(shown, None, None, f"{name} table cannot be parsed: {exc}"))
        return None
    df.columns = [str(c).strip() for c in df.columns]
    required, optional = TABLE_COLUMNS[name]
    usable = True
    for column in required:
        if column not in df.columns:
            problems.append(Problem(shown, 1, column, f"required column missing from the {name} table "
                                                      f"(it has: {', '.join(df.columns)})"))
            usable = False
    known = {*required, *optional, *ignore_columns}
    for column in df.columns:
        if column not in known:
            problems.append(Problem(shown, 1, column, f"unknown column in the {name} table; expected "
                                                      f"{', '.join((*required, *optional))} (list it under "
                                                      "ignore_columns in the manifest to drop it)"))
    if not usable:
        return None
    df = df[[c for c in df.columns if c in {*required, *optional}]].copy()
    for column in optional:
        if column not in df.columns:
            df[column] = ""
    df = df.apply(lambda col: col.str.strip())
    df["_file"] = shown
    df["_row"] = range(2, len(df) + 2)
    return df


def read_optional_tables(manifest: Manifest, data_root: Path, problems: list[Problem],
                         keys: Sequence[str] = ("landmarks", "readers", "folds")) -> dict:
    """The native-CSV tables a layout may name besides its own (landmarks, readers, folds)."""
    tables = {}
    for key in keys:
        relative = manifest.tables.get(key)
        if relative:
            tables[key] = read_csv_table(data_root / relative, key, manifest.ignore_columns, problems)
        else:
            tables[key] = None
    return tables


def read_native(manifest: Manifest, data_root: Path) -> RawTables:
    """The ``native`` layout: images, joint_scores, landmarks, readers and folds CSVs under the data root."""
    problems: list[Problem] = []
    images = read_csv_table(data_root / manifest.tables["images"], "images", manifest.ignore_columns, problems)
    scores = None
    if manifest.tables.get("joint_scores"):
        scores = read_csv_table(data_root / manifest.tables["joint_scores"], "joint_scores",
                                manifest.ignore_columns, problems)
    other = read_optional_tables(manifest, data_root, problems)
    return RawTables(
        images=images if images is not None else empty_table("images"),
        scores=scores if scores is not None else empty_table("joint_scores"),
        landmarks=other["landmarks"] if other["landmarks"] is not None else empty_table("landmarks"),
        readers=other["readers"] if other["readers"] is not None else empty_table("readers"),
        folds=other["folds"],
        problems=problems,
    )


def _adapters() -> dict[str, Callable[[Manifest, Path], RawTables]]:
    from ra_lib.cohort.adapters import dicom_folder, ra2

    return {"native": read_native, "ra2": ra2.read, "dicom_folder": dicom_folder.read}


#: The ``tables`` keys each format requires and allows.
FORMAT_TABLES = {
    "native": (("images",), ("images", "joint_scores", "landmarks", "readers", "folds")),
    "ra2": (("scores",), ("scores", "images_dir", "landmarks", "readers", "folds")),
    "dicom_folder": (("dicom_dir",), ("dicom_dir", "joint_scores", "landmarks", "readers", "folds", "views")),
}
FORMATS = tuple(FORMAT_TABLES)


def read_tables(manifest: Manifest, data_root: Path) -> RawTables:
    """Run the adapter of the manifest's format."""
    return _adapters()[manifest.format](manifest, data_root)
