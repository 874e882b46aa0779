"""One training of a paper-001 joint classifier: augmentation, mini-batches, the balanced training of one
model with one test fold held out (:func:`train_samples`, end to end on crops: :func:`train_fold`).

* Sizes count crops, as the paper's "about 10,000 images": ``train_size`` crops are
  ``train_size / k`` samples of a model taking ``k`` crops, and a batch of ``batch_crops`` crops
  holds ``batch_crops / k`` samples, so every model type sees about as many crops per step and
  per epoch.
* Train samples are balanced to ``max(train_size / 2, majority count)`` per class, validation
  samples to the majority count (:func:`ra_lib.stages.classification.samples.balance`).
* Augmented copies get an independent random rotation, shift and zoom per crop (the paper's ranges
  are in :class:`~ra_lib.stages.classification.settings.ClassificationSettings`), applied with
  :func:`ra_lib.core.geometry.warp`.
"""
from __future__ import annotations

import time
import zlib
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
import torch

from ra_lib.cohort.folds import rotation
from ra_lib.core import geometry
from ra_lib.core.training import fit, predict, seed_everything
from ra_lib.stages.classification.models import JointClassifier, build_backbone, masked_bce_sum
from ra_lib.stages.classification.samples import Samples, balance
from ra_lib.stages.classification.settings import ClassificationSettings


# --- augmentation and batches --------------------------------------------------------------------
def augmentation_matrices(shape: tuple[int, int], settings: ClassificationSettings,
                          rng: np.random.Generator) -> torch.Tensor:
    """Random affine matrices ``(n, k, 2, 3)`` for :func:`ra_lib.core.geometry.warp`, one per crop."""
    angle = np.deg2rad(rng.uniform(-settings.rotation_deg, settings.rotation_deg, shape))
    scale = rng.uniform(*settings.scale_range, shape)
    shift = rng.uniform(-1, 1, (*shape, 2)) * 2 * settings.shift_px / settings.shift_reference_px  # [-1, 1] grid
    theta = geometry.affine_matrices(angle.reshape(-1), scale.reshape(-1), shift=shift.reshape(-1, 2))
    return theta.reshape(*shape, 2, 3)


