"""Stage 1 training: one CNN per task (Model 1, Model 2, the three-class model) on the same split.

Model 2's negatives are all non-both-hands images ("the rest"), so a cohort without "other" images
still trains both models (Table 2's 1,572 = 3 x 524 suggests the paper's Model 2 saw only the 524
"other" images). Augmentation targets are Table 2 scaled to the training images (train + val);
copies are made from the ``train`` rows only, so no validation image leaks into training.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ra_lib.core.training import fit, predict, seed_everything
from ra_lib.stages.selection.augment import AugmentedDataset, augmentation_plan, augmented_counts, scaled_targets
from ra_lib.stages.selection.data import TASKS, task_labels
from ra_lib.stages.selection.model import SelectionCNN
from ra_lib.stages.selection.settings import SelectionSettings


def build_model(task: str, settings: SelectionSettings) -> SelectionCNN:
    """A fresh CNN for one task (``model1``, ``model2`` or ``three_class``) with the settings' sizes."""
    return SelectionCNN(settings.input_size, len(TASKS[task]), dropout_conv=settings.dropout_conv,
                        dropout_fc=settings.dropout_fc)


def train_task(task: str, images: torch.Tensor, classes: np.ndarray, split: np.ndarray,
               settings: SelectionSettings, seed: int, device: torch.device | str = "cpu", progress: bool = True):
    """Train one model on the ``train`` rows (augmented per plan), early-stopping on ``val``.

    Returns ``(model, history, plan)``.
    """
    names = TASKS[task]
    labels = task_labels(task, classes)
    codes = np.array([names.index(label) for label in labels])
    fit_rows, val_rows = np.flatnonzero(split == "train"), np.flatnonzero(split == "val")
    targets = scaled_targets(task, len(fit_rows) + len(val_rows), settings.augment_scale)
    plan = augmentation_plan(labels[fit_rows], targets, seed)
    generator = seed_everything(seed)
    train_loader = DataLoader(AugmentedDataset(images[fit_rows], codes[fit_rows], plan, settings.augment, seed),
                              batch_size=settings.batch_size, shuffle=True, generator=generator)
    val_loader = None
    if len(val_rows):
        val_loader = DataLoader(TensorDataset(images[val_rows], torch.as_tensor(codes[val_rows])),
                                batch_size=settings.batch_size)
    model = build_model(task, settings)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, settings.epochs,
                  settings.patience, device, desc=task, progress=progress)
    return model, history, plan


def predict_proba(model: nn.Module, images: torch.Tensor, batch_size: int = 64,
                  device: torch.device | str = "cpu") -> np.ndarray:
    """Softmax probabilities ``(N, n_classes)``."""
    loader = DataLoader(TensorDataset(images), batch_size=batch_size)
    return predict(model, loader, device, transform=lambda logits: torch.softmax(logits, dim=1))


@dataclass
class TrainedModels:
    """The trained models of one run, their learning curves, augmentation plans and softmax outputs."""

    models: dict[str, SelectionCNN] = field(repr=False)
    histories: dict[str, pd.DataFrame]
    plans: dict[str, pd.DataFrame] = field(repr=False)
    probabilities: dict[str, np.ndarray] = field(repr=False)

    @property
    def table2(self) -> pd.DataFrame:
        """Augmented training counts per model and class (paper 000 Table 2)."""
        return augmented_counts(self.plans)

    def predict(self, images: torch.Tensor, batch_size: int, device: torch.device | str) -> dict[str, np.ndarray]:
        """Each model's softmax outputs on ``images``."""
        return {task: predict_proba(model, images, batch_size, device) for task, model in self.models.items()}


def train_models(images: torch.Tensor, classes: np.ndarray, split: np.ndarray, settings: SelectionSettings,
                 seed: int, device: torch.device | str = "cpu", tasks: Sequence[str] = tuple(TASKS),
                 progress: bool = True) -> TrainedModels:
    """Train ``tasks`` (default: both binary models and the three-class model) and predict every image."""
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown:
        raise ValueError(f"unknown selection task(s) {unknown}; expected from {sorted(TASKS)}")
    models, histories, plans, probabilities = {}, {}, {}, {}
    for task in tasks:
        model, history, plan = train_task(task, images, classes, split, settings, seed, device, progress)
        probabilities[task] = predict_proba(model, images, settings.batch_size, device)
        models[task], histories[task], plans[task] = model.cpu(), history, plan
    return TrainedModels(models, histories, plans, probabilities)
