"""Ground-truth tables in the manifest layout of ``ra_lib.cohort.schema``, and the RA2-DREAM export."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
from PIL import Image

from ra_lib.cohort.schema import IMAGE_COLUMNS, LANDMARK_COLUMNS, READER_COLUMNS, SCORE_COLUMNS
from ra_lib.cohort.sites import EROSION, HAND_LANDMARKS, HANDS, JSN, hand_sites
from .grades import ReaderParams, read_grades
from .scenes import rotate90
from .skeleton import HandState

#: ``rotated_90``: turned by any quarter turn; ``rot90_k``: ``np.rot90`` turns, ``rotation_ccw_deg`` = 90 x k;
#: ``display``: ``palmar`` / ``dorsal`` convention of a hand image; ``thumb_side``: side of the upright image
#: a single hand's thumb is on; ``collimation``: ``none`` / ``white`` / ``black`` border; ``other_hand_edge``:
#: the edge of the patient's other hand is in a single-hand image; ``background_level``: the grey level the
#: display window gives the direct-exposure background (0: black).
TRUTH_COLUMNS = ("image_id", "view", "body_part_truth", "rotated_90", "rot90_k", "rotation_ccw_deg", "display",
                 "thumb_side", "n_hands", "svdh_total", "svdh_erosion", "svdh_jsn", "photometric", "visit", "ring",
                 "device", "collimation", "other_hand_edge", "background_level")
SITES = hand_sites()


@dataclass(frozen=True)
class ImageRecord:
    """What the tables need to know about one written image."""

    index: int
    image_id: str
    path: str
    patient_id: str
    study_date: str  # ISO
    view: str
    body_part: str  # the DICOM tag as written
    body_part_truth: str
    rot90_k: int
    photometric: str
    visit: int | None
    ring: bool
    device: str
    states: dict[str, HandState]
    landmarks: dict[str, dict[str, tuple[float, float]]]
    display: str  # "palmar", "dorsal" or "" (not a hand)
    thumb_side: str  # "left", "right" or "" (not a single hand)
    collimation: str
    other_hand_edge: bool
    background_level: float


def _csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def _score_rows(rec: ImageRecord):
    for hand in HANDS:
        if hand in rec.states:
            st = rec.states[hand]
            for s in SITES:
                grade = (st.erosion if s.kind == EROSION else st.jsn)[s.site]
                pct = st.eroded_pct[s.site] if s.kind == EROSION else None
                yield rec.image_id, hand, s.kind, s.site, grade, pct


def write_tables(out: Path, records: list[ImageRecord], readers: tuple[ReaderParams, ...], seed: int) -> None:
    """images.csv, joint_scores.csv, landmarks.csv, readers.csv and truth_images.csv."""
    records = sorted(records, key=lambda r: r.image_id)
    images = pd.DataFrame([(r.image_id, r.path, r.patient_id, r.study_date, r.view, r.body_part) for r in records],
                          columns=[*IMAGE_COLUMNS, "body_part"])
    _csv(images, out / "images.csv")

    scores = pd.DataFrame([row for r in records for row in _score_rows(r)], columns=[*SCORE_COLUMNS, "eroded_pct"])
    scores["eroded_pct"] = scores["eroded_pct"].astype("Int64")
    _csv(scores, out / "joint_scores.csv")

    marks = [(r.image_id, hand, name, round(x, 2), round(y, 2))
             for r in records for hand in HANDS if hand in r.landmarks
             for name in HAND_LANDMARKS for x, y in [r.landmarks[hand][name]]]
    _csv(pd.DataFrame(marks, columns=LANDMARK_COLUMNS), out / "landmarks.csv")

    max_grade = np.array([s.max_grade for s in SITES])
    reads = []
    for r in records:
        rows = list(_score_rows(r))
        if not rows:
            continue
        truth = np.array([row[4] for row in rows])
        for k, reader in enumerate(readers):
            rng = np.random.default_rng([seed, 200, r.index, k])
            graded = read_grades(truth, np.tile(max_grade, len(rows) // len(SITES)), reader, rng)
            reads += [(reader.reader_id, *row[:4], int(g)) for row, g in zip(rows, graded)]
    _csv(pd.DataFrame(reads, columns=READER_COLUMNS), out / "readers.csv")

    truth_rows = []
    for r in records:
        rows = list(_score_rows(r))
        ero = sum(row[4] for row in rows if row[2] == EROSION)
        jsn = sum(row[4] for row in rows if row[2] == JSN)
        has = bool(rows)
        truth_rows.append((r.image_id, r.view, r.body_part_truth, r.rot90_k != 0, r.rot90_k, 90 * r.rot90_k,
                           r.display, r.thumb_side, len(r.states), ero + jsn if has else None,
                           ero if has else None, jsn if has else None, r.photometric, r.visit, r.ring, r.device,
                           r.collimation, r.other_hand_edge, r.background_level))
    truth = pd.DataFrame(truth_rows, columns=TRUTH_COLUMNS)
    for col in ("svdh_total", "svdh_erosion", "svdh_jsn", "visit"):
        truth[col] = truth[col].astype("Int64")
    _csv(truth, out / "truth_images.csv")


# --- RA2-DREAM -----------------------------------------------------------------------
RA2_HAND = {"L": "LH", "R": "RH"}


def ra2_columns() -> list[str]:
    """``training.csv`` columns (hands only: the synthetic cohort has no feet)."""
    sites = [f"{RA2_HAND[h]}_{s.ra2_column}" for h in HANDS for s in SITES]
    return ["Patient_ID", "Overall_Tol", "Overall_erosion", "Overall_narrowing", *sites]


def _display_8bit(path: Path) -> np.ndarray:
    ds = pydicom.dcmread(path)
    pixels = ds.pixel_array.astype(np.float32)
    center, width = float(ds.WindowCenter), float(ds.WindowWidth)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        pixels, center = 4095.0 - pixels, 4095.0 - center
    lo = center - width / 2
    return (np.clip((pixels - lo) / width, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def export_ra2(cohort_dir: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """RA2-DREAM layout from a generated cohort: ``{Patient_ID}-{LH|RH}.jpg`` (upright, one hand each,
    first visit with both hands imaged) and a wide ``training.csv`` (hand columns only; Overall_Tol is
    the hands-only total)."""
    src, out = Path(cohort_dir), Path(out_dir)
    images = pd.read_csv(src / "images.csv", dtype={"patient_id": str})
    truth = pd.read_csv(src / "truth_images.csv")
    scores = pd.read_csv(src / "joint_scores.csv")
    marks = pd.read_csv(src / "landmarks.csv")
    hands_img = images.merge(truth[["image_id", "rot90_k"]], on="image_id")
    hands_img = hands_img[hands_img["view"] != "other"]
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for k, (patient, group) in enumerate(sorted(hands_img.groupby("patient_id"), key=lambda g: g[0])):
        visit = _first_complete_visit(group)
        if visit is None:
            continue
        ra2_id = f"SYN{k + 1:04d}"
        row = {"Patient_ID": ra2_id}
        for _, img in visit.iterrows():
            pixels = _display_8bit(src / img["path"])
            lm = marks[marks["image_id"] == img["image_id"]]
            points = {h: {r.landmark: (r.x, r.y) for r in lm[lm["hand"] == h].itertuples()}
                      for h in lm["hand"].unique()}
            pixels, points = rotate90(pixels, points, -int(img["rot90_k"]))
            for hand, crop in _split_hands(pixels, points).items():
                Image.fromarray(crop).save(out / f"{ra2_id}-{RA2_HAND[hand]}.jpg", quality=92)
                hs = scores[(scores["image_id"] == img["image_id"]) & (scores["hand"] == hand)]
                row.update({f"{RA2_HAND[hand]}_{s.ra2_column}": int(g)
                            for s in SITES for g in hs[(hs["kind"] == s.kind) & (hs["site"] == s.site)]["grade"]})
        ero = sum(v for c, v in row.items() if "_E__" in c)
        jsn = sum(v for c, v in row.items() if "_J__" in c)
        row.update(Overall_Tol=ero + jsn, Overall_erosion=ero, Overall_narrowing=jsn)
        rows.append(row)
    _csv(pd.DataFrame(rows, columns=ra2_columns()), out / "training.csv")
    return out


def _first_complete_visit(group: pd.DataFrame) -> pd.DataFrame | None:
    for _, visit in group.sort_values(["study_date", "image_id"]).groupby("study_date", sort=True):
        covered = set()
        for view in visit["view"]:
            covered |= {"both_hands": {"L", "R"}, "left_hand": {"L"}, "right_hand": {"R"}}[view]
        if covered == {"L", "R"}:
            return visit
    return None


def _split_hands(pixels: np.ndarray, points: dict) -> dict[str, np.ndarray]:
    """One crop per hand: a both-hands image is cut midway between the hands' landmarks."""
    if len(points) == 1:
        return {next(iter(points)): pixels}
    right_edge = max(x for x, _ in points["R"].values())  # the right hand is on the viewer's left
    left_edge = min(x for x, _ in points["L"].values())
    cut = int(round((right_edge + left_edge) / 2))
    return {"R": np.ascontiguousarray(pixels[:, :cut]), "L": np.ascontiguousarray(pixels[:, cut:])}
