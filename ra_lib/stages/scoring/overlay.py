"""The verdict PNG of one radiograph: the image, resized, with its selection, hand split and scores drawn.

Only model outputs are written on it (no file name, no patient data).
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ra_lib.core import geometry

BANNER_COLOURS = {"ok": (42, 157, 143), "flagged": (231, 111, 81)}
SPLIT_COLOUR = (244, 162, 97)


def verdict_lines(record: dict) -> list[str]:
    """The text drawn on the image: selection and probabilities, the overall score, the flags."""
    if record["selection"] is None:
        lines = ["no selection"]
    else:
        lines = [record["selection"].replace("_", " "),
                 f"P(one) {record['p_one_hand']:.2f}  P(both) {record['p_both_hands']:.2f}"]
    if record["overall_score"] is not None:
        lines.append(f"SvdH {record['overall_score']:.1f}")
    lines += [f"flag: {flag.replace('_', ' ')}" for flag in record["flags"]]
    return lines


def _fitting_font(draw: ImageDraw.ImageDraw, lines: list[str], width: int) -> ImageFont.FreeTypeFont:
    """The largest default font (10 px at least) whose longest line fits ``width``."""
    size = max(10, width // 28)
    font = ImageFont.load_default(size=size)
    while size > 10 and max(draw.textlength(line, font=font) for line in lines) > width - 8:
        size -= 1
        font = ImageFont.load_default(size=size)
    return font


def draw_verdict(image: np.ndarray, record: dict, side: int) -> bytes:
    """PNG bytes: ``image`` (float grey in [0, 1]) resized to ``side`` pixels on its longest side, verdict on top."""
    height, width = image.shape
    scale = side / max(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    pixels = np.clip(geometry.resize(image, size), 0, 1)
    canvas = Image.fromarray((pixels * 255).round().astype(np.uint8)).convert("RGB")
    draw = ImageDraw.Draw(canvas)
    lines = verdict_lines(record)
    font = _fitting_font(draw, lines, size[1])
    for hand in record["hands"]:
        x = hand["x0"] * scale
        if hand["x0"] > 0:
            draw.line([(x, 0), (x, size[0])], fill=SPLIT_COLOUR, width=2)
        label = hand["hand"] if hand.get("score") is None else f"{hand['hand']}: {hand['score']:.1f}"
        draw.text((x + 4, size[0] - font.size - 6), label, fill=SPLIT_COLOUR, font=font)
    banner = (font.size + 4) * len(lines) + 4
    draw.rectangle([(0, 0), (size[1], banner)], fill=BANNER_COLOURS["flagged" if record["flags"] else "ok"])
    for row, line in enumerate(lines):
        draw.text((4, 4 + row * (font.size + 4)), line, fill=(255, 255, 255), font=font)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", compress_level=1)  # fast: the pictures are previews
    return buffer.getvalue()
