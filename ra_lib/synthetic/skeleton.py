"""Parametric hand skeleton: bones, soft-tissue envelope, joint damage and landmarks.

Built in a *hand frame* (mm; x toward the thumb, y toward the fingertips, origin at
the distal radius) for a right hand and moved into the detector frame by a
:class:`~.shapes.Similarity` (a left hand is the mirror image).

Joints are surfaces: the concave partner is cut by the convex partner grown by the
joint-space width ``g`` (``g`` shrinks with the JSN grade; at grade 4 it is negative:
the gap is bridged). Erosions are :class:`~.shapes.Bite` s on the articular margins
whose size follows the eroded-surface percentage.

Landmarks (``ra_lib.cohort.sites.HAND_LANDMARKS``):

* *bone landmarks* ``mc1, trapezium, scaphoid, lunate, radius, ulna`` lie inside their
  bone (first-metacarpal base, carpal centres, distal radius 7 mm below its articular
  surface, centre of the ulnar head);
* every other landmark is a *joint landmark*: the midpoint of the joint space on the
  joint axis (``HandModel.joint_axes``). The convex surface lies ``g/2`` before it and
  the concave surface ``g/2`` after it along the axis (``HandModel.joint_gaps``); at
  ankylosis (``g <= 0``) the point lies on bone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .shapes import Band, Bite, Bone, Cut, Ellipse, Rod, Similarity, union_bounds

BONE_LANDMARKS = ("mc1", "trapezium", "scaphoid", "lunate", "radius", "ulna")
#: Joint-space width as a fraction of normal, per JSN grade (4 = ankylosis: bones overlap).
JSN_GAP_FACTOR = (1.0, 0.75, 0.5, 0.25, -0.15)
#: Normal joint-space widths (mm) of the scored joints.
NORMAL_GAP = {"mcp1": 1.5, "ip": 1.0, "radiocarpal": 2.0, "capitate_scaphoid_lunate": 1.5,
              "trapezium_scaphoid": 1.5, "cmc3": 1.3, "cmc4": 1.3, "cmc5": 1.3,
              **{f"mcp{i}": 1.8 for i in range(2, 6)}, **{f"pip{i}": 1.2 for i in range(2, 6)}}
FIXED_GAP = {"dip": 1.0, "intercarpal": 1.1, "cmc1": 1.3, "cmc2": 1.3}
PLATE = 0.6  # subchondral plate thickness (mm)
OVERLAP = 2.0  # how far a concave partner reaches into its convex partner before cutting (mm)

_CARPALS = {  # centre, a, b, angle (deg, of the a axis), depth, superellipse power
    "scaphoid": ((10.0, 8.0), 10.0, 5.6, 60.0, 10.0, 2.4),
    "lunate": ((-2.5, 6.0), 7.0, 6.0, 0.0, 12.0, 2.6),
    "triquetrum": ((-12.5, 9.5), 5.5, 6.0, -30.0, 9.0, 2.6),
    "pisiform": ((-13.5, 12.5), 4.3, 4.0, 0.0, 6.0, 2.2),
    "capitate": ((1.0, 19.0), 6.0, 10.0, 0.0, 13.0, 2.6),
    "hamate": ((-9.5, 19.0), 6.0, 8.5, -10.0, 12.0, 2.6),
    "trapezoid": ((9.5, 22.5), 4.6, 6.0, 10.0, 10.0, 2.8),
    "trapezium": ((17.5, 19.5), 6.0, 7.0, 35.0, 11.0, 2.6),
}
#: Metacarpals: carpal partner, ray angle from the partner's centre, axis angle (deg; 90 = distal),
#: length, half-widths base/shaft/head.
_METACARPALS = {
    1: ("trapezium", 48.0, 52.0, 46.0, (7.2, 4.6, 6.5)),
    2: ("trapezoid", 88.0, 82.0, 68.0, (6.6, 4.3, 5.7)),
    3: ("capitate", 90.0, 89.0, 65.0, (6.8, 4.4, 5.9)),
    4: ("hamate", 70.0, 96.0, 58.0, (5.6, 3.8, 5.2)),
    5: ("hamate", 108.0, 104.0, 53.0, (5.8, 3.9, 5.1)),
}
#: Phalanges per ray: (length, (base, shaft, head)) proximal -> distal; ray 1 is the thumb.
_PHALANGES = {
    1: ((31.0, (6.0, 4.2, 5.0)), (23.0, (5.5, 3.4, 4.0))),
    2: ((40.0, (5.6, 4.0, 4.7)), (23.0, (4.8, 3.5, 4.0)), (17.0, (4.2, 2.7, 3.3))),
    3: ((44.0, (5.8, 4.2, 4.9)), (28.0, (5.0, 3.7, 4.2)), (19.0, (4.3, 2.8, 3.4))),
    4: ((41.0, (5.5, 3.9, 4.7)), (27.0, (4.8, 3.5, 4.0)), (19.0, (4.1, 2.7, 3.3))),
    5: ((33.0, (4.9, 3.5, 4.1)), (19.0, (4.2, 3.0, 3.5)), (17.0, (3.8, 2.4, 3.0))),
}
_SPREAD = {1: 8.0, 2: -3.0, 3: 0.0, 4: 3.0, 5: 6.0}  # finger angle at the MCP (deg, + = ulnar)


@dataclass(frozen=True)
class HandAnatomy:
    """A patient's hand, shared by both hands and all visits."""

    scale: float = 1.0
    length_jitter: tuple[float, ...] = (0.0,) * 19  # per metacarpal/phalanx, relative
    spread: float = 1.0
    thumb_abduction: float = 0.0  # deg
    ulnar_drift: float = 0.0  # deg, grows with disease load
    soft: float = 1.0
    bmd: float = 1.0  # trabecular density factor
    periarticular_loss: float = 0.0  # juxta-articular osteopenia of the hand's long bones
    gap: float = 1.0  # normal joint-space factor
    ring: bool = False


