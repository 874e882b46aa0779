"""Helpers for the rendered-book checks: where the smoke build is, which pages it must have, its fake PHI."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / os.environ.get("RA_BOOK_BUILD", "_build/smoke")
HTML = BUILD / "html"
EXECUTED = BUILD / "executed"
SMOKE_MANIFEST = REPO / "data_manifests" / "synthetic_smoke.yaml"


def expected_pages() -> list[str]:
    """Every page the table of contents names, as paths relative to the HTML root."""
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    return [f"{f}.html" for f in files]


def fake_phi() -> set[str]:
    """The synthetic cohort's fake identifiers as they could appear in text: ids, full names, birth dates.

    Single name parts are left out: a family name such as "Mark" is also an English word.
    """
    import pydicom

    manifest = yaml.safe_load(SMOKE_MANIFEST.read_text())
    root = (SMOKE_MANIFEST.parent / manifest["data_root"]).resolve()
    images = pd.read_csv(root / manifest["tables"]["images"], dtype=str)
    values = set(images["patient_id"])
    for path in images["path"]:
        ds = pydicom.dcmread(root / path, stop_before_pixels=True)
        parts = [p for p in str(ds.get("PatientName", "")).split("^") if p]
        if parts:  # the DICOM form and both reading orders of the full name
            values |= {"^".join(parts), " ".join(parts), " ".join(reversed(parts))}
        birth = str(ds.get("PatientBirthDate", ""))
        if len(birth) == 8:
            values |= {birth, f"{birth[:4]}-{birth[4:6]}-{birth[6:]}"}
    return {v for v in values if len(v) >= 4}
