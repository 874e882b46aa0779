"""One joint rendered at every grade with the cohort's renderer (the book's cohort page)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ra_lib.cohort.sites import EROSION, JSN, get_site, hand_sites
from .devices import DEVICES
from .grades import SURFACE_BANDS
from .render import Canvas, expose
from .scenes import HandView, draw_hands, place_hands
from .shapes import Similarity
from .skeleton import HandAnatomy, HandState

DEFAULT_SITE = "mcp2"


@dataclass
class JointCrop:
    pixels: np.ndarray  # uint16, MONOCHROME2 sense
    bone_mm: np.ndarray  # bone path length per pixel (the bone mask is bone_mm > 0)
    landmark: tuple[float, float]  # (x, y) px in the crop
    axis: float | None  # joint axis (radians, image frame) for joint landmarks
    gap_mm: float | None  # joint-space width (negative: bridged)


def joint_state(kind: str, site: str, grade: int) -> HandState:
    """An otherwise intact hand with one site at ``grade`` (eroded surface mid-band)."""
    spec = get_site(kind, site)
    if not 0 <= grade <= spec.max_grade:
        raise ValueError(f"grade {grade} outside 0..{spec.max_grade} for {kind}/{site}")
    erosion = {s.site: 0 for s in hand_sites(EROSION)}
    jsn = {s.site: 0 for s in hand_sites(JSN)}
    (erosion if kind == EROSION else jsn)[site] = grade
    lo, hi = SURFACE_BANDS[grade] if kind == EROSION else (0, 0)
    pct = {s: 0 for s in erosion} | ({site: (lo + hi) // 2} if kind == EROSION else {})
    return HandState(erosion, jsn, pct, {})


def render_joint(kind: str, site: str = DEFAULT_SITE, grade: int = 0, seed: int = 0, pixel_mm: float = 0.1,
                 half_mm: float = 9.0, anatomy: HandAnatomy | None = None) -> JointCrop:
    """A square crop (side ``2 * half_mm``) centred on the site's landmark of a right hand."""
    spec = get_site(kind, site)
    view = HandView(("R",), (0.0,), markers="none")
    models, _ = place_hands(anatomy or HandAnatomy(), {"R": joint_state(kind, site, grade)}, view, pixel_mm)
    x, y = models["R"].landmarks[spec.landmark]
    shift = Similarity(offset=(half_mm - x, half_mm - y))
    models = {h: m.moved(shift) for h, m in models.items()}
    n = int(round(2 * half_mm / pixel_mm))
    canvas = Canvas(n, n, pixel_mm, np.random.default_rng([seed, 1]))
    draw_hands(canvas, models)
    pixels = expose(canvas.line_integral(), pixel_mm, DEVICES[0].detector, np.random.default_rng([seed, 2]),
                    q_range=(0.3, 4.0))
    model = models["R"]
    lx, ly = model.landmarks[spec.landmark]
    return JointCrop(pixels, canvas.bone, (lx / pixel_mm - 0.5, ly / pixel_mm - 0.5),
                     model.joint_axes.get(spec.landmark), model.joint_gaps.get(spec.landmark))


def joint_grade_gallery(kind: str, seed: int = 0, site: str = DEFAULT_SITE, pixel_mm: float = 0.1,
                        half_mm: float = 9.0) -> dict[int, np.ndarray]:
    """``{grade: crop}`` for every grade of one site (same noise): float32 in [0, 1], bone bright,
    the convention of ``Cohort.load_image``."""
    spec = get_site(kind, site)
    return {g: render_joint(kind, site, g, seed, pixel_mm, half_mm).pixels.astype(np.float32) / 4095.0
            for g in range(spec.max_grade + 1)}
