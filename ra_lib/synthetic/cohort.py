"""Cohort orchestration: plan patients, visits and images from a seed, render, write atomically."""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ra_lib.cohort.sites import EROSION, HANDS
from .devices import DEVICES, Device
from .dicom_io import DicomHeader, write_dicom
from .export import ImageRecord, write_tables
from .grades import EROSION_SITES, SITES, eroded_percent, grades_at, sample_disease
from .people import Person, age_string, date_after, sample_people, study_key, study_time, visit_offsets_years
from .phantoms import render_other
from .render import vary
from .scenes import Framing, render_hand_image, rotate90, sample_view, thumb_side
from .settings import GENERATOR_VERSION, VISIT_PATTERNS, CohortSettings, resolve_settings
from .skeleton import HandAnatomy, HandState, sample_anatomy

_PATTERN_VIEWS = {"both_hands": [("both_hands", ("R", "L"))], "pair": [("right_hand", ("R",)), ("left_hand", ("L",))]}
_DESCRIPTIONS = {"both_hands": "XR HANDS BOTH PA", "left_hand": "XR HAND PA", "right_hand": "XR HAND PA"}


@dataclass(frozen=True)
class ImageJob:
    """Everything needed to render and write one image (picklable for worker processes)."""

    seed: int
    index: int
    image_id: str
    person: Person
    view: str
    body_part: str  # truth: "hand" or an other body part
    visit: int | None
    study_date: dt.date
    study_key: int
    device: Device
    pixel_mm: float
    rot90_k: int  # counter-clockwise quarter turns of the finished image
    dorsal: bool  # display convention of a hand image (``scenes``)
    anatomy: HandAnatomy | None
    states: dict[str, HandState]
    framing: Framing
    processing_spread: float
    background_level: float  # grey level of the direct-exposure background in the display window (0: black)


def _rng(seed: int, *tags: int) -> np.random.Generator:
    return np.random.default_rng([seed, *tags])