class SampleBatches:
    """Mini-batches ``(inputs, targets (B, k))`` of samples, shuffled each pass with ``generator`` when
    ``shuffle``; a subclass gives the inputs of the samples at positions ``idx`` (:meth:`inputs`)."""

    def __init__(self, labels: np.ndarray, batch_size: int, shuffle: bool = False,
                 generator: torch.Generator | None = None):
        self.labels = torch.as_tensor(labels, dtype=torch.float32)
        self.batch_size, self.shuffle, self.generator = batch_size, shuffle, generator

    def inputs(self, idx: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self.inputs(idx), self.labels[idx]


class CropBatches(SampleBatches):
    """Mini-batches ``(crops (B, k, H, W), targets (B, k))``; augmented items warped on the fly.

    ``crop_idx`` ``-1`` gives a zero image.
    """

    def __init__(self, images: torch.Tensor, crop_idx: np.ndarray, labels: np.ndarray, batch_size: int,
                 augmented: np.ndarray | None = None, thetas: torch.Tensor | None = None,
                 shuffle: bool = False, generator: torch.Generator | None = None):
        super().__init__(labels, batch_size, shuffle, generator)
        self.images = torch.cat([images, images.new_zeros((1, *images.shape[1:]))])
        self.crop_idx = torch.as_tensor(np.where(crop_idx < 0, len(images), crop_idx))
        self.augmented = torch.as_tensor(augmented if augmented is not None else np.zeros(len(labels), bool))
        self.thetas = thetas

    def inputs(self, idx: torch.Tensor) -> torch.Tensor:
        crops = self.images[self.crop_idx[idx]]
        aug = self.augmented[idx]
        if aug.any():
            _, k, height, width = crops.shape
            moved = geometry.warp(crops[aug].reshape(-1, 1, height, width),
                                  self.thetas[idx][aug].reshape(-1, 2, 3), padding="border")
            crops[aug] = moved.reshape(-1, k, height, width)
        return crops


def prepare_images(images: np.ndarray, size: int) -> torch.Tensor:
    """Crops ``(N, H, W)`` in [0, 1] resized to ``size`` x ``size`` (:func:`ra_lib.core.geometry.resize_batch`)."""
    tensor = torch.as_tensor(np.asarray(images, np.float32))
    if tensor.ndim != 3:
        raise ValueError(f"crop store images must be (N, H, W), got shape {tuple(tensor.shape)}")
    return geometry.resize_batch(tensor[:, None], size)[:, 0].contiguous()


# --- one training --------------------------------------------------------------------------------
def run_seed(seed: int, *parts) -> int:
    """A stable per-run seed from the global seed and the run's names."""
    return (seed * 1_000_003 + zlib.crc32("/".join(map(str, parts)).encode())) % 2**31


@dataclass
class FoldRun:
    """One training: test sample positions, probabilities ``(n_test, k)``, epoch history, run summary and the
    trained :class:`~ra_lib.stages.classification.models.JointClassifier`."""

    test: np.ndarray
    probabilities: np.ndarray
    history: pd.DataFrame
    summary: dict
    model: torch.nn.Module | None


#: ``make_batches(positions, augmented, shuffle, rng, generator)``: mini-batches of the given samples.
BatchMaker = Callable[[np.ndarray, np.ndarray, bool, np.random.Generator, torch.Generator | None], Iterable]


def train_samples(samples: Samples, fold_ids: Sequence[int], test_fold: int, settings: ClassificationSettings,
                  seed: int, device: torch.device, build_model: Callable[[], torch.nn.Module] | None,
                  make_batches: BatchMaker | None, *,
                  lr: float, epochs: int, progress: bool = True) -> FoldRun:
    """Train ``build_model()`` (built once the run is seeded) on ``samples`` with ``test_fold`` held out (paper
    rotation) and predict the test fold.

    Train samples are balanced to ``settings.train_size`` crops, validation samples to their majority count;
    ``make_batches`` turns sample positions into mini-batches (crops, or features of crops).
    """
    train_folds, val_fold, _ = rotation(fold_ids, test_fold)
    test = np.flatnonzero(samples.fold == test_fold)
    train = np.flatnonzero(np.isin(samples.fold, train_folds))
    val = np.flatnonzero(samples.fold == val_fold)
    summary = {"kind": samples.kind, "group": samples.group, "model": samples.model_type, "fold": test_fold,
               "n_train": len(train), "n_train_positive": int(samples.positive[train].sum()),
               "n_val": len(val), "n_test": len(test)}
    k = samples.rows.shape[1]
    if not len(test) or not len(train):
        return FoldRun(test, np.empty((0, k), np.float32), pd.DataFrame(), {**summary, "status": "skipped"}, None)
    name = (samples.kind, samples.group, samples.model_type, test_fold)
    generator = seed_everything(run_seed(seed, *name))
    rng = np.random.default_rng(run_seed(seed, *name, "data"))

    def balanced(positions, size):
        picked, augmented = balance(samples.positive[positions], size, rng)
        return positions[picked], augmented

    model = build_model()
    train_picked, train_augmented = balanced(train, settings.train_size // k if settings.train_size else None)
    train_loader = make_batches(train_picked, train_augmented, True, rng, generator)
    val_loader = make_batches(*balanced(val, None), False, rng, None) if len(val) else None
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    start = time.perf_counter()
    history = fit(model, train_loader, val_loader, masked_bce_sum, optimizer, epochs, settings.patience, device,
                  desc=" ".join(map(str, name)), progress=progress)
    seconds = time.perf_counter() - start
    test_loader = make_batches(test, np.zeros(len(test), bool), False, rng, None)
    probabilities = predict(model, test_loader, device, transform=torch.sigmoid).reshape(len(test), k)
    best = int(history["val_loss"].idxmin()) + 1 if history["val_loss"].notna().any() else len(history)
    summary.update(status="trained", n_train_balanced=len(train_picked), epochs_run=len(history), best_epoch=best,
                   seconds=seconds, crops_per_sample=k)
    return FoldRun(test, probabilities, history.assign(**dict(zip(("kind", "group", "model", "fold"), name))),
                   summary, model)


def crop_model(settings: ClassificationSettings, k: int) -> JointClassifier:
    """A network taking ``k`` crops per sample, built from the settings."""
    backbone = build_backbone(settings.backbone, settings.width, settings.weights_path, settings.pool,
                              settings.global_pool)
    return JointClassifier(backbone, k, settings.fc_layers, settings.fc_width, settings.dropout, settings.init)


def train_fold(images: torch.Tensor, samples: Samples, fold_ids: Sequence[int], test_fold: int,
               settings: ClassificationSettings, seed: int, device: torch.device, progress: bool = True) -> FoldRun:
    """Train one network end to end on crops (``images`` ``(N, S, S)``) with ``test_fold`` held out.

    Augmented copies get an independent random rotation, shift and zoom per crop."""
    k = samples.rows.shape[1]
    batch = max(1, settings.batch_crops // k)

    def make_batches(positions, augmented, shuffle, rng, generator):
        thetas = augmentation_matrices((len(positions), k), settings, rng)
        return CropBatches(images, samples.crop_idx[positions], samples.labels[positions], batch, augmented,
                           thetas, shuffle=shuffle, generator=generator)

    return train_samples(samples, fold_ids, test_fold, settings, seed, device, lambda: crop_model(settings, k),
                         make_batches, lr=settings.lr, epochs=settings.epochs, progress=progress)
