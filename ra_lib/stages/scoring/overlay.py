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
        lines = [f"{record['selection'].replace('_', ' ')}  (one hand {record['p_one_hand']:.2f}, "
                 f"both hands {record['p_both_hands']:.2f})"]
    if record["overall_score"] is not None:
        lines.append(f"overall SvdH score ({record['score_unit']}s): {record['overall_score']:.1f}")
    lines += [f"flagged: {flag.replace('_', ' ')}" for flag in record["flags"]]
    return lines


def draw_verdict(image: np.ndarray, record: dict, side: int) -> bytes:
    """PNG bytes: ``image`` (float grey in [0, 1]) resized to ``side`` pixels on its longest side, the verdict on top."""
    height, width = image.shape
    scale = side / max(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    pixels = np.clip(geometry.resize(image, size), 0, 1)
    canvas = Image.fromarray((pixels * 255).round().astype(np.uint8)).convert("RGB")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=max(10, size[1] // 32))
    for hand in record["hands"]:
        x = hand["x0"] * scale
        if hand["x0"] > 0:
            draw.line([(x, 0), (x, size[0])], fill=SPLIT_COLOUR, width=2)
        label = hand["hand"] if hand.get("score") is None else f"{hand['hand']}: {hand['score']:.1f}"
        draw.text((x + 4, size[0] - font.size - 6), label, fill=SPLIT_COLOUR, font=font)
    lines = verdict_lines(record)
    banner = (font.size + 4) * len(lines) + 4
    draw.rectangle([(0, 0), (size[1], banner)], fill=BANNER_COLOURS["flagged" if record["flags"] else "ok"])
    for row, line in enumerate(lines):
        draw.text((4, 4 + row * (font.size + 4)), line, fill=(255, 255, 255), font=font)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()
