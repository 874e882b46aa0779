"""The orientation CNN (:mod:`.orientation`'s 12 classes), its image cache, training and prediction.

Images are padded to a square (:func:`ra_lib.core.geometry.pad_to_square`) before resizing, so a
quarter turn of the input is exactly a quarter turn of the network's view and the portrait or
landscape frame stays visible. Training uses every labelled image's 8 variants and, per variant,
``orientation_copies`` copies warped with the stage's augmentation ranges without flips (copies are
made once, seeded by ``(seed, sample index)``), through the shared loop :func:`ra_lib.core.training.fit`.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ra_lib.core import geometry
from ra_lib.core.training import fit, seed_everything
from ra_lib.stages.selection.augment import apply_params, draw_params
from ra_lib.stages.selection.data import preload_images
from ra_lib.stages.selection.orientation import CLASSES, variant_classes, variants
from ra_lib.stages.selection.settings import SelectionSettings
from ra_lib.stages.selection.train import predict_proba


class OrientationCNN(nn.Module):
    """Four blocks conv 3x3 / batch norm / ReLU / max-pool 2 (``width``, 2, 4, 4 x ``width`` channels),
    average-pooled to a 4 x 4 grid (the layout that tells the turns apart), dropout, one linear layer."""

    def __init__(self, width: int = 16, n_classes: int = len(CLASSES), dropout: float = 0.3):
        super().__init__()
        channels = (1, width, 2 * width, 4 * width, 4 * width)
        blocks = []
        for c_in, c_out in zip(channels, channels[1:]):
            blocks += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
                       nn.MaxPool2d(2)]
        self.features = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(channels[-1] * 16, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def preload_squares(image_ids: Sequence[str], load_image: Callable[[str], np.ndarray], size: int,
                    paths: Sequence[str] | None = None, progress: bool = True) -> torch.Tensor:
    """:func:`~.data.preload_images` of the images padded to a square: ``(N, 1, size, size)``."""
    def load_square(image_id: str) -> np.ndarray:
        array = np.asarray(load_image(image_id), dtype=np.float32)
        return geometry.pad_to_square(torch.from_numpy(array)).numpy() if array.ndim == 2 else array

    return preload_images(image_ids, load_square, size, paths, progress)


def training_set(images: torch.Tensor, classes: np.ndarray, copies: int, settings: SelectionSettings,
                 seed: int) -> TensorDataset:
    """The 8 variants of each image with their ``(N, 8)`` ``classes``, plus ``copies`` warped copies of each."""
    inputs, targets = variants(images), torch.as_tensor(classes.reshape(-1))
    if copies:
        ranges = dataclasses.replace(settings.augment, horizontal_flip=False, vertical_flip=False)
        source = np.repeat(np.arange(len(inputs)), copies)
        params = [draw_params(np.random.default_rng((int(seed), int(i))), ranges) for i in range(len(source))]
        inputs = torch.cat([inputs, apply_params(inputs[source], params)])
        targets = torch.cat([targets, targets[source]])
    return TensorDataset(inputs, targets)


def train_orientation(images: torch.Tensor, view_classes: Sequence[str], thumb_sides: Sequence[str],
                      rot90_ks: Sequence[int], split: Sequence[str], settings: SelectionSettings, seed: int,
                      device: torch.device | str = "cpu", progress: bool = True) -> tuple[OrientationCNN, pd.DataFrame]:
    """Train on the ``train`` rows' variants (and warped copies), early-stopping on the ``val`` rows'
    variants; rows are hand images labelled ``view_classes`` / ``thumb_sides`` / ``rot90_ks``.
    Returns ``(model, history)``."""
    split = np.asarray(split, dtype=object)
    classes = variant_classes(view_classes, thumb_sides, rot90_ks)
    fit_rows, val_rows = np.flatnonzero(split == "train"), np.flatnonzero(split == "val")
    if not len(fit_rows):
        raise ValueError("the orientation model needs at least one training hand image")
    generator = seed_everything(seed)
    train_loader = DataLoader(training_set(images[fit_rows], classes[fit_rows], settings.orientation_copies,
                                           settings, seed),
                              batch_size=settings.orientation_batch_size, shuffle=True, generator=generator)
    val_loader = None
    if len(val_rows):
        val_loader = DataLoader(training_set(images[val_rows], classes[val_rows], 0, settings, seed),
                                batch_size=settings.orientation_batch_size)
    model = OrientationCNN(settings.orientation_width)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.orientation_lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=settings.orientation_lr,
                                                    total_steps=settings.orientation_epochs * len(train_loader))
    history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, settings.orientation_epochs,
                  settings.orientation_patience, device, desc="orientation", progress=progress,
                  batch_scheduler=scheduler)
    return model.cpu(), history


def predict_orientation(model: OrientationCNN, images: torch.Tensor, batch_size: int = 64,
                        device: torch.device | str = "cpu") -> np.ndarray:
    """Softmax probabilities ``(N, 12)`` of :data:`~.orientation.CLASSES`."""
    if not len(images):
        return np.empty((0, len(CLASSES)))
    return predict_proba(model, images, batch_size, device)
