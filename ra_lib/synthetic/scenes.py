"""Hand radiographs: place one or two hands on the detector, render, mark, collimate, rotate.

Two display conventions occur in archives. *Palmar* (the generator's original one): the
patient's right hand has its thumb on the viewer's right, and on a both-hands image the right
hand is on the viewer's left. *Dorsal* (as seen from the back of the hand, e.g. RA2-DREAM): the
mirror image, a left hand with its thumb on the right. On both-hands images the thumbs face each
other in the middle either way. The convention is applied to the geometry (markers read the right
way round); the quarter turn is applied to the finished image. Landmarks are returned in
full-image pixel coordinates (x = column, y = row, pixel centres at integers).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .framing import Collimation, collimate, sample_collimation
from .markers import MarkerStyle, add_marker, marker_size, sample_style
from .render import Canvas, Detector, expose, MU_METAL
from .shapes import Similarity, union_bounds
from .skeleton import HandAnatomy, HandModel, HandState, build_hand


@dataclass(frozen=True)
class HandView:
    """How the hands lie on the detector for one exposure."""

    hands: tuple[str, ...]  # ("R",), ("L",) or ("R", "L")
    angles_deg: tuple[float, ...]  # in-plane tilt per hand
    margin_mm: float = 15.0
    forearm_mm: float = 60.0
    hand_spacing_mm: float = 20.0
    wrist_offset_mm: float = 0.0  # vertical offset of the second hand
    markers: str = "all"  # "all", "first" or "none"
    rot90_k: int = 0  # np.rot90 turns (counter-clockwise) applied to the finished image
    dorsal: bool = False  # display convention (module docstring)
    marker_style: MarkerStyle = MarkerStyle()
    collimation: Collimation | None = None
    other_edge_mm: float = 0.0  # a single-hand image shows this much of the other hand at one side


@dataclass
class HandImage:
    pixels: np.ndarray  # uint16, MONOCHROME2 sense
    landmarks: dict[str, dict[str, tuple[float, float]]]  # hand -> landmark -> (x, y) px
    models: dict[str, HandModel]  # in world mm, before the 90-degree rotation
    canvas: Canvas


@dataclass(frozen=True)
class Framing:
    """Generator settings of the framing (defaults: what archive hand radiographs show)."""

    margin_mm: tuple[float, float] = (3.0, 12.0)  # free border around the hands (uniform range)
    forearm_mm: tuple[float, float] = (25.0, 60.0)  # forearm shown below the radiocarpal joint
    collimated_fraction: float = 0.5  # about half the real samples show a collimation edge
    other_edge_fraction: float = 0.08  # single-hand images showing the edge of the other hand


def sample_view(rng: np.random.Generator, hands: tuple[str, ...], rot90_k: int = 0, dorsal: bool = False,
                framing: Framing = Framing()) -> HandView:
    """A plausible positioning of ``hands`` (given right hand first; dorsal display puts the left hand
    on the viewer's left)."""
    hands = tuple(reversed(hands)) if dorsal else tuple(hands)
    markers = str(rng.choice(["all", "first", "none"], p=[0.7, 0.2, 0.1]))
    angles = tuple(float(rng.normal(0, 5)) for _ in hands)
    margin, forearm = float(rng.uniform(*framing.margin_mm)), float(rng.uniform(*framing.forearm_mm))
    spacing, offset = float(rng.uniform(8, 35)), float(rng.normal(0, 8))
    style = sample_style(rng)
    collimation = sample_collimation(rng, framing.collimated_fraction)
    edge = float(rng.uniform(8, 25)) if len(hands) == 1 and rng.random() < framing.other_edge_fraction else 0.0
    return HandView(hands, angles, margin, forearm, spacing, offset, markers, rot90_k, dorsal, style, collimation,
                    edge)


def place_hands(anatomy: HandAnatomy, states: dict[str, HandState], view: HandView, pixel_mm: float):
    """Hand models in world mm (origin at the image corner) and the image size in pixels."""
    placed, boxes = {}, []
    for hand, angle in zip(view.hands, view.angles_deg):
        t = Similarity(anatomy.scale, math.radians(angle), flip_x=(hand == "L") != view.dorsal, flip_y=True)
        model = build_hand(anatomy, states[hand]).moved(t)
        fx, fy = model.forearm_point(view.forearm_mm)
        half = 32.0 * anatomy.scale * anatomy.soft
        box = union_bounds([model.bounds(), (fx - half, fx + half, fy, fy)])
        if boxes:  # second hand to the right of the first, thumbs facing each other
            dx = boxes[-1][1] + view.hand_spacing_mm - box[0]
            dy = view.wrist_offset_mm + placed[view.hands[0]].landmarks["radiocarpal"][1] \
                - model.landmarks["radiocarpal"][1]
            model = model.moved(Similarity(offset=(dx, dy)))
            box = (box[0] + dx, box[1] + dx, box[2] + dy, box[3] + dy)
        placed[hand] = model
        boxes.append(box)
    m = view.margin_mm
    x0, x1 = min(b[0] for b in boxes) - m, max(b[1] for b in boxes) + m
    y0, y1 = min(b[2] for b in boxes) - m, max(b[3] for b in boxes)
    shift = Similarity(offset=(-x0, -y0))
    placed = {h: model.moved(shift) for h, model in placed.items()}
    return placed, (int(math.ceil((y1 - y0) / pixel_mm)), int(math.ceil((x1 - x0) / pixel_mm)))


def draw_hands(canvas: Canvas, models: dict[str, HandModel]) -> None:
    for model in models.values():
        for shape in model.soft:
            canvas.add_soft(shape)
    for model in models.values():
        for bone in model.bones:
            canvas.add_bone(bone)
        for band in model.metal:
            canvas.add_tissue(band, MU_METAL)


def thumb_side(hand: str, dorsal: bool) -> str:
    """Side of the upright image a single hand's thumb is on (the real samples' ``thumb_side``)."""
    return "right" if (hand == "R") != dorsal else "left"


def _other_hand_edge(anatomy: HandAnatomy, hand: str, view: HandView, width_mm: float, pixel_mm: float,
                     rng: np.random.Generator) -> HandModel:
    """The patient's other hand lying beside the imaged one, ``view.other_edge_mm`` of it inside the image."""
    other = "L" if hand == "R" else "R"
    side_view = HandView((other,), (float(rng.normal(0, 8)),), dorsal=view.dorsal)
    model = place_hands(anatomy, {other: HandState.intact()}, side_view, pixel_mm)[0][other]
    x0, x1, _, _ = model.bounds()
    dx = width_mm - view.other_edge_mm - x0 if rng.random() < 0.5 else view.other_edge_mm - x1
    return model.moved(Similarity(offset=(dx, float(rng.normal(20, 15)))))


def _marker_spots(canvas: Canvas, n: int, size: tuple[float, float],
                  rng: np.random.Generator) -> list[tuple[float, float]]:
    """Top-left corners (mm) of ``n`` markers: corners (then side midpoints) free of soft tissue; two
    markers go to the left and right half, in that order."""
    h, w = canvas.shape[0] * canvas.pixel_mm, canvas.shape[1] * canvas.pixel_mm
    inset = float(rng.uniform(2, 8))
    xs, ys = (inset, w - inset - size[0]), (inset, h - inset - size[1], (h - size[1]) / 2)
    free = []
    for y in ys:
        for x in xs:
            win = canvas.window((x, x + size[0], y, y + size[1]))
            if win is not None and float(canvas.soft[win[0]].max()) < 0.5:
                free.append((x, y))
    if n == 2:
        left = [c for c in free if c[0] < w / 2]
        right = [c for c in free if c[0] >= w / 2]
        return [left[0], right[0]] if left and right else []
    return free[:n]


def render_hand_image(anatomy: HandAnatomy, states: dict[str, HandState], view: HandView, pixel_mm: float,
                      detector: Detector, rng: np.random.Generator) -> HandImage:
    models, shape = place_hands(anatomy, states, view, pixel_mm)
    canvas = Canvas(*shape, pixel_mm, rng)
    drawn = dict(models)
    if view.other_edge_mm > 0 and len(view.hands) == 1:
        drawn["other"] = _other_hand_edge(anatomy, view.hands[0], view, shape[1] * pixel_mm, pixel_mm, rng)
    draw_hands(canvas, drawn)
    letters = {"all": list(view.hands), "first": list(view.hands[:1]), "none": []}[view.markers]
    size = marker_size(view.marker_style)
    for letter, spot in zip(letters, _marker_spots(canvas, len(letters), size, rng)):
        add_marker(canvas, letter, spot, view.marker_style)
    pixels = collimate(expose(canvas.line_integral(), pixel_mm, detector, rng), pixel_mm, view.collimation)
    landmarks = {h: {name: (x / pixel_mm - 0.5, y / pixel_mm - 0.5) for name, (x, y) in m.landmarks.items()}
                 for h, m in models.items()}
    pixels, landmarks = rotate90(pixels, landmarks, view.rot90_k)
    return HandImage(pixels, landmarks, models, canvas)


def rotate90(pixels: np.ndarray, landmarks: dict, k: int):
    """``np.rot90(pixels, k)`` and the same turn applied to pixel coordinates."""
    k %= 4
    h, w = pixels.shape
    out = {}
    for hand, points in landmarks.items():
        moved = {}
        for name, (x, y) in points.items():
            for i in range(k):
                x, y = y, (w - 1 if i % 2 == 0 else h - 1) - x
            moved[name] = (x, y)
        out[hand] = moved
    return np.ascontiguousarray(np.rot90(pixels, k)), out
