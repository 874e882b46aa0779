"""The cohort page's figures comparing two cohorts (:mod:`ra_lib.cohort.comparison`): overlaid intensity
histograms, the hand's share of the frame and finger spacing per cohort, and a gallery side by side.

Each returns an open figure for :func:`ra_lib.core.plots.show`; images are named by cohort and index only.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ra_lib.cohort.comparison import HISTOGRAM_BINS, ImageSample
from ra_lib.core import plots

#: One colour per cohort, in the order given.
COHORT_COLOURS = ("#2a6f97", "#e76f51", "#8ab17d", "#f4a261")
#: Panels of :func:`plot_distributions`: the sample's table, its column, the axis label, the scale of the values.
DISTRIBUTIONS = (("images", "coverage", "hand share of the frame (%)", 100),
                 ("spacing", "mcp_gap", "MCP gap / proximal phalanx", 1),
                 ("spacing", "pip_gap", "PIP gap / proximal phalanx", 1))


def plot_histograms(samples: list[ImageSample]):
    """Each cohort's mean intensity histogram, of the whole frame (left) and of the hand only (right)."""
    centres = (np.arange(HISTOGRAM_BINS) + 0.5) / HISTOGRAM_BINS
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for ax, region, title in zip(axes, ("frame", "hand"), ("whole frame", "hand (foreground) only")):
        for sample, colour in zip(samples, COHORT_COLOURS):
            ax.step(centres, 100 * sample.mean_histogram(region), where="mid", color=colour, label=sample.cohort)
        ax.set(xlabel="intensity (each image scaled to [0, 1], bone bright)", ylabel="% of pixels", title=title)
    axes[0].set_yscale("log")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_distributions(samples: list[ImageSample]):
    """Per cohort, the hand's share of each image and, where a cohort has landmarks, the finger spacing of each
    hand: box plots with every value drawn on top."""
    panels = [p for p in DISTRIBUTIONS if any(len(getattr(s, p[0])) for s in samples)]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.2), squeeze=False)
    rng = np.random.default_rng(0)
    for ax, (table, column, label, scale) in zip(axes[0], panels):
        values = [scale * getattr(s, table)[column].dropna().to_numpy(dtype=float) for s in samples]
        shown = [i for i, v in enumerate(values) if len(v)]
        ax.boxplot([values[i] for i in shown], positions=shown, widths=0.5, showfliers=False)
        for i in shown:
            ax.scatter(i + rng.uniform(-0.15, 0.15, len(values[i])), values[i], s=8, alpha=0.6,
                       color=COHORT_COLOURS[i % len(COHORT_COLOURS)], zorder=3)
        ax.set_xticks(range(len(samples)), [s.cohort for s in samples], fontsize=8, rotation=10)
        ax.set_xlim(-0.6, len(samples) - 0.4)
        ax.set_ylabel(label)
    fig.tight_layout()
    return fig


def plot_gallery(cohorts: list, samples: list[ImageSample], per_cohort: int = 4):
    """One row per cohort: its first ``per_cohort`` measured images, titled by cohort name and index."""
    fig, axes = plt.subplots(len(samples), per_cohort, figsize=(2.6 * per_cohort, 3.0 * len(samples)), squeeze=False)
    for row, cohort, sample in zip(axes, cohorts, samples):
        for index, ax in enumerate(row):
            ax.set_axis_off()
            if index < len(sample.images):
                image = cohort.load_image(sample.images["image_id"].iloc[index])
                plots.show_radiograph(ax, image, title=f"{sample.cohort} #{index + 1}")
    fig.tight_layout()
    return fig
