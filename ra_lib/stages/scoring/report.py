"""The HTML report of a scoring run: the models, a summary, the joints per kind and every flagged image
with its reason.

Images are named by their content key only: no file name, folder, patient identifier or pseudonym
appears in the report (the tables beside it hold the sources and pseudonyms); joints are only counted.
"""
from __future__ import annotations

import html

import pandas as pd

from ra_lib.stages.scoring.image_scoring import FLAGS
from ra_lib.stages.scoring.joints import DETECTIONS
from ra_lib.stages.scoring.results import flag_counts

STYLE = ("body{font-family:sans-serif;max-width:70em;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}"
         "img{max-width:16em}.flag{color:#b23a1e}")


def _table(rows: list[list], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def summary_rows(images: pd.DataFrame, hands: pd.DataFrame,
                 patients: pd.DataFrame | None = None) -> list[tuple[str, int | str]]:
    """(what, how many) lines of the report's summary (``patients``: :func:`.patients.patient_table`)."""
    selected = images["selection"].value_counts()
    rows = [("images", len(images)), ("scored without a flag", int((images["status"] == "scored").sum())),
            ("flagged", int((images["status"] == "flagged").sum()))]
    rows += [(f"flagged: {flag.replace('_', ' ')}", n) for flag, n in flag_counts(images).items()]
    rows += [(f"selected as {name.replace('_', ' ')}", int(selected.get(name, 0)))
             for name in ("one_hand", "both_hands", "other")]
    rows.append(("hands scored", int(hands["score"].notna().sum())))
    if hands["score"].notna().any():
        rows.append(("mean hand score (SvdH, 0-140)", f"{hands['score'].mean():.1f}"))
    rows.append(("hands with every site graded", int(hands["joint_sum"].notna().sum())))
    if hands["joint_sum"].notna().any():
        rows.append(("mean sum of the hands' predicted grades (SvdH)", f"{hands['joint_sum'].mean():.1f}"))
    if patients is not None and len(patients):
        rows += [("patient visits (pseudonymised in the tables)", len(patients)),
                 ("visits with a score of both hands (0-280)", int(patients["score"].notna().sum())),
                 ("visits with a sum of both hands' grades", int(patients["joint_sum"].notna().sum()))]
    return rows


def joint_summary(joints: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """Per kind: hand sites, how many were found, not found and not scored, the mean P(damaged), how many
    are called damaged (P >= ``threshold``) and how many joints have each predicted grade."""
    rows = []
    for kind, part in joints.groupby("kind", sort=False):
        detection = part["detection"].value_counts()
        grades = part["grade_pred"].dropna().astype(int).value_counts().sort_index()
        rows.append({"kind": kind, "sites": len(part), **{d: int(detection.get(d, 0)) for d in DETECTIONS},
                     "mean P(damaged)": part["p_damaged"].mean(),
                     "called damaged": int((part["p_damaged"] >= threshold).sum()),
                     "joints by predicted grade": ", ".join(f"{g}: {n}" for g, n in grades.items())})
    columns = ["kind", "sites", *DETECTIONS, "mean P(damaged)", "called damaged", "joints by predicted grade"]
    return pd.DataFrame(rows, columns=columns)


def render(images: pd.DataFrame, hands: pd.DataFrame, joints: pd.DataFrame, models: dict[str, str],
           patients: pd.DataFrame | None = None) -> str:
    """The report's HTML; ``models`` maps each stage to a line saying which bundle was used (or why none)."""
    model_rows = [[html.escape(stage), html.escape(text)] for stage, text in models.items()]
    summary = [[html.escape(what), html.escape(str(n))] for what, n in summary_rows(images, hands, patients)]
    by_kind = joint_summary(joints)
    joint_rows = [[html.escape("" if pd.isna(v) else f"{v:.3f}" if isinstance(v, float) else str(v)) for v in row]
                  for row in by_kind.itertuples(index=False)]
    flagged = images[images["status"] == "flagged"]
    flagged_rows = []
    for row in flagged.itertuples(index=False):
        picture = (f'<img src="{html.escape(row.overlay)}" alt="verdict of image {html.escape(row.image_key)}">'
                   if isinstance(row.overlay, str) else "no picture: the file could not be read")
        flagged_rows.append([f"<code>{html.escape(row.image_key)}</code>",
                             f'<span class="flag">{html.escape(row.flags.replace(";", ", "))}</span>',
                             html.escape(row.reasons), picture])
    flags = ", ".join(f.replace("_", " ") for f in FLAGS)
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Scoring report</title>"
            f"<style>{STYLE}</style></head><body><h1>Scoring report</h1>"
            f"<h2>Models</h2>{_table(model_rows, ['stage', 'bundle'])}"
            f"<h2>Summary</h2>{_table(summary, ['', 'images'])}"
            f"<h2>Joints</h2><p>Every site of every hand found: detected by stage 2 (not found: likelihood below "
            "its cut-off or outside the image; not scored: no detector or an unknown hand side), P(damaged) from "
            f"stage 3, the grade from stage 4.</p>{_table(joint_rows, list(by_kind.columns))}"
            f"<h2>Flagged images ({len(flagged)})</h2><p>Flags: {html.escape(flags)}. Images are named by the "
            "first 16 hex digits of their file's SHA-256 (the <code>image_key</code> of the tables).</p>"
            f"{_table(flagged_rows, ['image', 'flags', 'reasons', 'verdict'])}</body></html>\n")
