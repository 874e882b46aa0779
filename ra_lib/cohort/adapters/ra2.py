"""The RA2-DREAM challenge layout: one wide scores CSV, one JPEG per limb.

``tables: {scores: training.csv, images_dir: .}``. Each scores row is a patient (``Patient_ID``)
with ``{LH,RH,LF,RF}_{mcp,pip,wrist,mtp}_{E,J}__{site}`` grade columns and ``Overall_Tol``,
``Overall_erosion`` and ``Overall_narrowing`` sums. The images are
``{images_dir}/{Patient_ID}-{LH|RH|LF|RF}.jpg``; the image id is the file stem.

* Hand columns map to the canonical sites through ``Site.ra2_column``; LH / RH images become
  ``left_hand`` / ``right_hand`` views, and the two hands of a patient pair up through the patient.
* Feet are kept, apart: LF / RF images enter the image table as view ``other`` (body part
  ``FOOT``, useful negatives for image selection) and their grades go to the cohort's
  ``foot_scores`` table (sites of ``ra_lib.cohort.sites.FOOT_SITES``, erosion 0-10), never to the
  per-hand ``scores`` table.
* Any other column is a problem naming it (unless listed in the manifest's ``ignore_columns``);
  a limb with only some of its site columns is a problem listing the missing ones.
* ``Overall_*`` values that differ from the sum of the site columns give warnings.
"""
from __future__ import annotations

import posixpath
from pathlib import Path

import pandas as pd

from ra_lib.cohort.adapters.tables import (GRADE_SOURCE, RawTables, empty_table, read_csv, read_optional_tables,
                                           table_or_empty)
from ra_lib.cohort.manifest import Manifest
from ra_lib.cohort.paths import display_path
from ra_lib.cohort.sites import EROSION, FOOT_SITES, HAND_SITES, JSN
from ra_lib.core.errors import Problem

PATIENT = "Patient_ID"
LIMBS = {"LH": ("L", "left_hand", "HAND"), "RH": ("R", "right_hand", "HAND"),
         "LF": ("L", "other", "FOOT"), "RF": ("R", "other", "FOOT")}
OVERALL = {"Overall_Tol": (EROSION, JSN), "Overall_erosion": (EROSION,), "Overall_narrowing": (JSN,)}


def site_columns(limb: str) -> dict[str, object]:
    """RA2 column name -> canonical :class:`~ra_lib.cohort.sites.Site` for one limb (``"LH"``, ``"RF"``...)."""
    sites = HAND_SITES if limb.endswith("H") else FOOT_SITES
    return {f"{limb}_{s.ra2_column}": s for s in sites}


def read(manifest: Manifest, data_root: Path) -> RawTables:
    """Read an RA2-layout cohort into manifest tables (feet in ``foot_scores``)."""
    problems: list[Problem] = []
    scores_path = data_root / manifest.tables["scores"]
    shown = display_path(scores_path)
    other = read_optional_tables(manifest, data_root, problems)
    tables = RawTables(images=empty_table("images"), scores=empty_table("joint_scores"),
                       landmarks=table_or_empty(other["landmarks"], "landmarks"),
                       readers=table_or_empty(other["readers"], "readers"), folds=other["folds"],
                       foot_scores=empty_table("joint_scores"), problems=problems)
    wide = read_csv(scores_path, "RA2 scores", problems)
    if wide is None:
        return tables
    if wide.empty:
        problems.append(Problem(shown, None, None, "RA2 scores table has a header but no patient rows"))
    limbs = _check_columns(wide, shown, manifest.ignore_columns, problems)
    if PATIENT not in wide.columns:
        return tables
    images_dir = manifest.tables.get("images_dir") or "."
    tables.images = _images(wide, limbs, images_dir, shown)
    hands = [limb for limb in limbs if limb.endswith("H")]
    feet = [limb for limb in limbs if limb.endswith("F")]
    tables.scores = _long_scores(wide, hands, shown)
    tables.foot_scores = _long_scores(wide, feet, shown)
    problems += _overall_mismatches(wide, limbs, shown)
    return tables