@dataclass(frozen=True)
class HandState:
    """What one hand shows at one visit: grades per site, eroded surface and bite placement."""

    erosion: dict[str, int]
    jsn: dict[str, int]
    eroded_pct: dict[str, int]
    bite_jitter: dict[str, float]

    @classmethod
    def intact(cls) -> "HandState":
        return cls({}, {}, {}, {})


@dataclass(frozen=True)
class HandModel:
    bones: tuple[Bone, ...]
    soft: tuple[Ellipse | Rod, ...]
    metal: tuple[Band, ...]
    landmarks: dict[str, tuple[float, float]]
    joint_axes: dict[str, float]
    joint_gaps: dict[str, float]

    def moved(self, t: Similarity) -> "HandModel":
        return HandModel(tuple(b.moved(t) for b in self.bones), tuple(s.moved(t) for s in self.soft),
                         tuple(m.moved(t) for m in self.metal),
                         {k: t.point(p) for k, p in self.landmarks.items()},
                         {k: t.direction(a) for k, a in self.joint_axes.items()},
                         {k: g * t.scale for k, g in self.joint_gaps.items()})

    def bounds(self) -> tuple[float, float, float, float]:
        """Extent of the soft tissue, forearm excluded."""
        return union_bounds(s.bounds() for s in self.soft[1:])

    def forearm_point(self, distance: float) -> tuple[float, float]:
        """Point on the forearm axis ``distance`` mm proximal to the radiocarpal joint."""
        forearm = self.soft[0]
        ang = forearm.axis + math.pi
        x, y = self.landmarks["radiocarpal"]
        return (x + distance * math.cos(ang), y + distance * math.sin(ang))


def sample_anatomy(rng: np.random.Generator, female: bool, load: float) -> HandAnatomy:
    """A patient's hand; ``load`` (disease load z-score) drives (periarticular) osteopenia and ulnar drift."""
    drift = float(np.clip((load - 0.7) * 10.0 + rng.normal(0, 3), 0, 25))
    return HandAnatomy(
        scale=float((0.95 if female else 1.05) * np.exp(rng.normal(0, 0.05))),
        length_jitter=tuple(float(v) for v in rng.normal(0, 0.025, 19)),
        spread=float(np.clip(rng.normal(1.0, 0.25), 0.4, 1.6)),
        thumb_abduction=float(rng.normal(0, 6)),
        ulnar_drift=drift,
        soft=float(np.clip(rng.normal(1.0, 0.08), 0.8, 1.25)),
        bmd=float(np.clip(rng.normal(1.0, 0.1) - 0.06 * max(load, 0), 0.6, 1.3)),
        periarticular_loss=float(np.clip(0.12 * (load + 1.0), 0.0, 0.35)),
        gap=float(np.clip(rng.normal(1.0, 0.08), 0.8, 1.2)),
        ring=bool(female and rng.random() < 0.15),
    )


