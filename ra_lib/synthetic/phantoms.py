"""Simpler phantoms of the other body parts in a PACS (paper 000): chest, abdomen, foot,
knee, pelvis, spine and shoulder, built from the same primitives and rendered with the
same detector as the hands."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .devices import OTHER_PARTS
from .markers import add_marker, marker_size, sample_style
from .render import LIMB_BEAM, TRUNK_BEAM, Canvas, Detector, expose
from .shapes import Bone, Cut, Ellipse, Rod, Similarity


@dataclass
class Phantom:
    """A body part in its own frame (mm, y down; paired parts drawn as the left side, AP as if
    the patient faced the viewer); ``size`` = collimated field (width, height)."""

    size: tuple[float, float]
    soft: list = field(default_factory=list)
    extra_soft: list = field(default_factory=list)  # stacked soft tissue (heart, breasts)
    air: list = field(default_factory=list)
    bones: list = field(default_factory=list)
    marker: str = ""  # "L"/"R" for paired parts


def _bone(shape, cortex: float = 1.0, shaft: float = 0.0, cuts=()) -> Bone:
    return Bone("b", (shape,), cortex=cortex, cortex_shaft=shaft, cuts=tuple(cuts))


def _rod(p0, p1, w_base, w_shaft, w_head, depth_ratio=0.9, flat=False) -> Rod:
    return Rod(p0, p1, w_base, w_shaft, w_head, w_base * (3.0 if flat else 1.0), w_head * (3.0 if flat else 1.0),
               depth_ratio, flat)


def _curve_rods(points, width: float, depth_ratio: float = 0.7) -> list[Bone]:
    """One curved bone (a rib, a pubic ramus): overlapping rod segments merged into one shape."""
    rods = []
    for p, q in zip(points, points[1:]):
        d = math.dist(p, q)
        ux, uy = (q[0] - p[0]) / d, (q[1] - p[1]) / d
        rods.append(_rod((p[0] - width * ux, p[1] - width * uy), (q[0] + width * ux, q[1] + width * uy), width, width,
                         width, depth_ratio))
    return [Bone("b", tuple(rods), cortex=0.8)]


def _vertebra(cx: float, cy: float, a: float, b: float) -> list[Bone]:
    body = _bone(Ellipse((cx, cy), a, b, 0.0, 1.6 * a, 4.0), cortex=1.2)
    pedicles = [_bone(Ellipse((cx + s * 0.55 * a, cy - 0.1 * b), 3.5, 5.0, 0.0, 10.0), cortex=1.0) for s in (-1, 1)]
    spinous = _bone(Ellipse((cx, cy + 0.3 * b), 3.0, 6.0, 0.0, 10.0), cortex=1.0)
    transverse = [_bone(_rod((cx + s * 0.6 * a, cy), (cx + s * 1.6 * a, cy - 2.0), 4.0, 3.0, 3.5, 0.8), cortex=0.8)
                  for s in (-1, 1)]
    return [body, spinous, *pedicles, *transverse]


def _spine(ph: Phantom, cx: float, y0: float, n: int, a: float, b: float, disc: float) -> None:
    for k in range(n):
        ph.bones += _vertebra(cx, y0 + k * (2 * b + disc), a * (1 + 0.03 * k), b)


def _bowel_gas(ph: Phantom, rng: np.random.Generator, center, spread, n: int) -> None:
    for _ in range(n):
        c = (center[0] + rng.normal(0, spread[0]), center[1] + rng.normal(0, spread[1]))
        ph.air.append(Ellipse(c, rng.uniform(6, 22), rng.uniform(5, 14), rng.uniform(0, math.pi),
                              rng.uniform(15, 40)))


def chest(rng: np.random.Generator) -> Phantom:
    ph = Phantom((380.0, 420.0))
    ph.soft += [Ellipse((190, 260), 178, 250, 0.0, 230, 2.2), _rod((190, -30), (190, 60), 55, 50, 55, 0.8)]
    ph.air += [Ellipse((118, 200), 62, 132, 0.0, 150), Ellipse((264, 205), 58, 126, 0.0, 140)]
    ph.extra_soft += [Ellipse((215, 285), 72, 58, math.radians(-25), 60)]
    if rng.random() < 0.5:  # breasts
        ph.extra_soft += [Ellipse((190 + s * 85, 345), 70, 45, 0.0, 30) for s in (-1, 1)]
    _spine(ph, 190, 20, 13, 16, 10, 5)
    for side in (-1, 1):
        for k in range(10):
            y0 = 55 + 27 * k
            reach = 140 - 4 * abs(k - 4)
            pts = [(190 + side * (14 + reach * t), y0 - 22 * math.sin(math.pi * t * 0.8) + 55 * t * t)
                   for t in np.linspace(0, 1, 8)]
            ph.bones += _curve_rods(pts, 4.5)
        ph.bones.append(_bone(_rod((190 + side * 18, 62), (190 + side * 125, 40), 7, 5.5, 7, 0.8), cortex=1.5))
        ph.bones.append(_bone(Ellipse((190 + side * 150, 120), 70, 32, math.radians(90 + side * 12), 8), cortex=1.0))
        ph.bones.append(_bone(Ellipse((190 + side * 185, 60), 26, 26, 0.0, 50), cortex=1.2))
    return ph


def abdomen(rng: np.random.Generator) -> Phantom:
    ph = Phantom((350.0, 430.0))
    ph.soft.append(Ellipse((175, 215), 175, 260, 0.0, 220, 2.4))
    _spine(ph, 175, 20, 5, 24, 14, 9)
    _pelvis_bones(ph, 175, 370, 0.9)
    _bowel_gas(ph, rng, (175, 230), (80, 90), int(rng.integers(10, 30)))
    return ph


def _pelvis_bones(ph: Phantom, cx: float, cy: float, k: float) -> None:
    ph.bones.append(_bone(Ellipse((cx, cy), 42 * k, 55 * k, 0.0, 40 * k, 2.2), cortex=1.5))  # sacrum
    for s in (-1, 1):
        ph.bones.append(_bone(Ellipse((cx + s * 95 * k, cy - 10 * k), 75 * k, 55 * k, math.radians(s * 25), 12 * k),
                              cortex=1.8))


def pelvis(rng: np.random.Generator) -> Phantom:
    ph = Phantom((420.0, 330.0))
    ph.soft.append(Ellipse((210, 170), 215, 180, 0.0, 220, 2.6))
    _pelvis_bones(ph, 210, 110, 1.0)
    ph.bones += _vertebra(210, 18, 25, 14)
    for s in (-1, 1):
        head = Ellipse((210 + s * 95, 205), 24, 24, 0.0, 46)
        ph.bones.append(_bone(head, cortex=1.2))
        ph.bones.append(_bone(Ellipse((210 + s * 92, 180), 30, 10, 0.0, 25), cortex=1.5))  # acetabular roof
        neck_end = (210 + s * 140, 240)
        ph.bones.append(_bone(_rod((210 + s * 100, 210), neck_end, 14, 12, 18, 0.9), cortex=1.5))
        ph.bones.append(_bone(_rod(neck_end, (210 + s * 150, 360), 18, 14, 14, 0.9), cortex=1.2, shaft=5.0))
        ph.bones.append(_bone(Ellipse((210 + s * 152, 232), 16, 20, 0.0, 30), cortex=1.0))  # greater trochanter
        ph.bones += _curve_rods([(210 + s * 80, 215), (210 + s * 40, 225), (210 + s * 9, 238)], 7.0, 0.9)
        ph.bones += _curve_rods([(210 + s * 10, 262), (210 + s * 45, 282), (210 + s * 75, 262)], 8.0, 0.9)
    _bowel_gas(ph, rng, (210, 80), (70, 30), int(rng.integers(3, 12)))
    return ph


def spine(rng: np.random.Generator) -> Phantom:
    ph = Phantom((220.0, 420.0))
    ph.soft.append(Ellipse((110, 210), 170, 300, 0.0, 220, 2.4))
    _spine(ph, 110, 35, 5, 25, 15, 10)
    _pelvis_bones(ph, 110, 430, 0.9)
    _bowel_gas(ph, rng, (110, 200), (60, 100), int(rng.integers(4, 14)))
    return ph


def knee(rng: np.random.Generator) -> Phantom:
    ph = Phantom((200.0, 300.0), marker=str(rng.choice(["L", "R"])))
    ph.soft.append(_rod((100, -60), (100, 360), 62, 55, 50, 0.9))
    condyles = [Ellipse((100 + s * 21, 148), 21, 24, 0.0, 52, 2.2) for s in (-1, 1)]
    ph.bones.append(_bone(_rod((100, -80), (100, 140), 15, 15, 34, 0.85, flat=True), cortex=1.2, shaft=4.5))
    ph.bones += [_bone(c, cortex=1.0) for c in condyles]
    plateau = [Cut(c, 5.0, 0.8) for c in condyles]
    ph.bones.append(_bone(_rod((100, 380), (100, 168), 15, 15, 38, 0.85, flat=True), cortex=1.0, shaft=4.5,
                          cuts=plateau))
    ph.bones.append(_bone(_rod((138, 380), (134, 192), 6, 6, 9.5, 0.9), cortex=1.0, shaft=2.0))  # fibula
    ph.bones.append(_bone(Ellipse((100, 132), 21, 24, 0.0, 22), cortex=1.0))  # patella
    return ph


def foot(rng: np.random.Generator) -> Phantom:
    """Dorsoplantar foot: toes up (paper 000's hand look-alike)."""
    ph = Phantom((160.0, 290.0), marker=str(rng.choice(["L", "R"])))
    soft = [Ellipse((78, 205), 44, 75, 0.0, 55, 2.6), Ellipse((82, 105), 52, 55, 0.0, 45, 2.8)]
    tarsals = [((70, 235), 16, 22, 45), ((60, 200), 13, 8, 30), ((100, 205), 12, 16, 30), ((48, 178), 8, 11, 25),
               ((68, 176), 6, 10, 22), ((84, 178), 7, 10, 22), ((80, 270), 20, 28, 50)]
    ph.bones += [_bone(Ellipse(c, a, b, 0.0, d, 2.5), cortex=0.8) for c, a, b, d in tarsals]
    rays = [(48, 165, 60, -8, 7.5, 5.0), (66, 163, 72, -3, 5.0, 3.5), (80, 165, 66, 2, 4.8, 3.3),
            (93, 170, 62, 7, 4.6, 3.2), (105, 176, 58, 14, 5.5, 3.2)]
    for i, (x, y, length, tilt, wb, ws) in enumerate(rays):
        ang = math.radians(-90 + tilt)
        end = (x + length * math.cos(ang), y + length * math.sin(ang))
        ph.bones.append(_bone(_rod((x, y), end, wb, ws, wb * 0.9), cortex=0.7, shaft=1.2))
        p = end
        lengths = (30, 24) if i == 0 else (20, 10, 8)
        for k, pl in enumerate(lengths):
            q = (p[0] + (pl + 1.5) * math.cos(ang), p[1] + (pl + 1.5) * math.sin(ang))
            w = (wb * 0.95 if i == 0 else 4.0) * (0.85 ** k)
            start = (p[0] + 1.5 * math.cos(ang), p[1] + 1.5 * math.sin(ang))
            ph.bones.append(_bone(_rod(start, q, w, 0.7 * w, 0.8 * w), cortex=0.5))
            p = q
        soft.append(_rod((x, y - length * 0.5), (p[0], p[1] - 4), 11 if i == 0 else 8, 10 if i == 0 else 7,
                         9 if i == 0 else 6, 0.8))
    ph.soft += soft
    return ph


def shoulder(rng: np.random.Generator) -> Phantom:
    ph = Phantom((250.0, 250.0), marker=str(rng.choice(["L", "R"])))
    ph.soft.append(Ellipse((110, 160), 200, 190, 0.0, 160, 2.4))
    ph.air.append(Ellipse((20, 175), 75, 125, 0.0, 120))
    for k in range(6):
        y0 = 100 + 30 * k
        ph.bones += _curve_rods([(-20 + 25 * t, y0 + 8 * t) for t in range(6)], 4.5)
    ph.bones.append(_bone(Ellipse((92, 150), 75, 32, math.radians(100), 9), cortex=1.0))  # scapula
    ph.bones.append(_bone(Ellipse((113, 112), 22, 7, math.radians(95), 24), cortex=1.2))  # glenoid
    ph.bones.append(_bone(Ellipse((146, 108), 26, 26, 0.0, 50), cortex=1.2))  # humeral head
    ph.bones.append(_bone(_rod((150, 112), (168, 300), 22, 13, 13, 0.9), cortex=1.2, shaft=4.0))
    ph.bones.append(_bone(_rod((98, 70), (168, 64), 9, 7, 10, 0.7), cortex=1.5))  # acromion
    ph.bones.append(_bone(_rod((-10, 70), (150, 56), 8, 7, 9, 0.8), cortex=1.5))  # clavicle
    ph.bones.append(_bone(Ellipse((122, 88), 10, 6, math.radians(20), 14), cortex=1.0))  # coracoid
    return ph


BUILDERS = {"chest": chest, "abdomen": abdomen, "foot": foot, "knee": knee, "pelvis": pelvis, "spine": spine,
            "shoulder": shoulder}
LIMB_PARTS = ("foot", "knee", "shoulder")
assert set(BUILDERS) == set(OTHER_PARTS)


@dataclass
class OtherImage:
    pixels: np.ndarray
    laterality: str  # "L", "R" or "" (unpaired)


def render_other(part: str, pixel_mm: float, detector: Detector, rng: np.random.Generator) -> OtherImage:
    """A radiograph of a non-hand body part, randomly sized, tilted and mirrored (left/right)."""
    if part not in BUILDERS:
        raise ValueError(f"unknown body part {part!r}; expected one of {sorted(BUILDERS)}")
    ph = BUILDERS[part](rng)
    w, h = ph.size
    scale = float(np.exp(rng.normal(0, 0.06)))
    flip = ph.marker == "R"  # the paired phantoms are drawn as left-side parts
    t = Similarity(scale, math.radians(rng.normal(0, 3)), flip_x=flip)
    center = t.point((w / 2, h / 2))
    t = Similarity(t.scale, t.angle, flip, False, (w / 2 - center[0] + rng.normal(0, 6),
                                                     h / 2 - center[1] + rng.normal(0, 6)))
    beam = LIMB_BEAM if part in LIMB_PARTS else TRUNK_BEAM
    canvas = Canvas(int(math.ceil(h / pixel_mm)), int(math.ceil(w / pixel_mm)), pixel_mm, rng, beam)
    for s in ph.soft:
        canvas.add_soft(s.moved(t))
    for s in ph.extra_soft:
        canvas.add_tissue(s.moved(t))
    for s in ph.air:
        canvas.add_air(s.moved(t))
    for bone in ph.bones:
        canvas.add_bone(bone.moved(t))
    letter = ph.marker or str(rng.choice(["L", "R"]))
    style = sample_style(rng)
    add_marker(canvas, letter, (6.0, 6.0) if rng.random() < 0.5 else (w - marker_size(style)[0] - 6.0, 6.0), style)
    pixels = expose(canvas.line_integral(), pixel_mm, replace(detector, gamma=1.0), rng,
                    equalize=0.0 if part in LIMB_PARTS else 0.7)  # the hand rooms' tone curve is for hands
    return OtherImage(pixels, ph.marker)
