"""The verdict PNG of one radiograph: the upright image, resized, with its selection, hand split, scores and
joints drawn (each joint a dot coloured by its highest predicted grade over the kinds, :data:`GRADE_COLOURS`;
a joint found without a grade white, one not found a grey ring).

Only model outputs are written on it (no file name, no patient data).
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ra_lib.core import geometry

BANNER_COLOURS = {"ok": (42, 157, 143), "flagged": (231, 111, 81)}
SPLIT_COLOUR = (244, 162, 97)
#: Joint colour by predicted grade 0-5: green (intact) through yellow to red.
GRADE_COLOURS = ((42, 157, 143), (138, 177, 125), (233, 196, 106), (244, 162, 97), (231, 111, 81), (178, 34, 34))
UNGRADED_COLOUR, NOT_FOUND_COLOUR = (255, 255, 255), (150, 150, 150)


def joint_marks(joints: list[dict]) -> list[tuple[float, float, tuple[int, int, int] | None]]:
    """One mark per joint (hand and landmark) with a centre: ``(x, y, fill)``, ``fill`` ``None`` when not found."""
    marks: dict[tuple, list] = {}
    for joint in joints:
        if joint["x"] is None:
            continue
        mark = marks.setdefault((joint["hand_index"], joint["landmark"]), [joint["x"], joint["y"], None, False])
        mark[3] |= joint["detection"] == "found"
        if joint["grade_pred"] is not None:
            mark[2] = max(mark[2] if mark[2] is not None else 0, joint["grade_pred"])
    return [(x, y, (UNGRADED_COLOUR if grade is None else GRADE_COLOURS[grade]) if found else None)
            for x, y, grade, found in marks.values()]


def verdict_lines(record: dict) -> list[str]:
    """The text drawn on the image: selection and probabilities, the overall score, the flags."""
    if record["selection"] is None:
        lines = ["no selection"]
    else:
        lines = [record["selection"].replace("_", " "),
                 "assumed: no selection model" if record["p_one_hand"] is None else
                 f"P(one) {record['p_one_hand']:.2f}  P(both) {record['p_both_hands']:.2f}"]
    if record["overall_score"] is not None:
        lines.append(f"SvdH {record['overall_score']:.1f}")
    sums = [hand.get("joint_sum") for hand in record["hands"]]
    if sums and all(value is not None for value in sums):
        lines.append(f"sum of joint grades {sum(sums):.1f}")
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
    radius = max(2.0, side / 120)
    for x, y, fill in joint_marks(record.get("joints", [])):
        box = [(x * scale - radius, y * scale - radius), (x * scale + radius, y * scale + radius)]
        if fill is None:
            draw.ellipse(box, outline=NOT_FOUND_COLOUR, width=1)
        else:
            draw.ellipse(box, fill=fill, outline=(0, 0, 0), width=1)
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