def _deg(a: float) -> float:
    return math.radians(a)


def _ellipse(name: str) -> Ellipse:
    c, a, b, ang, depth, power = _CARPALS[name]
    return Ellipse(c, a, b, _deg(ang), depth, power)


def _gap(name: str, anatomy: HandAnatomy, state: HandState) -> float:
    return NORMAL_GAP[name] * anatomy.gap * JSN_GAP_FACTOR[state.jsn.get(name, 0)]


def _cut(shape: Ellipse, gap: float) -> Cut:
    return Cut(shape, gap, PLATE if gap > 0 else 0.0)


def _rod(start, angle: float, length: float, widths, base_cap: float | None = None) -> Rod:
    wb, ws, wh = widths
    end = (start[0] + length * math.cos(angle), start[1] + length * math.sin(angle))
    return Rod(start, end, wb, ws, wh, base_cap or 1.6 * wb, wh)


def _head_circle(rod: Rod) -> Ellipse:
    return Ellipse(rod.head_center, rod.head_cap, rod.head_cap)


def _ray_point(shape: Ellipse, direction: float, inset: float) -> tuple[float, float]:
    t = shape.boundary_along(direction) - inset
    return (shape.center[0] + t * math.cos(direction), shape.center[1] + t * math.sin(direction))


class _Builder:
    """Accumulates landmarks, joint axes/gaps and erosion bites of one hand (hand frame)."""

    def __init__(self, anatomy: HandAnatomy, state: HandState):
        self.anatomy, self.state = anatomy, state
        self.landmarks: dict[str, tuple[float, float]] = {}
        self.axes: dict[str, float] = {}
        self.gaps: dict[str, float] = {}
        self.bites: dict[str, list[Bite]] = {}

    def joint(self, name: str, convex: Ellipse, direction: float, gap: float) -> None:
        """Landmark midway between ``convex``'s surface and the same surface grown by ``gap``."""
        t = (convex.boundary_along(direction) + convex.grown(gap).boundary_along(direction)) / 2
        self.landmarks[name] = (convex.center[0] + t * math.cos(direction), convex.center[1] + t * math.sin(direction))
        self.axes[name] = direction
        self.gaps[name] = gap

    def jitter(self, site: str) -> float:
        return self.state.bite_jitter.get(site, 0.5) - 0.5

    def erode(self, site: str, bone: str, margins: list, ref_radius: float) -> None:
        """Bites on ``bone`` at the margins, sized by the site's eroded-surface percentage.

        The first bite grows up to 40 %, a second appears above 20 % and a third above 50 %;
        no bite ever shrinks as the percentage rises.
        """
        pct = self.state.eroded_pct.get(site, 0) if self.state.erosion.get(site, 0) > 0 else 0
        depth = 0.7 + 0.3 * min(1.0, pct / 40.0)
        for margin, share in zip(margins, (min(pct, 40), min(max(pct - 20, 0), 40), max(pct - 50, 0))):
            if share > 0:
                radius = 0.8 * ref_radius * math.sqrt(share / 100.0)
                self.bites.setdefault(bone, []).append(Bite(margin, radius, depth))


def _circle_margins(circle: Ellipse, axis: float, jitter: float) -> list:
    """Marginal points of a joint head: both sides at ~70 deg from the joint axis, then one at 40 deg."""
    out = []
    for a in (70.0 + 14.0 * jitter, -70.0 + 10.0 * jitter, 40.0 - 10.0 * jitter):
        ang = axis + _deg(a)
        out.append((circle.center[0] + circle.a * math.cos(ang), circle.center[1] + circle.a * math.sin(ang)))
    return out


def _rod_margins(rod: Rod, s: float) -> list:
    """Both lateral margins of a rod at axial position ``s``, then the first side 2 mm further."""
    w = float(rod.half_width(np.array([s]))[0])
    w2 = float(rod.half_width(np.array([s + 2.0]))[0])
    return [rod.at(s, w), rod.at(s, -w), rod.at(s + 2.0, w2)]


