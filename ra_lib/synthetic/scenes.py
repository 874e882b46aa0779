"""Hand radiographs: place one or two hands on the detector, collimate, render, mark, rotate.

PA convention: the patient's right hand has its thumb on the viewer's right; on a
both-hands image the right hand is on the viewer's left and the thumbs face each
other in the middle. Landmarks are returned in full-image pixel coordinates
(x = column, y = row, pixel centres at integers).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .render import Canvas, Detector, add_marker, expose, MU_METAL
from .shapes import Similarity, union_bounds
from .skeleton import HandAnatomy, HandModel, HandState, build_hand

MARKER_MM = 11.0


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
    rot90_k: int = 0  # np.rot90 turns applied to the finished image


@dataclass
class HandImage:
    pixels: np.ndarray  # uint16, MONOCHROME2 sense
    landmarks: dict[str, dict[str, tuple[float, float]]]  # hand -> landmark -> (x, y) px
    models: dict[str, HandModel]  # in world mm, before the 90-degree rotation
    canvas: Canvas


def sample_view(rng: np.random.Generator, hands: tuple[str, ...], rot90_k: int = 0) -> HandView:
    """A plausible positioning of ``hands`` (the right hand first, i.e. on the viewer's left)."""
    markers = str(rng.choice(["all", "first", "none"], p=[0.7, 0.2, 0.1]))
    return HandView(hands, tuple(float(rng.normal(0, 5)) for _ in hands), float(rng.uniform(10, 25)),
                    float(rng.uniform(45, 75)), float(rng.uniform(8, 35)), float(rng.normal(0, 8)), markers, rot90_k)


def place_hands(anatomy: HandAnatomy, states: dict[str, HandState], view: HandView, pixel_mm: float):
    """Hand models in world mm (origin at the image corner) and the image size in pixels."""
    placed, boxes = {}, []
    for hand, angle in zip(view.hands, view.angles_deg):
        t = Similarity(anatomy.scale, math.radians(angle), flip_x=hand == "L", flip_y=True)
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


def _marker_spots(canvas: Canvas, letters: list[str], rng: np.random.Generator) -> list[tuple[float, float]]:
    """Top-left corners (mm) of the markers: image corners free of soft tissue, left to right."""
    h, w = canvas.shape[0] * canvas.pixel_mm, canvas.shape[1] * canvas.pixel_mm
    inset, size = float(rng.uniform(3, 8)), (5 / 7 * MARKER_MM, MARKER_MM)
    corners = [(inset, inset), (w - inset - size[0], inset), (inset, h - inset - size[1]),
               (w - inset - size[0], h - inset - size[1])]
    free = []
    for x, y in corners:
        win = canvas.window((x, x + size[0], y, y + size[1]))
        if win is not None and float(canvas.soft[win[0]].max()) < 0.5:
            free.append((x, y))
    if len(letters) == 2:  # R on the viewer's left, L on the right
        left = [c for c in free if c[0] < w / 2]
        right = [c for c in free if c[0] >= w / 2]
        return [left[0], right[0]] if left and right else []
    return free[:1]


def render_hand_image(anatomy: HandAnatomy, states: dict[str, HandState], view: HandView, pixel_mm: float,
                      detector: Detector, rng: np.random.Generator) -> HandImage:
    models, shape = place_hands(anatomy, states, view, pixel_mm)
    canvas = Canvas(*shape, pixel_mm, rng)
    draw_hands(canvas, models)
    letters = {"all": list(view.hands), "first": list(view.hands[:1]), "none": []}[view.markers]
    for letter, spot in zip(letters, _marker_spots(canvas, letters, rng)):
        add_marker(canvas, letter, spot, MARKER_MM)
    pixels = expose(canvas.line_integral(), pixel_mm, detector, rng)
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
