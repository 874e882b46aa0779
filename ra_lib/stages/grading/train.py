"""Training mechanics shared by every stage-4 network: loaders, CPU threads, seeded training, prediction."""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ra_lib.core.training import fit, predict, seed_everything
from ra_lib.stages.grading.models import build_model
from ra_lib.stages.grading.remedies import balanced_sampler

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def make_loader(images: torch.Tensor, targets: torch.Tensor, batch_size: int, generator: torch.Generator,
                train: bool, sampler_labels=None, augment: Augment | None = None) -> DataLoader:
    """A loader over preprocessed crops; training loaders shuffle (or oversample ``sampler_labels`` with
    :func:`~ra_lib.stages.grading.remedies.balanced_sampler`) and apply ``augment(batch, generator)``."""
    dataset = TensorDataset(images, targets)
    sampler = balanced_sampler(sampler_labels, generator) if sampler_labels is not None else None

    def collate(batch):
        x = torch.stack([b[0] for b in batch])
        y = torch.stack([b[1] for b in batch])
        return (augment(x, generator) if augment is not None else x), y

    return DataLoader(dataset, batch_size=batch_size, sampler=sampler,
                      shuffle=train and sampler is None, generator=generator if train else None,
                      drop_last=train and len(dataset) > batch_size, collate_fn=collate)


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run the block with ``n`` torch CPU threads (``None``: unchanged), then restore the previous number."""
    previous = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass
class TrainedModel:
    """A trained network, its loss per epoch, and the training time and samples seen."""

    model: nn.Module
    history: pd.DataFrame
    seconds: float
    samples_seen: int

    def timing(self, **keys) -> dict:
        """One row of a timings table: ``keys``, seconds, samples and samples per second."""
        return {**keys, "seconds": self.seconds, "samples": self.samples_seen,
                "samples_per_s": self.samples_seen / max(self.seconds, 1e-9)}


def train_network(images: torch.Tensor, targets: torch.Tensor, num_outputs: int, loss_fn, optimizer_factory,
                  settings, epochs: int, seed: int, device, val=None, sampler_labels=None,
                  augment: Augment | None = None, desc: str = "epochs", progress: bool = True) -> TrainedModel:
    """Seed, build ``settings.arch`` and train it with :func:`ra_lib.core.training.fit` for up to ``epochs``.

    ``val``: optional ``(images, targets)`` of the validation split; with ``settings.patience`` training
    stops early on its loss and keeps the best epoch's weights. ``loss_fn`` runs with gradients enabled
    on training batches and disabled on validation batches.
    """
    generator = seed_everything(seed)
    model = build_model(settings.arch, num_outputs, settings.width, settings.weights_path)
    train_loader = make_loader(images, targets, settings.batch_size, generator, True, sampler_labels, augment)
    val_loader = None if val is None else make_loader(*val, settings.batch_size, generator, False)
    start = time.perf_counter()
    with torch_threads(settings.threads):
        history = fit(model, train_loader, val_loader, loss_fn, optimizer_factory(model.parameters()), epochs,
                      patience=settings.patience, device=device, desc=desc, progress=progress)
    seconds = time.perf_counter() - start
    samples = len(history) * (len(train_loader) * settings.batch_size if train_loader.drop_last else len(images))
    return TrainedModel(model, history, seconds, samples)


def predict_outputs(model: nn.Module, images: torch.Tensor, device, transform=None, threads: int | None = None,
                    batch_size: int = 256) -> np.ndarray:
    """The network's outputs on preprocessed crops (``transform``: applied to each batch of outputs)."""
    loader = DataLoader(TensorDataset(images), batch_size=batch_size)
    with torch_threads(threads):
        return predict(model, loader, device, transform=transform)
