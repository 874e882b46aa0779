"""Stage 1 tables and figures for the chapter; each takes a :class:`~.stage.SelectionResult`.

On a cohort where nothing was trained (``result.skipped``) every helper that needs the models returns
a short Markdown note instead. Figures are saved to ``path`` (when given), closed, and returned; the
chapter passes each to :func:`show`, which displays it with its alt text or displays the note in its place.
"""
from __future__ import annotations

import functools
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from matplotlib.ticker import MaxNLocator

from ra_lib.core import geometry, plots
from ra_lib.core.artifacts import save_figure
from ra_lib.evaluation.published import SELECTION_RESULTS
from ra_lib.stages.selection.augment import table2_comparison
from ra_lib.stages.selection.data import view_classes
from ra_lib.stages.selection.evaluate import FUSION, TAGS, confusion_counts, misclassified, misclassified_rotated
from ra_lib.stages.selection.orientation import CLASSES as ORIENTATION_CLASSES
from ra_lib.stages.selection.orientation_evaluate import accuracy_table
from ra_lib.stages.selection.orientation_evaluate import confusion_counts as orientation_counts
from ra_lib.stages.selection.settings import SelectionSettings

BINARY_COLUMNS = ["model 1 (one hand)", "model 2 (both hands)"]
#: Shown in place of a model's table or figure when nothing was trained (:func:`split_summary` says why).
NOT_TRAINED = "*No model was trained on this cohort (see the split above).*"


def _needs_models(function: Callable) -> Callable:
    @functools.wraps(function)
    def wrapper(result, *args, **kwargs):
        return Markdown(NOT_TRAINED) if result.skipped else function(result, *args, **kwargs)
    return wrapper


def _finish(fig, path: str | Path | None):
    if path is not None:
        save_figure(fig, path)
    plt.close(fig)
    return fig


def show(figure, alt: str, path: str | Path | None = None) -> None:
    """Display a helper's figure with ``alt`` as its alt text (saved to ``path``) through
    :func:`ra_lib.core.plots.show`, or the Markdown note the helper returned in its place."""
    if isinstance(figure, Markdown):
        display(figure)
    else:
        plots.show(figure, alt, path)


def tag_table(images: pd.DataFrame) -> pd.DataFrame:
    """The cohort's images by selection class and DICOM ``BodyPartExamined`` tag, with totals."""
    classes = pd.Series(view_classes(images["view"]), name="class")
    tags = images["body_part"].fillna("").replace("", "(blank)").rename("BodyPartExamined").reset_index(drop=True)
    return pd.crosstab(classes, tags, margins=True, margins_name="total")


def augmentation_table(settings: SelectionSettings) -> pd.DataFrame:
    """The augmentation ranges of one run (paper Table 1's families)."""
    return pd.Series(asdict(settings.augment), name="range").to_frame().T


def split_summary(result) -> Markdown:
    """How the cohort's folds were split, and why nothing was trained if so."""
    images = result.images
    parts = []
    for split, label in (("train", "training"), ("val", "validation"), ("test", "test")):
        folds = sorted(images.loc[images["split"] == split, "fold"].unique())
        parts.append(f"{(images['split'] == split).sum()} {label} images (fold{'s' if len(folds) > 1 else ''} "
                     f"{', '.join(map(str, folds))})")
    text = f"{len(images)} images: " + ", ".join(parts) + "."
    if result.skipped:
        text += f"\n\n**Nothing is trained on this cohort**: {result.skipped}. Every accuracy below is left out."
    return Markdown(text)


@_needs_models
def table2(result) -> pd.DataFrame:
    """This run's augmented counts beside paper 000 Table 2."""
    return table2_comparison(result.table2)


@_needs_models
def learning_curves(result, path: str | Path | None = None):
    """Training and validation loss per epoch of each model."""
    histories = result.trained.histories
    fig, axes = plt.subplots(1, len(histories), figsize=(4 * len(histories), 3), squeeze=False)
    for ax, (task, history) in zip(axes[0], histories.items()):
        ax.plot(history["epoch"], history["train_loss"], marker="o", label="training (augmented)")
        ax.plot(history["epoch"], history["val_loss"], marker="o", label="validation")
        ax.set(title=task, xlabel="epoch", ylabel="cross-entropy")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return _finish(fig, path)


@_needs_models
def headline_table(result) -> pd.DataFrame:
    """Test accuracy per model (three classes, ``correct`` of ``n``) and the binary accuracies of Model 1 and
    Model 2, beside paper 000 (Tables 3 and 4) and the majority class."""
    metrics, n = result.metrics, result.metrics["n"]
    paper_correct, paper_n = SELECTION_RESULTS["three_class_correct"], SELECTION_RESULTS["n_test"]
    rows = [{"model": "paper 000: two binary, fused", "accuracy": paper_correct / paper_n,
             "correct": f"{paper_correct} / {paper_n}", BINARY_COLUMNS[0]: SELECTION_RESULTS["model1_accuracy"],
             BINARY_COLUMNS[1]: SELECTION_RESULTS["model2_accuracy"]}]
    for model, values in metrics["models"].items():
        rows.append({"model": model, "accuracy": values["accuracy"], "correct": f"{values['correct']} / {n}",
                     BINARY_COLUMNS[0]: values["model1_accuracy"], BINARY_COLUMNS[1]: values["model2_accuracy"]})
    majority = metrics["majority_accuracy"]
    rows.append({"model": f"majority class ({metrics['majority_class']})", "accuracy": majority,
                 "correct": f"{round(majority * n)} / {n}", BINARY_COLUMNS[0]: np.nan, BINARY_COLUMNS[1]: np.nan})
    return pd.DataFrame(rows).set_index("model")


