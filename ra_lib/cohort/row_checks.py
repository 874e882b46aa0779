"""Row checks of the cohort tables: every bad value becomes a :class:`~ra_lib.core.errors.Problem` at its file and line.

Numbers are parsed as floats and checked (finite, whole, in range) before any cast, so that
``inf``, ``nan`` or a 20-digit number is a problem, never an exception or a wrapped integer.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from ra_lib.cohort import schema
from ra_lib.cohort.adapters.tables import GRADE_SOURCE, empty_table
from ra_lib.cohort.manifest import Manifest
from ra_lib.cohort.sites import FOOT_SITES, HAND_LANDMARKS, HAND_SITES, HANDS, KINDS
from ra_lib.core.errors import Problem


def numbers(text: pd.Series) -> pd.Series:
    """Strings to float64; anything that is not a number becomes NaN."""
    return pd.to_numeric(text, errors="coerce").astype("float64")


def whole(values: pd.Series, low: float, high: float) -> pd.Series:
    """Mask of finite whole numbers within ``[low, high]``."""
    finite = np.isfinite(values)
    return finite & (values == values.round()) & (values >= low) & (values <= high)


def flag(problems: list[Problem], df: pd.DataFrame, mask, column: str | Callable,
         message: str | Callable, severity: str = "error") -> None:
    """Append a problem for each row of ``df`` where ``mask``; column / message may be functions of the row."""
    for _, row in df[np.asarray(mask, dtype=bool)].iterrows():
        problems.append(Problem(row["_file"], None if pd.isna(row["_row"]) else int(row["_row"]),
                                column(row) if callable(column) else column,
                                message(row) if callable(message) else message, severity))


def flag_each_value(problems: list[Problem], df: pd.DataFrame, mask, column: str, message: Callable) -> None:
    """Like :func:`flag`, but once per distinct value of ``column``: at its first row, counting the others."""
    flagged = df[np.asarray(mask, dtype=bool)]
    counts = flagged[column].value_counts()
    first = flagged.drop_duplicates(column)
    flag(problems, first, [True] * len(first), column,
         lambda r: message(r) + (f" (and {counts[r[column]] - 1} more row(s))" if counts[r[column]] > 1 else ""))


def flag_missing(problems: list[Problem], df: pd.DataFrame, columns) -> pd.Series:
    """Flag blank required values; return the mask of rows that have all of them."""
    complete = pd.Series(True, index=df.index)
    for column in columns:
        blank = df[column] == ""
        flag(problems, df, blank, column, f"{column} missing")
        complete &= ~blank
    return complete


def flag_duplicates(problems: list[Problem], df: pd.DataFrame, key: list[str], mask, what: str) -> None:
    """Flag every repeat of ``key`` among the rows of ``mask``, naming where it first appeared."""
    keyed = df[np.asarray(mask, dtype=bool)]
    first = {tuple(k): (f, r) for *k, f, r in keyed.drop_duplicates(key)[[*key, "_file", "_row"]].itertuples(
        index=False, name=None)}
    dup = keyed.duplicated(key, keep="first")

    def message(row):
        file, line = first[tuple(row[k] for k in key)]
        where = f"row {int(line)}" if file == row["_file"] and pd.notna(line) else file
        return f"duplicate {what} {'/'.join(str(row[k]) for k in key)} (first in {where})"

    flag(problems, keyed, dup, key[-1], message)


def check_grades(df: pd.DataFrame | None, images: pd.DataFrame, problems: list[Problem], table: str,
                 foot: bool = False) -> pd.DataFrame:
    """Validate a long score table (joint_scores, readers or RA2 feet) against the checked ``images``;
    return it with integer grades (-1 = bad)."""
    views = dict(zip(images["image_id"], images["view"]))
    paths = dict(zip(images["image_id"], images["path"]))
    df = empty_table("readers" if table == "readers" else "joint_scores") if df is None else df.copy()
    key = ["image_id", "hand", "kind", "site"]
    if table == "readers":
        key = ["reader_id", *key]
    complete = flag_missing(problems, df, key)
    grade_column = (lambda r: r[GRADE_SOURCE]) if GRADE_SOURCE in df.columns else "grade"
    flag(problems, df, df["grade"] == "", grade_column, "grade missing")
    known_image = df["image_id"].isin(views.keys())
    flag(problems, df, (df["image_id"] != "") & ~known_image, "image_id",
         lambda r: f"image {r['image_id']!r} is not in the images table")
    valid_hand = df["hand"].isin(HANDS)
    flag(problems, df, (df["hand"] != "") & ~valid_hand, "hand", lambda r: f"hand {r['hand']!r} must be L or R")
    if not foot:
        view = df["image_id"].map(views)
        on_image = [h in schema.VIEW_TO_HANDS.get(v, ()) for h, v in zip(df["hand"], view)]
        flag(problems, df, known_image & valid_hand & ~np.array(on_image, dtype=bool), "hand",
             lambda r: f"hand {r['hand']} is not on image {r['image_id']!r} (view {views[r['image_id']]}, "
                       f"file {paths[r['image_id']]})")
    catalogue = {(s.kind, s.site): s.max_grade for s in (FOOT_SITES if foot else HAND_SITES)}
    valid_kind = df["kind"].isin(KINDS)
    flag_each_value(problems, df, (df["kind"] != "") & ~valid_kind, "kind",
                    lambda r: f"unknown kind {r['kind']!r}; expected one of {', '.join(KINDS)}")
    limits = pd.Series([catalogue.get(k) for k in zip(df["kind"], df["site"])], index=df.index, dtype=float)
    where = "foot" if foot else "hand"
    flag_each_value(problems, df, valid_kind & (df["site"] != "") & limits.isna(), "site",
                    lambda r: f"unknown {where} {r['kind']} site {r['site']!r}; expected one of "
                              f"{', '.join(s for k, s in catalogue if k == r['kind'])}")
    grades = numbers(df["grade"])
    is_whole = whole(grades, -np.inf, np.inf)
    flag(problems, df, (df["grade"] != "") & ~is_whole, grade_column,
         lambda r: f"grade {r['grade']!r} is not a whole number")
    out_of_range = is_whole & limits.notna() & ((grades < 0) | (grades > limits))
    flag(problems, df, out_of_range, grade_column,
         lambda r: f"grade {r['grade']} out of range 0-{catalogue[(r['kind'], r['site'])]} "
                   f"for {where} {r['kind']} {r['site']}")
    if "eroded_pct" in df.columns:
        _check_eroded_pct(df, problems)
    flag_duplicates(problems, df, key, complete, "score for" if table != "readers" else "reading for")
    df["grade"] = grades.where(is_whole & ~out_of_range & limits.notna(), -1).astype(int)
    return df.drop(columns=[GRADE_SOURCE], errors="ignore")


def _check_eroded_pct(df: pd.DataFrame, problems: list[Problem]) -> None:
    given = df["eroded_pct"] != ""
    values = numbers(df["eroded_pct"])
    flag(problems, df, given & ~(np.isfinite(values) & (values >= 0) & (values <= 100)), "eroded_pct",
         lambda r: f"eroded_pct {r['eroded_pct']!r} must be a number from 0 to 100")
    flag(problems, df, given & (df["kind"] == "jsn"), "eroded_pct", "eroded_pct applies to erosion rows only")
    df["eroded_pct"] = values


def check_landmarks(df: pd.DataFrame, images: pd.DataFrame, manifest: Manifest,
                    problems: list[Problem]) -> pd.DataFrame:
    """Validate the landmarks table (names mapped or ignored, points inside their image); coordinates as floats."""
    if df.empty:
        return pd.DataFrame(columns=[*schema.LANDMARK_COLUMNS, "_file", "_row"])
    df = df.copy()
    complete = flag_missing(problems, df, schema.LANDMARK_COLUMNS)
    ignored = df["landmark"].isin(manifest.ignore_landmarks)
    df["landmark"] = df["landmark"].map(lambda n: manifest.landmark_map.get(n, n))
    unknown = (df["landmark"] != "") & ~ignored & ~df["landmark"].isin(HAND_LANDMARKS)
    flag_each_value(problems, df, unknown, "landmark",
                    lambda r: f"unknown landmark {r['landmark']!r}: map it to a canonical name in the "
                              "manifest's landmark_map or list it in ignore_landmarks")
    df, complete = df[~ignored], complete[~ignored]
    sizes = images.set_index("image_id")[["view", "width", "height"]]
    sizes = sizes[~sizes.index.duplicated()]
    known = df["image_id"].isin(sizes.index)
    flag(problems, df, (df["image_id"] != "") & ~known, "image_id",
         lambda r: f"image {r['image_id']!r} is not in the images table")
    view = df["image_id"].map(sizes["view"])
    on_image = np.array([h in schema.VIEW_TO_HANDS.get(v, ()) for h, v in zip(df["hand"], view)], dtype=bool)
    flag(problems, df, known & (df["hand"] != "") & ~on_image, "hand",
         lambda r: f"hand {r['hand']!r} is not on image {r['image_id']!r} "
                   f"(view {sizes.loc[r['image_id'], 'view']})")
    for axis in ("x", "y"):
        values = numbers(df[axis])
        flag(problems, df, (df[axis] != "") & ~np.isfinite(values), axis,
             lambda r, a=axis: f"{a} {r[a]!r} is not a number")
        df[axis] = values
    width, height = df["image_id"].map(sizes["width"]), df["image_id"].map(sizes["height"])
    outside_x = (df["x"] < 0) | (df["x"] >= width)
    outside_y = (df["y"] < 0) | (df["y"] >= height)
    flag(problems, df, outside_x | outside_y, lambda r: "x" if outside_x[r.name] else "y",
         lambda r: f"landmark ({r['x']:g}, {r['y']:g}) is outside image {r['image_id']!r} "
                   f"({int(width[r.name])} x {int(height[r.name])} pixels)")
    flag_duplicates(problems, df, ["image_id", "hand", "landmark"], complete, "landmark")
    return df
