"""Stage 1 as one call: :func:`run` splits, trains and evaluates everything the chapter shows.

A cohort whose images are all of one class (a real RA2 cohort: every image is one hand), or whose
training folds hold one class, trains no selection model: the result says why (``skipped``) and its
selection headline is ``None`` except ``test_images``; when that one class is a hand class, the bundle
still goes out, saying new images are taken to be of it (:func:`assumed_class`). The orientation model trains
on any cohort with orientation truth (:func:`~.orientation.orientation_truth`) and hand images in its training
folds; otherwise ``orientation.skipped`` says why and its headline is ``None``.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import torch

from ra_lib.core import bundles, contracts
from ra_lib.core.training import select_device
from ra_lib.stages.selection.data import (CLASSES, SPLITS, TASKS, preload_images, single_class_reason, split_images,
                                         view_classes)
from ra_lib.stages.selection.evaluate import (FUSION, PREDICTION_COLUMNS, ROTATED_COLUMNS, TAGS, THREE_CLASS,
                                              predictions_table, rotated_predictions, rotation_summary,
                                              selection_metrics)
from ra_lib.stages.selection.orientation import CLASSES as ORIENTATION_CLASSES
from ra_lib.stages.selection.orientation import orientation_truth
from ra_lib.stages.selection.orientation_evaluate import OrientationResult, orientation_table, variant_predictions
from ra_lib.stages.selection.orientation_model import predict_orientation, preload_squares, train_orientation
from ra_lib.stages.selection.settings import SelectionSettings
from ra_lib.stages.selection.train import TrainedModels, train_models

STAGE = contracts.SELECTION
#: The bundle's name of the orientation model.
ORIENTATION_MODEL = "orientation"
#: Every name of :meth:`SelectionResult.headline`, on every cohort and profile (``docs/ARTIFACTS.md``).
HEADLINE_NAMES = (
    "accuracy/model1_one_hand", "accuracy/model2_both_hands",
    f"accuracy/{FUSION}", f"accuracy/{THREE_CLASS}", f"accuracy/{TAGS}", "accuracy/majority_class",
    f"accuracy_rotated/{FUSION}", f"accuracy_rotated/{THREE_CLASS}",
    "accuracy/orientation/rotation", "accuracy/orientation/thumb_side", "accuracy/orientation/twelve_class",
    "test_images",
)


@dataclass
class SelectionResult:
    """Everything one run of stage 1 produced (test-split numbers unless said otherwise)."""

    settings: SelectionSettings
    images: pd.DataFrame  # the cohort's images + ``class``, ``fold`` and ``split``
    predictions: pd.DataFrame  # the artifact ``predictions.csv`` (empty when skipped)
    rotated: pd.DataFrame  # test hands upright and turned a quarter (empty when skipped)
    metrics: dict  # :func:`~ra_lib.stages.selection.evaluate.selection_metrics` on the test split
    orientation: OrientationResult  # the orientation model, its ``orientation.csv`` and test variants
    skipped: str | None = None  # why no selection model was trained, or None
    trained: TrainedModels | None = field(default=None, repr=False)
    cache: torch.Tensor | None = field(default=None, repr=False)  # the resized images, rows as ``images``
    train_seconds: float = 0.0

    @property
    def table2(self) -> pd.DataFrame:
        """Augmented training counts per model and class (paper 000 Table 2; empty when skipped)."""
        if self.trained is None:
            return pd.DataFrame(columns=["model", "class", "original", "augmented"])
        return self.trained.table2

    @property
    def rotation(self) -> pd.DataFrame:
        """Accuracy on the test hands upright and rotated (:func:`~.evaluate.rotation_summary`)."""
        return rotation_summary(self.rotated)

    @property
    def split_counts(self) -> pd.DataFrame:
        """Images per split and class."""
        counts = pd.crosstab(self.images["split"], self.images["class"])
        return counts.reindex(index=[s for s in SPLITS if s in counts.index]).rename_axis(index="split",
                                                                                          columns="class")

    def headline(self) -> dict[str, float | None]:
        """The flat headline (:data:`HEADLINE_NAMES`); ``None`` where nothing was trained."""
        models = self.metrics["models"]
        rotated = self.rotation.set_index(["model", "orientation"])["accuracy"]

        def model_value(model, key="accuracy"):
            return models[model][key] if model in models else None

        values = {
            "accuracy/model1_one_hand": model_value(FUSION, "model1_accuracy"),
            "accuracy/model2_both_hands": model_value(FUSION, "model2_accuracy"),
            **{f"accuracy/{model}": model_value(model) for model in (FUSION, THREE_CLASS, TAGS)},
            "accuracy/majority_class": self.metrics["majority_accuracy"],
            **{f"accuracy_rotated/{model}": rotated.get((model, "rotated")) for model in (FUSION, THREE_CLASS)},
            **{f"accuracy/orientation/{name}": value for name, value in self.orientation.accuracy().items()},
            "test_images": int((self.images["split"] == "test").sum()),
        }
        return contracts.headline(HEADLINE_NAMES, values)

    def details(self) -> dict:
        """The detail tables of ``metrics.json`` (besides headline, profile, seed and settings)."""
        return {"skipped": self.skipped, "train_seconds": self.train_seconds, "test_metrics": self.metrics,
                "split_counts": self.split_counts.to_dict(orient="index"),
                "table2": self.table2.to_dict(orient="records"),
                "rotation_check": self.rotation.to_dict(orient="records"),
                "orientation_skipped": self.orientation.skipped}


def run(cohort, settings: SelectionSettings, *, seed: int, device: torch.device | str = "cpu",
        progress: bool = True, bundle_dir: str | Path | None = None) -> SelectionResult:
    """Split the cohort's images by its patient folds, train Model 1, Model 2 and the three-class model,
    and evaluate them, the DICOM-tag baseline, the majority class and the 90-degree rotation check;
    train and evaluate the orientation model.

    ``cohort`` is a :class:`ra_lib.cohort.manifest.Cohort` (``images``, ``folds``, ``load_image``);
    ``device`` a torch device or ``"auto"`` (cuda when present). With ``bundle_dir`` the trained models
    are written there as a model bundle (:func:`write_bundle`; an old one is removed when nothing is trained).
    """
    device = select_device(device) if isinstance(device, str) else device
    images = split_table(cohort, settings)
    classes, split = images["class"].to_numpy(), images["split"].to_numpy()
    orientation = run_orientation(cohort, images, settings, seed, device, progress)
    reason = single_class_reason(classes, split)
    if reason is not None:
        empty = pd.DataFrame(columns=PREDICTION_COLUMNS)
        result = SelectionResult(settings, images, empty, pd.DataFrame(columns=ROTATED_COLUMNS),
                                 selection_metrics(empty, threshold=settings.threshold), orientation, skipped=reason)
        if bundle_dir is not None and assumed_class(images) is not None:
            write_bundle(result, bundle_dir)
        elif bundle_dir is not None:
            bundles.remove_bundle(bundle_dir)
        return result
    start = time.perf_counter()
    cache = preload_images(images["image_id"].tolist(), cohort.load_image, settings.input_size,
                           images["path"].astype(str).tolist(), progress, settings.equalize)
    trained = train_models(cache, classes, split, settings, seed, device, progress=progress)
    train_seconds = time.perf_counter() - start
    predictions = predictions_table(images, trained.probabilities, settings.threshold)
    rotated = rotated_predictions(images, cache, trained, settings.threshold, settings.batch_size, device)
    result = SelectionResult(settings, images, predictions, rotated,
                             selection_metrics(predictions, threshold=settings.threshold), orientation,
                             trained=trained, cache=cache, train_seconds=train_seconds)
    if bundle_dir is not None:
        write_bundle(result, bundle_dir)
    return result


def split_table(cohort, settings: SelectionSettings) -> pd.DataFrame:
    """The cohort's images with their selection ``class``, ``fold`` and ``split`` (train / val / test)."""
    images = cohort.images.reset_index(drop=True).copy()
    images["class"] = view_classes(images["view"])
    return images.join(split_images(images["patient"], cohort.folds, settings.test_fraction, settings.val_fraction,
                                    settings.test_fold))


