"""Helpers for the rendered-book checks: where the smoke build is, which pages it must have, its fake PHI,
and the figures each executed notebook shows."""
from __future__ import annotations

import os
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / os.environ.get("RA_BOOK_BUILD", "_build/smoke")
HTML = BUILD / "html"
EXECUTED = BUILD / "executed"
ARTIFACTS = BUILD / "artifacts"
SMOKE_MANIFEST = REPO / "data_manifests" / "synthetic_smoke.yaml"
#: Output types that are figures on a page (myst-nb renders each as an <img>).
FIGURE_TYPES = ("image/png", "image/jpeg", "image/svg+xml")
#: Cell tags whose outputs never reach the page.
REMOVED = {"remove-cell", "remove_cell", "remove-output", "remove_output"}


def expected_pages() -> list[str]:
    """Every page the table of contents names, as paths relative to the HTML root."""
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    return [f"{f}.html" for f in files]


def figure_outputs(notebook) -> list[dict]:
    """The figure outputs of an executed notebook that its page shows, in order."""
    return [output for cell in notebook.cells if cell.cell_type == "code"
            and not REMOVED & set(cell.metadata.get("tags", []))
            for output in cell.get("outputs", []) if any(t in output.get("data", {}) for t in FIGURE_TYPES)]


def saved_figures(stage: str) -> list[Path]:
    """The figures a stage saved next to its artifacts (``ra_lib.core.plots.show(fig, alt, path)``)."""
    folder = ARTIFACTS / stage
    return sorted(p for p in folder.glob("*") if p.suffix in {".png", ".svg"}) if folder.exists() else []


def output_images(html_file: Path) -> list[dict]:
    """The attributes of every <img> inside a notebook cell's output area of a rendered page."""
    class Outputs(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack, self.images = [], []

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "img" and any(self.stack):
                self.images.append(attrs)
            elif tag == "div":
                self.stack.append("cell_output" in (attrs.get("class") or "").split())

        def handle_endtag(self, tag):
            if tag == "div" and self.stack:
                self.stack.pop()

    parser = Outputs()
    parser.feed(html_file.read_text(errors="ignore"))
    return parser.images


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