def _check_columns(wide: pd.DataFrame, shown: str, ignore: tuple[str, ...],
                   problems: list[Problem]) -> list[str]:
    """Report unknown and incomplete columns; return the limbs that have site columns."""
    if PATIENT not in wide.columns:
        problems.append(Problem(shown, 1, PATIENT, "required column missing from the RA2 scores table"))
    known = {PATIENT, "_file", "_row", *OVERALL, *ignore}
    by_limb = {limb: site_columns(limb) for limb in LIMBS}
    for limb_columns in by_limb.values():
        known.update(limb_columns)
    for column in wide.columns:
        if column not in known:
            problems.append(Problem(shown, 1, column, "unknown RA2 column: not Patient_ID, an Overall_* sum "
                                                      "or a {LH,RH,LF,RF}_{mcp,pip,wrist,mtp}_{E,J}__{site} "
                                                      "site of the SvdH catalogue"))
    limbs = []
    for limb, columns in by_limb.items():
        present = [c for c in columns if c in wide.columns]
        if not present:
            continue
        missing = [c for c in columns if c not in wide.columns]
        if missing:
            problems.append(Problem(shown, 1, missing[0], f"limb {limb} has {len(present)} of its {len(columns)} "
                                                          f"site columns; missing: {', '.join(missing)}"))
        limbs.append(limb)
    return limbs


def _images(wide: pd.DataFrame, limbs: list[str], images_dir: str, shown: str) -> pd.DataFrame:
    rows = []
    for patient, row in zip(wide[PATIENT], wide["_row"]):
        for limb in limbs:
            _, view, body_part = LIMBS[limb]
            stem = f"{patient}-{limb}"
            rows.append({"image_id": stem, "path": posixpath.normpath(posixpath.join(images_dir, f"{stem}.jpg")),
                         "patient_id": patient, "study_date": "", "view": view, "body_part": body_part,
                         "_file": shown, "_row": row})
    return pd.DataFrame(rows, columns=empty_table("images").columns) if rows else empty_table("images")


def _long_scores(wide: pd.DataFrame, limbs: list[str], shown: str) -> pd.DataFrame:
    frames = []
    for limb in limbs:
        hand = LIMBS[limb][0]
        for column, site in site_columns(limb).items():
            if column not in wide.columns:
                continue
            frames.append(pd.DataFrame({
                "image_id": wide[PATIENT] + f"-{limb}", "hand": hand, "kind": site.kind, "site": site.site,
                "grade": wide[column], "eroded_pct": "", "_file": shown, "_row": wide["_row"],
                GRADE_SOURCE: column,
            }))
    if not frames:
        return empty_table("joint_scores")
    return pd.concat(frames).sort_values("_row", kind="stable", ignore_index=True)  # patient by patient


def _overall_mismatches(wide: pd.DataFrame, limbs: list[str], shown: str) -> list[Problem]:
    warnings = []
    columns = {c: s for limb in limbs for c, s in site_columns(limb).items() if c in wide.columns}
    grades = wide[list(columns)].apply(pd.to_numeric, errors="coerce") if columns else None
    for overall, kinds in OVERALL.items():
        if overall not in wide.columns or grades is None:
            continue
        stated = pd.to_numeric(wide[overall], errors="coerce")
        summed = grades[[c for c, s in columns.items() if s.kind in kinds]].sum(axis=1, min_count=1)
        for row, text, value, total in zip(wide["_row"], wide[overall], stated, summed):
            if pd.isna(value):
                warnings.append(Problem(shown, row, overall, f"not a number ({text!r})", "warning"))
            elif pd.notna(total) and abs(value - total) > 1e-6:
                warnings.append(Problem(shown, row, overall, f"{value:g} differs from the sum of the "
                                                             f"site columns ({total:g})", "warning"))
    return warnings