def build_hand(anatomy: HandAnatomy, state: HandState) -> HandModel:
    """The right-hand model in the hand frame at unit scale (the placement applies ``anatomy.scale``)."""
    b = _Builder(anatomy, state)
    carpal = {name: _ellipse(name) for name in _CARPALS}
    g_rc = _gap("radiocarpal", anatomy, state)
    g_csl = _gap("capitate_scaphoid_lunate", anatomy, state)
    g_ts = _gap("trapezium_scaphoid", anatomy, state)
    g_ic = FIXED_GAP["intercarpal"] * anatomy.gap
    cuts: dict[str, list[Cut]] = {name: [] for name in _CARPALS}
    cuts["scaphoid"] += [_cut(carpal["capitate"], g_csl), _cut(carpal["lunate"], g_ic)]
    cuts["lunate"] += [_cut(carpal["capitate"], g_csl)]
    cuts["triquetrum"] += [_cut(carpal["lunate"], g_ic), _cut(carpal["hamate"], g_ic)]
    cuts["trapezium"] += [_cut(carpal["scaphoid"], g_ts), _cut(carpal["trapezoid"], g_ic)]
    cuts["trapezoid"] += [_cut(carpal["scaphoid"], g_ts), _cut(carpal["capitate"], g_ic)]
    cuts["hamate"] += [_cut(carpal["capitate"], g_ic)]
    b.joint("radiocarpal", carpal["lunate"], _deg(270.0), g_rc)
    b.joint("capitate_scaphoid_lunate", carpal["capitate"], _deg(270.0), g_csl)
    b.joint("trapezium_scaphoid", carpal["scaphoid"], carpal["scaphoid"].angle, g_ts)
    for name in ("trapezium", "scaphoid", "lunate"):
        b.landmarks[name] = carpal[name].center
        e, th = carpal[name], _deg(-90.0 + 40.0 * b.jitter(name))  # radial / proximal free margin first
        b.erode(name, name, [e.outline_point(th), e.outline_point(th + math.pi), e.outline_point(th + 2.2)],
                min(e.a, e.b))

    radius_rod = Rod((3.5, -130.0), (3.5, 1.5), 9.0, 8.5, 13.5, 9.0, 40.0, flat_ends=True)
    radius_styloid = Ellipse((14.5, -2.5), 6.5, 3.2, _deg(98.0), 14.0)
    ulna_rod = Rod((-17.0, -130.0), (-17.0, -2.5), 7.0, 6.0, 7.5, 7.0, 7.5)
    ulna_styloid = Ellipse((-21.8, -4.5), 4.8, 2.2, _deg(84.0), 4.5)
    b.landmarks["radius"] = (3.5, -7.0)
    b.landmarks["ulna"] = ulna_rod.head_center
    radial, ulnar = _rod_margins(radius_rod, radius_rod.length - 8.0 + 3.0 * b.jitter("radius"))[1::-1]
    b.erode("radius", "radius", [radius_styloid.outline_point(-math.pi / 2), ulnar, radial], 6.0)
    b.erode("ulna", "ulna", [ulna_styloid.outline_point(0.3 * b.jitter("ulna"))]
            + _rod_margins(ulna_rod, ulna_rod.length - 4.0)[:2], 6.0)

    rods: dict[str, Rod] = {}
    rays: dict[int, list[Rod]] = {}
    jitter = iter(anatomy.length_jitter)
    for i, (partner, ray_deg, axis_deg, length, widths) in _METACARPALS.items():
        shape, ray = carpal[partner], _deg(ray_deg)
        cmc = f"cmc{i}"
        gap = _gap(cmc, anatomy, state) if cmc in NORMAL_GAP else FIXED_GAP[cmc] * anatomy.gap
        axis = _deg(axis_deg + (anatomy.thumb_abduction if i == 1 else 0.0))
        mc = _rod(_ray_point(shape, ray, OVERLAP), axis, length * (1 + next(jitter)), widths, 2.0 * widths[0])
        rods[f"mc{i}"], cuts[f"mc{i}"] = mc, [_cut(shape, gap)]
        if cmc in NORMAL_GAP:
            b.joint(cmc, shape, ray, gap)
        if i == 1:
            finger_axis, bend = axis + _deg(6.0), _deg(4.0)
            names, joints = ["pp1", "dp1"], ["mcp1", "ip"]
        else:
            finger_axis, bend = axis + _deg(_SPREAD[i] * anatomy.spread + anatomy.ulnar_drift), _deg(1.5)
            names, joints = [f"pp{i}", f"mp{i}", f"dp{i}"], [f"mcp{i}", f"pip{i}", None]
        prev_name, chain = f"mc{i}", [mc]
        for (p_len, p_widths), name, joint in zip(_PHALANGES[i], names, joints):
            head = _head_circle(rods[prev_name])
            gap = _gap(joint, anatomy, state) if joint else FIXED_GAP["dip"] * anatomy.gap
            start = (head.center[0] + 0.65 * head.a * math.cos(finger_axis),
                     head.center[1] + 0.65 * head.a * math.sin(finger_axis))
            rods[name] = _rod(start, finger_axis, p_len * (1 + next(jitter)), p_widths)
            cuts[name] = [_cut(head, gap)]
            if joint:
                b.joint(joint, head, finger_axis, gap)
                b.erode(joint, prev_name, _circle_margins(head, finger_axis, b.jitter(joint)), head.a)
            chain.append(rods[name])
            prev_name, finger_axis = name, finger_axis + bend
        rays[i] = chain

    s_base = OVERLAP + FIXED_GAP["cmc1"] * anatomy.gap
    b.landmarks["mc1"] = rods["mc1"].at(s_base + 4.0)
    b.erode("mc1", "mc1", _rod_margins(rods["mc1"], s_base + 2.0), 0.8 * rods["mc1"].w_base)

    bones = [Bone(n, (carpal[n],), cortex=0.35, density=anatomy.bmd, cuts=tuple(cuts[n])) for n in _CARPALS]
    bones.append(Bone("radius", (radius_rod, radius_styloid), cortex=0.6, cortex_shaft=2.2, density=anatomy.bmd,
                      cuts=(_cut(carpal["scaphoid"], g_rc), _cut(carpal["lunate"], g_rc))))
    bones.append(Bone("ulna", (ulna_rod, ulna_styloid), cortex=0.6, cortex_shaft=2.0, density=anatomy.bmd))
    for name, rod in rods.items():
        shaft = (1.6 if name.startswith("mc") else 1.0) * rod.w_shaft / 4.0
        bones.append(Bone(name, (rod,), cortex=0.45, cortex_shaft=shaft, density=anatomy.bmd,
                          periarticular_loss=anatomy.periarticular_loss, cuts=tuple(cuts[name])))
    bones = [replace(bone, bites=tuple(b.bites.get(bone.name, ()))) for bone in bones]
    soft, metal = _soft_tissue(rays, anatomy)
    return HandModel(tuple(bones), soft, metal, dict(b.landmarks), dict(b.axes), dict(b.gaps))


