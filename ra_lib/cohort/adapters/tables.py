"""What every layout adapter shares: the :class:`RawTables` it returns and the CSV reader.

Tables are string-valued with the manifest-table columns of :mod:`ra_lib.cohort.schema` plus
``_file`` / ``_row``: the file and the true 1-based line (header = line 1) each row starts on, so
blank lines and quoted values spanning lines never shift a message.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pandas as pd

from ra_lib.cohort import schema
from ra_lib.cohort.manifest import Manifest
from ra_lib.cohort.paths import display_path, is_file
from ra_lib.core.errors import Problem

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


def empty_table(name: str) -> pd.DataFrame:
    """An empty manifest table with its contract columns and the source columns."""
    required, optional = TABLE_COLUMNS[name]
    return pd.DataFrame(columns=[*required, *optional, *SOURCE_COLUMNS], dtype=object)


def read_csv(path: Path, what: str, problems: list[Problem]) -> pd.DataFrame | None:
    """A CSV file as strings (blanks around values stripped) with ``_file`` and the true line ``_row``.

    UTF-8 only (a byte-order mark is allowed). Blank lines are skipped without shifting line
    numbers; a row with more or fewer values than the header, a repeated column name, an
    undecodable byte or a malformed quote is a problem naming the line. ``None`` when the file
    cannot be used at all.
    """
    shown = display_path(path)
    if not is_file(path):
        problems.append(Problem(shown, None, None, f"{what} table not found"))
        return None
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problems.append(Problem(shown, None, None, f"{what} table cannot be read ({exc.strerror or exc})"))
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(Problem(shown, raw[:exc.start].count(b"\n") + 1, None,
                                f"{what} table is not UTF-8 text (byte {exc.start}); save it as UTF-8"))
        return None
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    rows, lines, last = [], [], 0
    try:
        for values in reader:
            start, last = last + 1, reader.line_num
            if any(v.strip() for v in values):
                rows.append([v.strip() for v in values])
                lines.append(start)
    except csv.Error as exc:
        problems.append(Problem(shown, reader.line_num, None, f"{what} table cannot be parsed: {exc}"))
        return None
    if not rows:
        problems.append(Problem(shown, None, None, f"{what} table is empty (no header line)"))
        return None
    header, header_line = rows[0], lines[0]
    columns: list[str] = []
    for name in header:
        if name in columns:
            problems.append(Problem(shown, header_line, name, f"column {name!r} appears twice in the header"))
        columns.append(name)
    width = len(header)
    body = []
    for values, line in zip(rows[1:], lines[1:]):
        if len(values) != width:
            problems.append(Problem(shown, line, None, f"row has {len(values)} values; the header has {width}"))
            values = (values + [""] * width)[:width]
        body.append(values)
    df = pd.DataFrame(body, columns=range(width), dtype=object)
    keep = [i for i, name in enumerate(columns) if columns.index(name) == i]
    df = df[keep].set_axis([columns[i] for i in keep], axis=1)
    df["_file"] = shown
    df["_row"] = lines[1:]
    return df


def read_csv_table(path: Path, name: str, ignore_columns: Sequence[str] = (),
                   problems: list[Problem] | None = None) -> pd.DataFrame | None:
    """Read one manifest CSV table, checking its columns against the contract.

    Missing required and unknown columns are appended to ``problems`` (line 1, the header);
    ``None`` is returned when the table cannot be used. Columns in ``ignore_columns`` are
    dropped; absent optional columns are added empty.
    """
    problems = [] if problems is None else problems
    df = read_csv(path, name, problems)
    if df is None:
        return None
    shown = display_path(path)
    header = [c for c in df.columns if c not in SOURCE_COLUMNS]
    required, optional = TABLE_COLUMNS[name]
    usable = True
    for column in required:
        if column not in header:
            problems.append(Problem(shown, 1, column, f"required column missing from the {name} table "
                                                      f"(it has: {', '.join(header)})"))
            usable = False
    known = {*required, *optional, *ignore_columns}
    for column in header:
        if column not in known:
            problems.append(Problem(shown, 1, column, f"unknown column in the {name} table; expected "
                                                      f"{', '.join((*required, *optional))} (list it under "
                                                      "ignore_columns in the manifest to drop it)"))
    if not usable:
        return None
    df = df[[c for c in df.columns if c in {*required, *optional, *SOURCE_COLUMNS}]].copy()
    for column in optional:
        if column not in df.columns:
            df[column] = ""
    return df


def table_or_empty(df: pd.DataFrame | None, name: str) -> pd.DataFrame:
    """``df``, or the empty table ``name`` when it is missing or unusable."""
    return df if df is not None else empty_table(name)


def read_optional_tables(manifest: Manifest, data_root: Path, problems: list[Problem],
                         keys: Sequence[str] = ("landmarks", "readers", "folds")) -> dict:
    """The native-CSV tables a layout may name besides its own (landmarks, readers, folds); ``None`` if absent."""
    tables = {}
    for key in keys:
        relative = manifest.tables.get(key)
        tables[key] = (read_csv_table(data_root / relative, key, manifest.ignore_columns, problems)
                       if relative else None)
    return tables