def assumed_class(images: pd.DataFrame) -> str | None:
    """The class new images are taken to be when every image of the cohort is one hand, or every one both
    hands (nothing to learn selection from, yet its radiographs can be scored); ``None`` otherwise."""
    present = set(images["class"])
    return present.pop() if len(present) == 1 and present <= set(CLASSES[:2]) else None


def write_bundle(result: SelectionResult, folder: str | Path) -> Path:
    """The trained models of ``result`` as a model bundle (:mod:`ra_lib.core.bundles`) in ``folder``: the
    selection models and, when trained, the orientation model (:data:`ORIENTATION_MODEL`, its 12 classes
    in ``extra``). A cohort of one hand class alone (:func:`assumed_class`) trains no selection model: its
    bundle says so (``assumed_class`` in ``extra``) and keeps the orientation model."""
    assumed = assumed_class(result.images)
    if result.trained is None and assumed is None:
        raise ValueError(f"no selection model was trained ({result.skipped}), so there is no bundle to write")
    trained = {} if result.trained is None else result.trained.models
    models = {task: model.state_dict() for task, model in trained.items()}
    extra = {"classes": list(CLASSES), "tasks": {task: list(names) for task, names in TASKS.items()}}
    if result.trained is None:
        extra["assumed_class"] = assumed
    if result.orientation.model is not None:
        models[ORIENTATION_MODEL] = result.orientation.model.state_dict()
        extra["orientation_classes"] = list(ORIENTATION_CLASSES)
    return bundles.write_bundle(folder, STAGE, asdict(result.settings), models,
                                cohort_fingerprint=bundles.cohort_fingerprint(result.images),
                                headline=result.headline(), extra=extra)


def run_orientation(cohort, images: pd.DataFrame, settings: SelectionSettings, seed: int,
                    device: torch.device | str = "cpu", progress: bool = True) -> OrientationResult:
    """Train the orientation model on the hand images of the ``train`` split (``images`` as in :func:`run`,
    with ``class`` and ``split``), predict every hand image and the test hands' 8 variants."""
    truth = orientation_truth(cohort, images["class"])
    if truth is None:
        return OrientationResult.skip("the cohort has no orientation truth (rot90_k and thumb_side per image)")
    hands = images[["image_id", "path", "split", "class"]].assign(rot90_k=truth["rot90_k"].to_numpy(),
                                                                   thumb_side=truth["thumb_side"].to_numpy())
    hands = hands[hands["class"] != "other"].reset_index(drop=True)
    if not (hands["split"] == "train").any():
        return OrientationResult.skip("the training folds hold no hand image")
    cache = preload_squares(hands["image_id"].tolist(), cohort.load_image, settings.orientation_input_size,
                            hands["path"].astype(str).tolist(), progress)
    model, history = train_orientation(cache, hands["class"], hands["thumb_side"], hands["rot90_k"], hands["split"],
                                       settings, seed, device, progress)
    probabilities = predict_orientation(model, cache, settings.orientation_batch_size, device)
    test = (hands["split"] == "test").to_numpy()
    tested = variant_predictions(hands[test], cache[test], model, settings.orientation_batch_size, device)
    return OrientationResult(orientation_table(hands, probabilities), tested, model=model, history=history)
