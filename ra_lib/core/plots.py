"""Shared figure helpers: radiographs with joints drawn, galleries, and :func:`show` (save + display with alt text)."""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ra_lib.cohort import sites
from ra_lib.core.artifacts import atomic_path, save_figure

#: One colour per paper-001 erosion group (landmarks of JSN-only sites use their JSN group colour).
GROUP_COLOURS = {"PIP-IP": "#e76f51", "PIP": "#e76f51", "MCP": "#f4a261", "CMC-M": "#2a9d8f",
                 "CMC": "#2a9d8f", "wrist": "#8ab17d"}
_LANDMARK_GROUP = {}
for _site in sites.HAND_SITES:
    _LANDMARK_GROUP.setdefault(_site.landmark, _site.group)


def show_radiograph(ax, image: np.ndarray, title: str | None = None) -> None:
    """Grey-scale radiograph, bone bright, no axes."""
    ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="lanczos")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)


def draw_landmarks(ax, landmarks: pd.DataFrame, size: float = 14, colours: dict | None = None,
                   label: bool = False) -> None:
    """Mark joint centres (columns landmark, x, y) coloured by paper-001 group or by ``colours[landmark]``."""
    for row in landmarks.itertuples(index=False):
        colour = (colours or {}).get(row.landmark, GROUP_COLOURS.get(_LANDMARK_GROUP.get(row.landmark), "#ffffff"))
        ax.scatter(row.x, row.y, s=size, c=colour, edgecolors="black", linewidths=0.4, zorder=3)
        if label:
            ax.annotate(row.landmark, (row.x, row.y), fontsize=5, color="white", xytext=(3, 3),
                        textcoords="offset points")


def group_legend(fig, kinds=("erosion",)) -> None:
    """A legend of the joint-group colours."""
    labels_by_colour: dict[str, list[str]] = {}
    for group in dict.fromkeys(g for k in kinds for g in sites.GROUPS[k]):
        labels_by_colour.setdefault(GROUP_COLOURS[group], []).append(group)
    handles = [plt.Line2D([], [], marker="o", ls="", color=colour, markeredgecolor="black", label=" / ".join(groups))
               for colour, groups in labels_by_colour.items()]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=8)


def image_grid(n: int, ncols: int = 4, size: float = 2.6):
    """A figure with ``n`` axes in rows of ``ncols`` (extra axes hidden)."""
    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * 1.15), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_axis_off()
    return fig, axes.flat[:n]


def show(fig, alt: str, path: str | Path | None = None, dpi: int = 120) -> None:
    """Display a figure in the notebook as a PNG whose image carries ``alt`` as its alt text, then close it.

    With ``path`` the figure is first saved there (atomically; PNG bytes identical to the shown ones,
    SVG when the suffix says so). Works with any matplotlib backend: the image is an IPython
    ``Image`` output whose metadata holds the alt text (the book's renderer copies it to ``<img alt>``).
    """
    from IPython.display import Image, display

    if not alt or not alt.strip():
        raise ValueError("a figure needs alt text: one sentence saying what it shows")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    png = buffer.getvalue()
    if path is not None and Path(path).suffix.lower() == ".png":
        with atomic_path(path) as tmp:
            tmp.write_bytes(png)
    elif path is not None:
        save_figure(fig, path, dpi=dpi)
    plt.close(fig)
    display(Image(data=png, format="png", alt=alt.strip()))