@_needs_models
def binary_table(result) -> pd.DataFrame:
    """Model 1's and Model 2's binary test accuracies (paper Table 3), per model row of :func:`headline_table`."""
    return headline_table(result)[BINARY_COLUMNS].dropna()


@_needs_models
def confusion(result, model: str) -> pd.DataFrame:
    """Three-class test confusion counts of one model (rows: truth, columns: prediction; paper Table 4)."""
    return confusion_counts(result.predictions, model)


@_needs_models
def tag_hands_table(result) -> pd.DataFrame:
    """Test hand images by their ``BodyPartExamined`` tag: selected or missed by the tag query."""
    rows = result.predictions[(result.predictions["model"] == TAGS) & (result.predictions["split"] == "test")]
    hands = rows[rows["view_true"] != "other"]
    tags = result.images.set_index("image_id").loc[hands["image_id"], "body_part"].fillna("").replace("", "(blank)")
    selected = np.where(hands["view_pred"] != "other", "selected by tag", "missed by tag")
    return pd.crosstab(pd.Series(tags.to_numpy(), name="BodyPartExamined"), pd.Series(selected, name=""))


@_needs_models
def rotation_table(result) -> pd.DataFrame:
    """Accuracy on the test hands, upright and turned a quarter, and how many were taken for "other"."""
    return result.rotation


@_needs_models
def gallery(result, load_image: Callable[[str], np.ndarray], rotated: bool = False, model: str = FUSION,
            n: int = 12, path: str | Path | None = None):
    """The misclassified test images of ``model`` (paper Fig. 4), upright or (``rotated``) the turned hands,
    with the true and the predicted class and both models' probabilities."""
    rows = misclassified_rotated(result.rotated, model) if rotated else misclassified(result.predictions, model)
    rows = rows.head(n)
    if not len(rows):
        return Markdown("*None: every such image was classified correctly.*")
    fig, axes = plots.image_grid(len(rows), ncols=min(4, len(rows)))
    for ax, row in zip(axes, rows.itertuples(index=False)):
        plots.show_radiograph(ax, geometry.rotate90(load_image(row.image_id), int(rotated)),
                              title=f"{row.view_true} -> {row.view_pred}\n"
                                    f"p1={row.p_one_hand:.2f} p2={row.p_both_hands:.2f}")
    return _finish(fig, path)


def _needs_orientation(function: Callable) -> Callable:
    @functools.wraps(function)
    def wrapper(result, *args, **kwargs):
        skipped = result.orientation.skipped
        return Markdown(f"*No orientation model: {skipped}.*") if skipped else function(result, *args, **kwargs)
    return wrapper


@_needs_orientation
def orientation_table(result) -> pd.DataFrame:
    """Orientation accuracy on the test hands' 8 variants, per true rotation and thumb side, and overall."""
    rows = result.orientation.variants
    overall = pd.DataFrame([{"rotation_ccw_deg": "all", "side": "all", "n": len(rows),
                             **result.orientation.accuracy()}])
    return pd.concat([accuracy_table(rows), overall], ignore_index=True).set_index(["rotation_ccw_deg", "side"])


@_needs_orientation
def orientation_confusion(result, path: str | Path | None = None):
    """12-class confusion counts of the orientation model on the test hands' variants, as a heat map."""
    counts = orientation_counts(result.orientation.variants)
    fig, ax = plt.subplots(figsize=(5.6, 5))
    ax.imshow(counts.to_numpy(), cmap="Blues")
    ticks = range(len(ORIENTATION_CLASSES))
    ax.set_xticks(ticks, ORIENTATION_CLASSES, rotation=90, fontsize=7)
    ax.set_yticks(ticks, ORIENTATION_CLASSES, fontsize=7)
    for (i, j), value in np.ndenumerate(counts.to_numpy()):
        if value:
            ax.text(j, i, str(value), ha="center", va="center", fontsize=6,
                    color="white" if value > counts.to_numpy().max() / 2 else "black")
    ax.set(xlabel="predicted", ylabel="true")
    fig.tight_layout()
    return _finish(fig, path)


def summary(result) -> Markdown:
    """One sentence: did the fused models beat the majority-class baseline on the test images."""
    if result.skipped:
        return Markdown(f"No model was trained: {result.skipped}.")
    fused, majority = result.metrics["models"][FUSION]["accuracy"], result.metrics["majority_accuracy"]
    verdict = "beat" if fused > majority else "did **not** beat"
    return Markdown(f"On {result.metrics['n']} test images the fused models {verdict} the majority-class "
                    f"baseline ({fused:.3f} vs {majority:.3f}).")
