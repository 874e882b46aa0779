"""Geometric primitives of the phantoms and their projected thickness maps.

Lengths are millimetres. A phantom is built in its own frame and moved into the
detector's *world frame* (x right, y down, mm) by a :class:`Similarity`. Every
primitive gives the path length (mm) an X-ray travelling perpendicular to the
detector has through it, evaluated on broadcastable coordinate arrays ``X`` (1 x W)
and ``Y`` (H x 1).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

Point = tuple[float, float]


@dataclass(frozen=True)
class Similarity:
    """Flip, then rotate by ``angle`` (radians), scale and translate."""

    scale: float = 1.0
    angle: float = 0.0
    flip_x: bool = False
    flip_y: bool = False
    offset: Point = (0.0, 0.0)

    def vector(self, v: Point) -> Point:
        x, y = v
        x = -x if self.flip_x else x
        y = -y if self.flip_y else y
        c, s = math.cos(self.angle), math.sin(self.angle)
        return (self.scale * (c * x - s * y), self.scale * (s * x + c * y))

    def point(self, p: Point) -> Point:
        vx, vy = self.vector(p)
        return (self.offset[0] + vx, self.offset[1] + vy)

    def direction(self, angle: float) -> float:
        vx, vy = self.vector((math.cos(angle), math.sin(angle)))
        return math.atan2(vy, vx)

    def then(self, other: "Similarity") -> "Similarity":
        """``other`` applied after ``self`` (only valid when ``other`` has no flips)."""
        if other.flip_x or other.flip_y:
            raise ValueError("compose only with a flip-free outer similarity")
        return Similarity(self.scale * other.scale, self.angle + other.angle, self.flip_x, self.flip_y,
                          other.point(self.offset))


def unit(angle: float) -> Point:
    return (math.cos(angle), math.sin(angle))


@dataclass(frozen=True)
class Ellipse:
    """An ellipsoid (superellipsoid for ``power`` > 2) seen along its third axis.

    ``a`` is the semi-axis along ``angle``, ``b`` the other in-plane one, ``depth``
    the full thickness at the centre.
    """

    center: Point
    a: float
    b: float
    angle: float = 0.0
    depth: float = 0.0
    power: float = 2.0

    def moved(self, t: Similarity) -> "Ellipse":
        return replace(self, center=t.point(self.center), a=self.a * t.scale, b=self.b * t.scale,
                       angle=t.direction(self.angle), depth=self.depth * t.scale)

    def grown(self, margin: float) -> "Ellipse":
        return replace(self, a=self.a + margin, b=self.b + margin)

    def bounds(self) -> tuple[float, float, float, float]:
        c, s = abs(math.cos(self.angle)), abs(math.sin(self.angle))
        hx, hy = math.hypot(self.a * c, self.b * s), math.hypot(self.a * s, self.b * c)
        return (self.center[0] - hx, self.center[0] + hx, self.center[1] - hy, self.center[1] + hy)

    def radial(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """Normalised radius: < 1 inside, 1 on the outline."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        dx, dy = X - self.center[0], Y - self.center[1]
        u = (dx * c + dy * s) / self.a
        v = (dy * c - dx * s) / self.b
        if self.power == 2.0:
            return u * u + v * v
        return np.abs(u) ** self.power + np.abs(v) ** self.power

    def thickness(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return self.depth * np.sqrt(np.clip(1.0 - self.radial(X, Y), 0.0, None))

    def boundary_along(self, direction: float) -> float:
        """Distance from the centre to the outline along a world direction."""
        rel = direction - self.angle
        p = self.power
        return (abs(math.cos(rel) / self.a) ** p + abs(math.sin(rel) / self.b) ** p) ** (-1.0 / p)

    def outline_point(self, theta: float) -> Point:
        """Outline point at parametric angle ``theta`` (0 = end of the ``a`` axis)."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        ct, st = math.cos(theta), math.sin(theta)
        e = 2.0 / self.power
        u, v = self.a * math.copysign(abs(ct) ** e, ct), self.b * math.copysign(abs(st) ** e, st)
        return (self.center[0] + u * c - v * s, self.center[1] + u * s + v * c)


@dataclass(frozen=True)
class Rod:
    """A long bone or a finger: a tapered body of revolution from ``start`` to ``end``.

    Half-widths at the base, the shaft and the head; rounded caps of radius
    ``base_cap`` / ``head_cap`` (a large cap gives a flat end). ``depth_ratio`` scales
    the out-of-plane diameter (elliptical cross sections). Caps round the ends in 3-D
    (a head is a sphere) unless ``flat_ends``: then they only trim the outline and the
    bone keeps its full depth up to the end (a block-like metaphysis).
    """

    start: Point
    end: Point
    w_base: float
    w_shaft: float
    w_head: float
    base_cap: float
    head_cap: float
    depth_ratio: float = 0.9
    flat_ends: bool = False

    @property
    def length(self) -> float:
        return math.dist(self.start, self.end)

    @property
    def axis(self) -> float:
        return math.atan2(self.end[1] - self.start[1], self.end[0] - self.start[0])

    @property
    def head_center(self) -> Point:
        """Centre of the distal cap circle."""
        ux, uy = unit(self.axis)
        return (self.end[0] - self.head_cap * ux, self.end[1] - self.head_cap * uy)

    def at(self, s: float, u: float = 0.0) -> Point:
        """World point at axial distance ``s`` from the start and lateral offset ``u``."""
        ux, uy = unit(self.axis)
        return (self.start[0] + s * ux - u * uy, self.start[1] + s * uy + u * ux)

    def moved(self, t: Similarity) -> "Rod":
        k = t.scale
        return replace(self, start=t.point(self.start), end=t.point(self.end), w_base=self.w_base * k,
                       w_shaft=self.w_shaft * k, w_head=self.w_head * k, base_cap=self.base_cap * k,
                       head_cap=self.head_cap * k)

    def shrunk(self, end_margin: float, shaft_margin: float) -> "Rod":
        """The inner (medullary) rod: ``end_margin`` off the ends and caps, ``shaft_margin`` off the shaft."""
        ux, uy = unit(self.axis)
        m = min(end_margin, 0.45 * self.length)
        return replace(self, start=(self.start[0] + m * ux, self.start[1] + m * uy),
                       end=(self.end[0] - m * ux, self.end[1] - m * uy),
                       w_base=max(self.w_base - end_margin, 0.1), w_shaft=max(self.w_shaft - shaft_margin, 0.1),
                       w_head=max(self.w_head - end_margin, 0.1), base_cap=max(self.base_cap - end_margin, 0.1),
                       head_cap=max(self.head_cap - end_margin, 0.1))

    def bounds(self) -> tuple[float, float, float, float]:
        w = max(self.w_base, self.w_shaft, self.w_head)
        xs, ys = (self.start[0], self.end[0]), (self.start[1], self.end[1])
        return (min(xs) - w, max(xs) + w, min(ys) - w, max(ys) + w)

    def local(self, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Axial ``s`` and lateral ``u`` coordinates."""
        c, s = unit(self.axis)
        dx, dy = X - self.start[0], Y - self.start[1]
        return dx * c + dy * s, dy * c - dx * s

    def profile(self, s: np.ndarray) -> np.ndarray:
        """Half-width of the body before the end caps."""
        length = self.length
        ell = 0.22 * length
        return (self.w_shaft + (self.w_base - self.w_shaft) * np.exp(-(s / ell) ** 2)
                + (self.w_head - self.w_shaft) * np.exp(-((length - s) / ell) ** 2))

    def half_width(self, s: np.ndarray) -> np.ndarray:
        """Half-width of the outline at axial position ``s`` (0 outside the rod)."""
        length = self.length
        w = self.profile(s)
        rb, rh = self.base_cap, self.head_cap
        cap_b = np.sqrt(np.clip(rb * rb - (rb - s) ** 2, 0.0, None))
        cap_h = np.sqrt(np.clip(rh * rh - (s - (length - rh)) ** 2, 0.0, None))
        w = np.where(s < rb, np.minimum(w, cap_b), w)
        w = np.where(s > length - rh, np.minimum(w, cap_h), w)
        return np.where((s >= 0) & (s <= length), w, 0.0)

    def thickness(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        s, u = self.local(X, Y)
        hw = self.half_width(s)
        if self.flat_ends:
            full = self.profile(s)
            return np.where(np.abs(u) < hw, 2.0 * self.depth_ratio * np.sqrt(np.clip(full * full - u * u, 0.0, None)),
                            0.0)
        return 2.0 * self.depth_ratio * np.sqrt(np.clip(hw * hw - u * u, 0.0, None))

    def end_weight(self, X: np.ndarray, Y: np.ndarray, scale: float) -> np.ndarray:
        """1 at the bone ends falling to 0 mid-shaft (``scale`` = fraction of the length)."""
        s, _ = self.local(X, Y)
        ell = scale * self.length
        return np.maximum(np.exp(-(s / ell) ** 2), np.exp(-((self.length - s) / ell) ** 2))


@dataclass(frozen=True)
class Band:
    """A metal ring around a finger: annulus of radii ``r_in``/``r_out``, ``width`` long."""

    center: Point
    angle: float  # finger axis
    r_in: float
    r_out: float
    width: float

    def moved(self, t: Similarity) -> "Band":
        k = t.scale
        return replace(self, center=t.point(self.center), angle=t.direction(self.angle), r_in=self.r_in * k,
                       r_out=self.r_out * k, width=self.width * k)

    def bounds(self) -> tuple[float, float, float, float]:
        r = self.r_out + self.width
        return (self.center[0] - r, self.center[0] + r, self.center[1] - r, self.center[1] + r)

    def thickness(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        c, s = unit(self.angle)
        dx, dy = X - self.center[0], Y - self.center[1]
        along, u = dx * c + dy * s, dy * c - dx * s
        path = 2.0 * (np.sqrt(np.clip(self.r_out ** 2 - u * u, 0.0, None))
                      - np.sqrt(np.clip(self.r_in ** 2 - u * u, 0.0, None)))
        return np.where(np.abs(along) <= self.width / 2, path, 0.0)


Shape = Ellipse | Rod | Band


def union_bounds(boxes) -> tuple[float, float, float, float]:
    boxes = list(boxes)
    return (min(b[0] for b in boxes), max(b[1] for b in boxes), min(b[2] for b in boxes), max(b[3] for b in boxes))


@dataclass(frozen=True)
class Cut:
    """A joint surface: removes the bone inside ``shape`` grown by ``gap``.

    The marrow is removed inside ``shape`` grown by ``gap + plate``, which leaves a
    subchondral plate of cortical bone along the articular surface.
    """

    shape: Ellipse
    gap: float
    plate: float

    def moved(self, t: Similarity) -> "Cut":
        return replace(self, shape=self.shape.moved(t), gap=self.gap * t.scale, plate=self.plate * t.scale)


@dataclass(frozen=True)
class Bite:
    """An erosion: a disc where a fraction ``depth`` of the bone (cortex and marrow) is missing."""

    center: Point
    radius: float
    depth: float

    def moved(self, t: Similarity) -> "Bite":
        return replace(self, center=t.point(self.center), radius=self.radius * t.scale)


@dataclass(frozen=True)
class Bone:
    """One bone: the union of its shapes, a cortical shell, joint surfaces and erosions."""

    name: str
    shapes: tuple[Ellipse | Rod, ...]
    cortex: float
    cortex_shaft: float = 0.0
    density: float = 1.0
    periarticular_loss: float = 0.0  # fraction of trabecular density lost at the bone ends (long bones)
    cuts: tuple[Cut, ...] = ()
    bites: tuple[Bite, ...] = ()

    def moved(self, t: Similarity) -> "Bone":
        k = t.scale
        return replace(self, shapes=tuple(s.moved(t) for s in self.shapes), cortex=self.cortex * k,
                       cortex_shaft=self.cortex_shaft * k, cuts=tuple(c.moved(t) for c in self.cuts),
                       bites=tuple(b.moved(t) for b in self.bites))

    def bounds(self) -> tuple[float, float, float, float]:
        return union_bounds(s.bounds() for s in self.shapes)

    def inner_shapes(self) -> tuple[Ellipse | Rod, ...]:
        inner = []
        for s in self.shapes:
            if isinstance(s, Rod):
                inner.append(s.shrunk(self.cortex, max(self.cortex_shaft, self.cortex)))
            else:
                keep = max(min(s.a, s.b) - self.cortex, 0.1) / min(s.a, s.b)
                inner.append(replace(s, a=max(s.a - self.cortex, 0.1), b=max(s.b - self.cortex, 0.1),
                                     depth=s.depth * keep))
        return tuple(inner)
