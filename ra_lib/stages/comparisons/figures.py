"""Stage 6 figures."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from ra_lib.cohort.sites import KINDS
from ra_lib.evaluation.published import TABLE4_METRICS, TABLE4_REGIONS
from ra_lib.evaluation.readers import READER_PREFIX
from ra_lib.stages.comparisons.table4 import METRIC_LABELS, READER_MEAN, model_label, ordered_models


def plot_table4_forest(long: pd.DataFrame, published: pd.DataFrame | None = None):
    """Forest plot of :func:`table4_ci`: one panel per kind and metric, one line per region and model,
    estimate with its CI; paper 001's values as grey crosses when ``published`` is given."""
    kinds = [k for k in KINDS if k in set(long["kind"])]
    models = [m for m in ordered_models(long["model"]) if m != READER_MEAN]
    regions = [r for r in TABLE4_REGIONS if r in set(long["region"])]
    palette = plt.get_cmap("tab10").colors
    colours = {m: palette[i % len(palette)] for i, m in enumerate(models)}
    height = 1.0 + 0.15 * (len(models) + 1) * len(regions) * len(kinds)
    fig, axes = plt.subplots(len(kinds), len(TABLE4_METRICS), figsize=(10, height), squeeze=False, sharex=True,
                             sharey=True)
    positions = {(r, m): -(i * (len(models) + 1) + j) for i, r in enumerate(regions) for j, m in enumerate(models)}
    paper = {} if published is None else {(p.kind, p.region, p.metric, p.column): p.value
                                          for p in published.itertuples()}
    for row_axes, kind in zip(axes, kinds):
        for ax, metric in zip(row_axes, TABLE4_METRICS):
            part = long[(long["kind"] == kind) & (long["metric"] == metric)]
            for rec in part.itertuples():
                if (rec.region, rec.model) not in positions:
                    continue
                y = positions[(rec.region, rec.model)]
                marker = "s" if rec.model.startswith(READER_PREFIX) else "o"
                if not (pd.isna(rec.lower) or pd.isna(rec.upper)):
                    ax.plot([rec.lower, rec.upper], [y, y], color=colours[rec.model], lw=1.5)
                ax.plot(rec.estimate, y, marker, color=colours[rec.model], ms=4)
                if (kind, rec.region, metric, rec.model) in paper:
                    ax.plot(paper[(kind, rec.region, metric, rec.model)], y, "x", color="0.45", ms=4)
            ax.set_title(f"{kind.replace('jsn', 'JSN')}: {METRIC_LABELS[metric]}", fontsize=10)
            ax.set_xlim(-0.02, 1.02)
            ax.grid(axis="x", alpha=0.3)
    ticks = list(positions.values())
    labels = [f"{r}: {model_label(m)}" for r, m in positions]
    for ax in axes[:, 0]:
        ax.set_yticks(ticks, labels, fontsize=8)
    fig.tight_layout()
    return fig
