"""Burnt-in lead markers: a side letter (L/R) with the technologist's initials, as solid lead letters
or letters cut out of a lead plate, in a faint plastic holder (5 x 7 pixel font)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .render import MU_LEAD, Canvas

_ROWS = {  # 7 rows of 5 columns per letter
    "A": "01110 10001 10001 11111 10001 10001 10001", "B": "11110 10001 10001 11110 10001 10001 11110",
    "C": "01111 10000 10000 10000 10000 10000 01111", "D": "11110 10001 10001 10001 10001 10001 11110",
    "E": "11111 10000 10000 11110 10000 10000 11111", "F": "11111 10000 10000 11110 10000 10000 10000",
    "G": "01111 10000 10000 10011 10001 10001 01111", "H": "10001 10001 10001 11111 10001 10001 10001",
    "I": "01110 00100 00100 00100 00100 00100 01110", "J": "00111 00010 00010 00010 00010 10010 01100",
    "K": "10001 10010 10100 11000 10100 10010 10001", "L": "10000 10000 10000 10000 10000 10000 11111",
    "M": "10001 11011 10101 10101 10001 10001 10001", "N": "10001 11001 10101 10011 10001 10001 10001",
    "O": "01110 10001 10001 10001 10001 10001 01110", "P": "11110 10001 10001 11110 10000 10000 10000",
    "R": "11110 10001 10001 11110 10100 10010 10001", "S": "01111 10000 10000 01110 00001 00001 11110",
    "T": "11111 00100 00100 00100 00100 00100 00100", "V": "10001 10001 10001 10001 10001 01010 00100",
    "W": "10001 10001 10001 10101 10101 11011 10001",
}
FONT = {k: np.array([[c == "1" for c in row] for row in v.split()], np.float32) for k, v in _ROWS.items()}
INITIAL_LETTERS = "ABCDEFGHIJKMNOPRSTVW"
MARKER_MM = 14.0  # height of the side letter


@dataclass(frozen=True)
class MarkerStyle:
    """How one room's technologists mark: initials under the letter, cut-out plate or solid letters, a dot."""

    initials: str = ""
    cutout: bool = False
    dot: bool = False


def sample_style(rng: np.random.Generator) -> MarkerStyle:
    """A marker as seen in hospital archives: most carry two or three initials."""
    n = int(rng.choice([0, 2, 3], p=[0.25, 0.5, 0.25]))
    initials = "".join(str(c) for c in rng.choice(list(INITIAL_LETTERS), size=n))
    return MarkerStyle(initials, bool(rng.random() < 0.3), bool(rng.random() < 0.2))


def marker_size(style: MarkerStyle, height_mm: float = MARKER_MM) -> tuple[float, float]:
    """(width, height) mm of the marker's holder."""
    cell = height_mm / 7.0
    small = 0.45 * cell
    width = max(5 * cell, len(style.initials) * 6 * small)
    height = 7 * cell + (8 * small if style.initials else 0.0) + (6 * small if style.dot else 0.0)
    return width + 1.6 * cell, height + 1.6 * cell


def _glyphs(text: str, x0: float, y0: float, cell: float, X, Y) -> np.ndarray:
    """Lead coverage (0/1) of ``text`` written from (x0, y0) mm in ``cell``-mm pixels."""
    out = np.zeros(np.broadcast_shapes(X.shape, Y.shape), np.float32)
    row = np.floor((Y - y0) / cell).astype(int)
    for k, letter in enumerate(text):
        col = np.floor((X - x0 - 6 * k * cell) / cell).astype(int)
        inside = (col >= 0) & (col < 5) & (row >= 0) & (row < 7)
        out = np.maximum(out, np.where(inside, FONT[letter][np.clip(row, 0, 6), np.clip(col, 0, 4)], 0.0))
    return out


def add_marker(canvas: Canvas, letter: str, top_left, style: MarkerStyle = MarkerStyle(),
               height_mm: float = MARKER_MM) -> None:
    """Burn ``letter`` (and the style's initials and dot) into the canvas at ``top_left`` (mm)."""
    cell = height_mm / 7.0
    small = 0.45 * cell
    w, h = marker_size(style, height_mm)
    x0, y0 = top_left
    win = canvas.window((x0, x0 + w, y0, y0 + h), margin_mm=0.0)
    if win is None:
        return
    sl, X, Y = win
    pad = 0.8 * cell
    lead = _glyphs(letter, x0 + (w - 5 * cell) / 2, y0 + pad, cell, X, Y)
    if style.initials:
        text_w = (6 * len(style.initials) - 1) * small
        lead = np.maximum(lead, _glyphs(style.initials, x0 + (w - text_w) / 2, y0 + pad + 8 * cell,
                                        small, X, Y))
    if style.dot:
        cx, cy, r = x0 + w / 2, y0 + h - pad - 2.5 * small, 2.5 * small
        ring = np.abs(np.hypot(X - cx, Y - cy) - r) < 0.6 * small
        lead = np.maximum(lead, ring.astype(np.float32))
    if style.cutout:
        lead = 1.0 - lead
    canvas.mu[sl] += 0.15 + MU_LEAD * 1.5 * lead
