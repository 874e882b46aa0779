"""Figures of stage 3: PR curves with the readers as points (paper 001's Fig. 6), joint outcomes on a hand (Fig. 7)."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from ra_lib.cohort.sites import KINDS
from ra_lib.evaluation.readers import READER_PREFIX
from ra_lib.stages.classification.evaluate import REGIONS, joint_outcomes, showcase_hands
from ra_lib.stages.classification.models import MODEL_LABELS, MODEL_TYPES

OUTCOME_COLOURS = {"TP": "#1f5fd6", "TN": "#ffffff", "FN": "#e0301e", "FP": "#f5c518"}
MODEL_COLOURS = {"siso": "#333333", "mimo_local": "#1f77b4", "mimo_one_hand": "#2ca02c", "mimo_both_hands": "#d62728"}


def plot_pr_curves(curves: pd.DataFrame, evaluation: pd.DataFrame):
    """Fig. 6: PR curves of the models per kind (rows) and region (columns), each model's average
    precision in the corner; readers as single operating points; prevalence dotted."""
    import matplotlib.pyplot as plt

    kinds = [k for k in KINDS if k in set(curves["kind"])]
    fig, axes = plt.subplots(len(kinds), len(REGIONS), figsize=(3.3 * len(REGIONS), 3.1 * len(kinds)),
                             squeeze=False, sharex=True, sharey=True)
    for row, kind in enumerate(kinds):
        for col, region in enumerate(REGIONS):
            ax = axes[row, col]
            part = curves[(curves["kind"] == kind) & (curves["region"] == region)]
            scores = evaluation[(evaluation["kind"] == kind) & (evaluation["region"] == region)].set_index("model")
            models = [m for m in MODEL_TYPES if m in set(part["model"])]
            for model in models:
                curve = part[part["model"] == model]
                ax.step(np.r_[0, curve["recall"]], np.r_[1, curve["precision"]], where="post", lw=1.3,
                        color=MODEL_COLOURS[model], label=MODEL_LABELS[model])
            readers = scores[scores.index.str.startswith(READER_PREFIX)]
            for i, (name, reader) in enumerate(readers.iterrows()):
                ax.plot(reader["sensitivity"], reader["precision"], marker="osD^v"[i % 5], ls="", ms=6,
                        mfc="none", mec="#7f3f98", label=name)
            if len(scores):
                ax.axhline(scores["prevalence"].iloc[0], color="#999999", lw=0.8, ls=":", label="prevalence")
            ap = "\n".join(f"{MODEL_LABELS[m]} {scores.loc[m, 'average_precision']:.2f}" for m in models)
            ax.text(0.98, 0.02, "AP\n" + ap, transform=ax.transAxes, ha="right", va="bottom", fontsize=6,
                    bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
            ax.set_title(f"{kind} - {region}", fontsize=9)
            ax.set(xlim=(0, 1.02), ylim=(0, 1.02))
        axes[row, 0].set_ylabel("precision")
    for ax in axes[-1]:
        ax.set_xlabel("recall (sensitivity)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, frameon=False, fontsize=7)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def plot_joint_outcomes(outcomes: pd.DataFrame, image: np.ndarray | None = None):
    """Fig. 7: each joint's outcome (TP blue, TN white, FN red, FP yellow) per kind (rows) and model
    (columns), drawn at its centre on ``image`` (or on a blank canvas)."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    kinds = [k for k in KINDS if k in set(outcomes["kind"])]
    models = [m for m in MODEL_TYPES if m in set(outcomes["model"])]
    fig, axes = plt.subplots(max(len(kinds), 1), max(len(models), 1), squeeze=False,
                             figsize=(2.6 * max(len(models), 1), 2.9 * max(len(kinds), 1)))
    for row, kind in enumerate(kinds):
        for col, model in enumerate(models):
            ax = axes[row, col]
            part = outcomes[(outcomes["kind"] == kind) & (outcomes["model"] == model)]
            if image is not None:
                ax.imshow(image, cmap="gray", vmin=0, vmax=1)
            ax.scatter(part["x"], part["y"], s=22, c=part["outcome"].map(OUTCOME_COLOURS), edgecolors="black",
                       linewidths=0.6, zorder=3)
            if image is None:
                ax.invert_yaxis()
                ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{MODEL_LABELS[model]} - {kind}", fontsize=8)
    handles = [Line2D([], [], marker="o", ls="", mfc=c, mec="black", label=o) for o, c in OUTCOME_COLOURS.items()]
    fig.legend(handles=handles, loc="lower center", ncol=4, frameon=False, fontsize=8)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def showcase_figure(oof: pd.DataFrame, index: pd.DataFrame, load_image: Callable[[str], np.ndarray],
                    threshold: float = 0.5):
    """Fig. 7 on the showcase radiograph (:func:`~ra_lib.stages.classification.evaluate.showcase_hands`).

    Returns the figure and a sentence naming the (pseudonymised) patient, the hands and the test fold.
    """
    hands = showcase_hands(oof, index)
    outcomes = joint_outcomes(oof, index, hands, threshold)
    image_ids = outcomes["image_id"].dropna().unique()
    fig = plot_joint_outcomes(outcomes, load_image(image_ids[0]) if len(image_ids) == 1 else None)
    if not hands:
        return fig, "No joint was predicted in this run."
    shown = oof[oof["hand_id"].isin(hands)].iloc[0]
    return fig, (f"Patient `{shown['patient']}`, {len(hands)} hand(s) of one radiograph, "
                 f"test fold {shown['fold']}.")
