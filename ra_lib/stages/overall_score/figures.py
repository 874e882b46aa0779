"""Stage 5's figures: score distribution, augmented crops, learning curves, predicted against true score."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ra_lib.core import plots
from ra_lib.evaluation import stats
from ra_lib.stages.overall_score.data import Augmentation, ScoreData
from ra_lib.stages.overall_score.settings import MAX_SCORE
from ra_lib.stages.overall_score.train import VariantResult


def plot_score_distribution(data: ScoreData, unit: str):
    """Histogram of the overall score of the units used (paper 003 Fig. 2)."""
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.hist(data.units["score"], bins=30, color="#2a9d8f")
    ax.set(xlabel=f"overall SvdH score (0-{MAX_SCORE[unit]})", ylabel=f"{unit}s")
    return fig


def plot_augmentation(data: ScoreData, seed: int = 0, n_crops: int = 4):
    """The highest-scored training image as cached, and ``n_crops`` random training crops of it."""
    train = data.indices("train")
    example = int(train[np.argmax(data.units.loc[train, "score"].to_numpy())])
    generator = torch.Generator().manual_seed(seed)
    fig, axes = plots.image_grid(n_crops + 1, ncols=n_crops + 1, size=2.0)
    plots.show_radiograph(axes[0], data.images[example, 0].float().numpy(), "cached")
    for ax in axes[1:]:
        crop = Augmentation()(data.images[example].float(), data.input_size, generator)
        plots.show_radiograph(ax, crop[0].numpy(), "augmented")
    return fig


def plot_learning_curves(results: Sequence[VariantResult]):
    """Training and validation loss per epoch of each variant (one axis each)."""
    fig, axes = plt.subplots(1, len(results), figsize=(3.2 * len(results), 2.8), squeeze=False, sharey=True)
    for ax, result in zip(axes[0], results):
        ax.plot(result.history["epoch"], result.history["train_loss"], label="train")
        ax.plot(result.history["epoch"], result.history["val_loss"], label="validation")
        ax.set(title=result.variant, xlabel="epoch")
    axes[0][0].set_ylabel("smooth loss (z units)")
    axes[0][0].legend(fontsize=8)
    return fig


def plot_predicted_vs_true(ax, true, pred, max_score: float, title: str | None = None) -> None:
    """Scatter of predicted against true overall score with the identity line."""
    ax.scatter(true, pred, s=12, alpha=0.7, edgecolors="none")
    ax.plot([0, max_score], [0, max_score], color="grey", lw=1, ls="--")
    ax.set(xlabel="true overall score", ylabel="predicted overall score", title=title)


def plot_bland_altman(ax, true, pred, title: str | None = None) -> None:
    """Bland-Altman plot: difference (pred - true) against the mean, bias and 95 % limits of agreement."""
    result = stats.bland_altman(pred, true)
    ax.scatter(result.means, result.diffs, s=12, alpha=0.7, edgecolors="none")
    for value, style in ((result.mean_diff, "-"), (result.lower, "--"), (result.upper, "--")):
        ax.axhline(value, color="grey", lw=1, ls=style)
    ax.set(xlabel="mean of predicted and true", ylabel="predicted - true", title=title)


def plot_test_agreement(true, pred, unit: str, name: str = "ResNet-Dwise50"):
    """Left: predicted against true score (paper 003 Fig. 6); right: Bland-Altman plot; both on the test split."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
    plot_predicted_vs_true(left, true, pred, MAX_SCORE[unit], f"{name}, test")
    plot_bland_altman(right, true, pred, "Bland-Altman, test")
    return fig