def _allocate(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Integer counts proportional to ``weights`` summing to ``total`` (largest remainder)."""
    names = [n for n in VISIT_PATTERNS if weights.get(n, 0) > 0]
    share = np.array([weights[n] for n in names], float)
    exact = total * share / share.sum()
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: total - counts.sum()]:
        counts[i] += 1
    return dict(zip(names, counts.tolist()))


def _hand_state(grades: np.ndarray, pct: np.ndarray, jitter: np.ndarray) -> HandState:
    erosion = {s.site: int(g) for s, g in zip(SITES, grades) if s.kind == EROSION}
    jsn = {s.site: int(g) for s, g in zip(SITES, grades) if s.kind != EROSION}
    return HandState(erosion, jsn, {s.site: int(p) for s, p in zip(EROSION_SITES, pct)},
                     {s.site: float(j) for s, j in zip(EROSION_SITES, jitter)})


def plan_cohort(settings: CohortSettings, seed: int) -> list[ImageJob]:
    """Every image of the cohort, in image-id order."""
    n = settings.n_patients
    people = sample_people(n, _rng(seed, 1), settings.n_devices, settings.female_fraction)
    disease = sample_disease(n, settings.grades, _rng(seed, 2))
    anatomies = [sample_anatomy(_rng(seed, 3, i), p.sex == "F", float(disease.load[i])) for i, p in enumerate(people)]
    jitter = _rng(seed, 4).random((n, len(HANDS), len(EROSION_SITES)))
    per_patient = 1 + _rng(seed, 5).multinomial(settings.n_visits - n, np.full(n, 1.0 / n))
    visits = [(i, k, t) for i in range(n) for k, t in enumerate(visit_offsets_years(per_patient[i], _rng(seed, 6, i)))]
    patients = np.array([v[0] for v in visits])
    grades = grades_at(disease, patients, np.array([v[2] for v in visits]), settings.grades)
    pct = eroded_percent(grades[:, :, : len(EROSION_SITES)], disease.surface_u[patients])

    rng = _rng(seed, 7)
    counts = _allocate(len(visits), settings.visit_patterns)
    patterns = rng.permutation([name for name, c in counts.items() for _ in range(c)])
    specs = []  # (patient, visit number, date, view, hands)
    for (i, k, years), pattern, g, p in zip(visits, patterns, grades, pct):
        views = _PATTERN_VIEWS.get(pattern) or [_PATTERN_VIEWS["pair"][int(rng.integers(2))]]
        states = {h: _hand_state(g[j], p[j], jitter[i, j]) for j, h in enumerate(HANDS)}
        for view, hands in views:
            specs.append((i, k, date_after(people[i].first_visit, years), view, {h: states[h] for h in hands}))
    n_hand = len(specs)
    n_other = int(round(settings.other_fraction / (1 - settings.other_fraction) * n_hand))
    parts = [settings.other_parts[j] for j in rng.permutation(len(settings.other_parts))]
    for j in range(n_other):
        i = int(rng.integers(n))
        date = date_after(people[i].first_visit, float(rng.uniform(-1.0, 1.0 + per_patient[i])))
        specs.append((i, None, date, "other:" + parts[j % len(parts)], {}))
    order = rng.permutation(len(specs))
    turns = _rng(seed, 8)
    n_rot = int(round(settings.rotated_fraction * len(specs)))
    rotated = set(turns.choice(len(specs), size=n_rot, replace=False).tolist()) if n_rot else set()
    k90 = [int(turns.choice([1, 2, 3])) if idx in rotated else 0 for idx in range(len(specs))]
    dorsal = turns.random(len(specs)) < settings.dorsal_fraction
    framing = Framing(tuple(settings.margin_mm), tuple(settings.forearm_mm), settings.collimated_fraction,
                      settings.other_edge_fraction)
    windows = _rng(seed, 9)
    grey = windows.random(len(specs)) < settings.grey_background_fraction
    levels = np.where(grey, windows.uniform(*settings.grey_background_level, len(specs)), 0.0)

    jobs = []
    for rank, idx in enumerate(order):
        i, k, date, view, states = specs[idx]
        part = view.split(":")[1] if view.startswith("other:") else "hand"
        device_index = people[i].device if part == "hand" else int(rng.integers(settings.n_devices))
        device = DEVICES[device_index]
        pitch = settings.pixel_mm * device.pixel_factor * (1.0 if part == "hand" else settings.other_pixel_factor)
        jobs.append(ImageJob(seed, int(idx), f"IMG{rank + 1:06d}", people[i], "other" if part != "hand" else view,
                             part, k, date, study_key(seed, people[i], date), device, round(pitch, 4), k90[idx],
                             bool(dorsal[idx]) and part == "hand", anatomies[i] if part == "hand" else None, states,
                             framing, settings.processing_spread, round(float(levels[idx]), 4)))
    return jobs


def make_image(job: ImageJob, out_dir: Path) -> ImageRecord:
    """Render one planned image, write its DICOM under ``out_dir/images`` and describe it."""
    rng = _rng(job.seed, 100, job.index)
    device = job.device
    detector = vary(device.detector, _rng(job.seed, 102, job.index), job.processing_spread)
    view = None
    if job.body_part == "hand":
        hands = tuple(h for h in ("R", "L") if h in job.states)
        view = sample_view(rng, hands, job.rot90_k, job.dorsal, job.framing)
        image = render_hand_image(job.anatomy, job.states, view, job.pixel_mm, detector, rng)
        pixels, landmarks = image.pixels, image.landmarks
        laterality = "B" if len(hands) == 2 else hands[0]
        description, position = _DESCRIPTIONS[job.view], "PA"
    else:
        other = render_other(job.body_part, job.pixel_mm, detector, rng)
        pixels, landmarks = rotate90(other.pixels, {}, job.rot90_k)
        laterality = other.laterality
        description = f"XR {job.body_part.upper()}"
        position = "PA" if job.body_part == "chest" else "AP"
    tag = device.body_part_tag(job.body_part, _rng(job.seed, 101, job.index))
    p = job.person
    accession = f"A{job.study_key:010d}"
    age = age_string(p.birth_date, job.study_date)
    header = DicomHeader(job.seed, job.image_id, p.name, p.mrn, p.birth_date, p.sex, age,
                         job.study_date, study_time(job.study_key), accession, description, device.modality, device.photometric,
                         device.manufacturer, device.model, device.institution, device.name.upper(), tag, position,
                         laterality, job.pixel_mm, device.kvp)
    rel = f"images/{job.image_id}.dcm"
    write_dicom(out_dir / rel, pixels, header, job.background_level)
    single = view is not None and len(view.hands) == 1
    return ImageRecord(job.index, job.image_id, rel, p.mrn, job.study_date.isoformat(), job.view, tag, job.body_part,
                       job.rot90_k, device.photometric, job.visit, bool(job.anatomy and job.anatomy.ring),
                       device.name, job.states, landmarks,
                       "" if view is None else ("dorsal" if view.dorsal else "palmar"),
                       thumb_side(view.hands[0], view.dorsal) if single else "",
                       view.collimation.outside if view is not None and view.collimation else "none",
                       bool(view is not None and view.other_edge_mm > 0), job.background_level)


def _stamp(settings: CohortSettings, seed: int) -> dict:
    return {"generator_version": GENERATOR_VERSION, "seed": seed, "settings": settings.to_dict()}


def generate_cohort(out_dir: str | os.PathLike, profile: str = "quick", seed: int = 0, workers: int = 1,
                    **overrides) -> Path:
    """Write a synthetic cohort (DICOM images + manifest tables) to ``out_dir`` and return it.

    Deterministic in (profile settings, overrides, seed). Written into a temporary folder
    next to ``out_dir`` and renamed into place; returns at once when ``out_dir`` already
    holds a complete cohort with the same settings (``generator.json``); a cohort with other
    settings is replaced, any other non-empty folder is refused. ``workers`` > 1 renders in
    that many processes (same files).
    """
    settings = resolve_settings(profile, **overrides)
    out = Path(out_dir)
    stamp = json.dumps(_stamp(settings, seed), indent=2, sort_keys=True)
    marker = out / "generator.json"
    if marker.is_file() and marker.read_text() == stamp:
        return out
    if out.exists() and not marker.is_file() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty and holds no synthetic cohort (no generator.json); "
                              "refusing to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "images").mkdir(parents=True)
    jobs = plan_cohort(settings, seed)
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            records = list(pool.map(make_image, jobs, [tmp] * len(jobs), chunksize=4))
    else:
        records = [make_image(job, tmp) for job in jobs]
    write_tables(tmp, records, settings.readers, seed)
    (tmp / "generator.json").write_text(stamp)
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return out