def _soft_tissue(rays: dict[int, list[Rod]], anatomy: HandAnatomy):
    """Forearm, palm, thenar eminence and fingers (merged by maximum), and a ring if worn."""
    k = anatomy.soft
    forearm = Rod((-3.0, -170.0), (-3.0, 30.0), 29.0 * k, 28.0 * k, 30.0 * k, 29.0 * k, 30.0 * k, 0.7)
    head2, head5 = rays[2][0].head_center, rays[5][0].head_center
    top = (head2[1] + head5[1]) / 2 + 14.0
    bottom = -6.0
    across = (head2[0] - head5[0]) / 2 + 12.0 * k
    palm = Ellipse(((head2[0] + head5[0]) / 2 + 1.0, (top + bottom) / 2), (top - bottom) / 2, across,
                   _deg(90.0 + 3.0), 27.0 * k, 3.0)
    mc1 = rays[1][0]
    thenar = Ellipse(mc1.at(0.45 * mc1.length, 5.0), 0.5 * mc1.length + 10.0, 13.0 * k, mc1.axis, 24.0 * k, 2.4)
    soft: list[Ellipse | Rod] = [forearm, palm, thenar]
    metal: list[Band] = []
    for i, chain in rays.items():
        first, last = chain[1], chain[-1]
        pad = 5.0 * k
        tip = last.at(last.length + 3.5)
        if i == 1:
            base = chain[0].at(0.6 * chain[0].length)
        else:
            base = first.at(-15.0)
        finger = Rod(base, tip, first.w_base + pad + 1.0, first.w_shaft + pad, last.w_head + pad - 0.5,
                     first.w_base + pad + 1.0, last.w_head + pad - 0.5, 0.85)
        soft.append(finger)
        if anatomy.ring and i == 4:
            r_in = first.w_shaft + pad - 0.8
            metal.append(Band(first.at(0.4 * first.length), first.axis, r_in, r_in + 1.3, 2.6))
    return tuple(soft), tuple(metal)
