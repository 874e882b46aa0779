"""Stage 4's figures: grade counts, example crops, learning curves, confusion matrices, predictive
distributions and their calibration."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ra_lib.cohort.sites import KINDS
from ra_lib.stages.grading.data import N_CLASSES, GradingData
from ra_lib.stages.grading.evaluate import evaluable_mask
from ra_lib.stages.grading.regression import CdfResult
from ra_lib.stages.grading.remedies import class_counts
from ra_lib.stages.grading.settings import METHOD_LABELS, METHODS


def _axis_label(result: CdfResult) -> str:
    return "eroded surface k (%)" if result.target.column == "eroded_pct" else f"{result.target.kind} grade k"


def plot_grade_counts(data: GradingData, split: str = "train"):
    """Bar charts of the grade counts of the usable crops of one split, one axis per kind (log scale)."""
    fig, axes = plt.subplots(1, len(KINDS), figsize=(8, 2.8))
    for ax, kind in zip(axes, KINDS):
        counts = class_counts(data.select(kind, split)["grade"].astype(int), N_CLASSES[kind])
        ax.bar(range(N_CLASSES[kind]), counts, color="#457b9d")
        ax.set(yscale="log", xlabel=f"{kind} grade", ylabel=f"{split} crops", title=kind)
        for grade, count in enumerate(counts):
            ax.annotate(str(count), (grade, max(count, 1)), ha="center", va="bottom", fontsize=8)
    fig.tight_layout()
    return fig


def plot_example_crops(data: GradingData, kind: str, per_grade: int = 4, seed: int = 0):
    """A grid of preprocessed training crops of one kind: one row per grade."""
    rows = data.select(kind, "train")
    rng = np.random.default_rng(seed)
    n_classes = N_CLASSES[kind]
    fig, axes = plt.subplots(n_classes, per_grade, figsize=(1.3 * per_grade, 1.3 * n_classes), squeeze=False)
    for grade in range(n_classes):
        pool = rows.loc[rows["grade"] == grade, "image_row"].to_numpy()
        chosen = rng.choice(pool, size=min(per_grade, len(pool)), replace=False) if len(pool) else []
        for col, ax in enumerate(axes[grade]):
            ax.set_axis_off()
            if col < len(chosen):
                ax.imshow(data.images[chosen[col], 0].numpy(), cmap="gray")
        axes[grade][0].text(-0.15, 0.5, f"grade {grade}", transform=axes[grade][0].transAxes, ha="right",
                            va="center", fontsize=9)
    return fig


def plot_learning_curves(histories: pd.DataFrame, loss_label: str = "cross-entropy"):
    """Training (solid) and validation (dashed) loss per epoch, one axis per kind, one colour per method."""
    groups = list(histories.groupby("kind", sort=False)) if "kind" in histories else [("", histories)]
    fig, axes = plt.subplots(1, len(groups), figsize=(4 * len(groups), 2.8), squeeze=False)
    for ax, (kind, group) in zip(axes[0], groups):
        for i, (method, curve) in enumerate(group.groupby("method", sort=False)):
            colour = f"C{i}"
            ax.plot(curve["epoch"], curve["train_loss"], color=colour, label=METHOD_LABELS.get(method, method))
            ax.plot(curve["epoch"], curve["val_loss"], color=colour, ls="--")
        ax.set(title=kind, xlabel="epoch", ylabel=loss_label)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_confusion_matrices(matrices: dict, kind: str, methods=METHODS):
    """Row-normalised confusion matrices of one kind, one panel per method (paper 004 Fig. 6)."""
    methods = [m for m in methods if (kind, m) in matrices]
    fig, axes = plt.subplots(1, max(len(methods), 1), figsize=(3.2 * max(len(methods), 1), 3.1), squeeze=False)
    for ax, method in zip(axes[0], methods):
        matrix = matrices[(kind, method)]
        ax.imshow(matrix.fillna(0).to_numpy(), vmin=0, vmax=1, cmap="Blues")
        for (i, j), value in np.ndenumerate(matrix.to_numpy()):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if value > 0.6 else "black")
        ax.set(xticks=range(len(matrix.columns)), yticks=range(len(matrix.index)), xlabel="predicted grade",
               ylabel="true grade", title=METHOD_LABELS.get(method, method))
    fig.suptitle(kind)
    fig.tight_layout()
    return fig


def plot_survival_examples(result: CdfResult, method: str, n: int = 6, split: str = "test"):
    """Predicted survival curves ``P(y >= k)`` of ``n`` joints (spread over the target range), with the
    true value, the median and the 80 % interval."""
    true_column = result.target.true_column
    table = result.predictions[result.predictions["method"] == method].reset_index(drop=True)
    candidates = np.flatnonzero(evaluable_mask(table, true_column, split))
    order = candidates[np.argsort(table.loc[candidates, true_column].to_numpy(), kind="stable")]
    chosen = order[np.linspace(0, len(order) - 1, min(n, len(order))).round().astype(int)] if len(order) else []
    fig, axes = plt.subplots(1, max(len(chosen), 1), figsize=(2.3 * max(len(chosen), 1), 2.4), sharey=True,
                             squeeze=False)
    grid = np.arange(result.target.n_thresholds)
    for ax, i in zip(axes[0], chosen):
        row = table.loc[i]
        ax.axvspan(row["q10"], row["q90"], color="#a8dadc", alpha=0.6, label="80 % interval")
        ax.plot(grid, result.survival[method][i], color="#1d3557", label="P(y >= k)", drawstyle="steps-post"
                if result.target.column == "grade" else "default")
        ax.axvline(row["median"], color="#1d3557", ls=":", label="median")
        ax.axvline(row[true_column], color="#e63946", label="true")
        ax.set(xlabel=_axis_label(result), title=f"{row['site']}, true {row[true_column]:.0f}")
    axes[0][0].set_ylabel("P(y >= k)")
    axes[0][0].legend(fontsize=6, loc="upper right")
    fig.tight_layout()
    return fig


def plot_predicted_vs_true(result: CdfResult, split: str = "test"):
    """Predicted median (a CDF head with its 80 % interval) against the true value, one panel per method."""
    true_column = result.target.true_column
    top = result.target.n_thresholds - 1
    methods = list(result.survival)
    fig, axes = plt.subplots(1, len(methods), figsize=(3.4 * len(methods), 3.2), squeeze=False, sharey=True)
    for ax, method in zip(axes[0], methods):
        table = result.predictions[result.predictions["method"] == method]
        sub = table[evaluable_mask(table, true_column, split)]
        if sub["q10"].notna().all():
            ax.errorbar(sub[true_column], sub["median"], yerr=[sub["median"] - sub["q10"], sub["q90"] - sub["median"]],
                        fmt="none", ecolor="#a8dadc", elinewidth=0.8, alpha=0.6)
        ax.scatter(sub[true_column], sub["median"], s=8, alpha=0.7, color="#1d3557")
        ax.plot([0, top], [0, top], color="grey", lw=1, ls="--")
        ax.set(xlabel=f"true {_axis_label(result).replace(' k', '')}", ylabel="predicted median", title=method,
               xlim=(-0.03 * top, 1.03 * top))
    fig.tight_layout()
    return fig


def plot_pit(values: np.ndarray, bins: int = 10):
    """Histogram of PIT values against the uniform density of a calibrated forecast."""
    fig, ax = plt.subplots(figsize=(4, 2.6))
    ax.hist(values, bins=bins, range=(0, 1), density=True, color="#457b9d")
    ax.axhline(1.0, color="grey", ls="--", lw=1)
    ax.set(xlabel="PIT value", ylabel="density")
    fig.tight_layout()
    return fig
