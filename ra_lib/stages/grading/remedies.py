"""Paper 004's remedies for the imbalance of the grades (section 3.4), on the same network and data.

* ``plain``: the data as they are (paper 004 a);
* ``oversample_aug``: minority grades oversampled with weights ``1 / count`` of their class by a
  ``WeightedRandomSampler`` (paper 002's ImbalancedDatasetSampler) and augmented with random rotations,
  shears and zooms (paper 004 b; the ranges are :class:`~ra_lib.stages.grading.settings.GradingSettings`'
  ``max_rotation_deg``, ``max_shear_rad``, ``max_zoom``);
* ``class_weights``: the cross-entropy weighted so that ``weight x count`` is the same for every grade
  present in the training data (paper 004 c).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import WeightedRandomSampler

from ra_lib.core.geometry import affine_matrices, warp
from ra_lib.stages.grading.settings import CLASS_WEIGHTS, METHODS, OVERSAMPLE, PLAIN


def class_counts(labels, n_classes: int) -> np.ndarray:
    """Number of samples of each class ``0..n_classes-1``."""
    labels = np.asarray(labels, dtype=int)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in 0..{n_classes - 1}, found {labels.min()}..{labels.max()}")
    return np.bincount(labels, minlength=n_classes)


def class_weights(labels, n_classes: int) -> torch.Tensor:
    """Paper 004 (c): ``weight_c = N / (C * count_c)`` so ``weight x count`` is ``N / C`` for each present
    class (``C`` present classes); absent classes get weight 0 (they contribute nothing anyway)."""
    counts = class_counts(labels, n_classes).astype(float)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return torch.tensor(weights, dtype=torch.float32)


def balanced_sampler(labels, generator: torch.Generator, num_samples: int | None = None) -> WeightedRandomSampler:
    """Paper 002's ImbalancedDatasetSampler: draw with replacement, sample weight ``1 / count`` of its class,
    so every present class is drawn equally often in expectation. One epoch = ``len(labels)`` draws."""
    labels = np.asarray(labels, dtype=int)
    counts = np.bincount(labels)
    weights = torch.as_tensor(1.0 / counts[labels], dtype=torch.double)
    return WeightedRandomSampler(weights, num_samples or len(labels), replacement=True, generator=generator)


def random_affine(batch: torch.Tensor, generator: torch.Generator, max_rotation_deg: float = 25.0,
                  max_shear_rad: float = 0.1, max_zoom: float = 0.1) -> torch.Tensor:
    """Paper 004 (b) augmentation of a batch ``(B, 1, H, W)``: random rotation, shear and zoom, each
    uniform in ``[-max, max]`` (zoom ``1 +- max_zoom``), through :func:`ra_lib.core.geometry.warp`; pixels
    from outside repeat the border (Keras ``nearest``)."""
    n = batch.shape[0]

    def uniform(limit: float) -> torch.Tensor:
        return (torch.rand(n, generator=generator) * 2 - 1) * limit

    angle, shear = uniform(math.radians(max_rotation_deg)), uniform(max_shear_rad)
    zoom = 1.0 + uniform(max_zoom)
    return warp(batch, affine_matrices(angle, scale=zoom, shear_rad=shear), padding="border")


def remedy_loss(method: str, labels, n_classes: int, device):
    """The cross-entropy a remedy trains with: class-weighted for (c); for (b), whose training batches are
    balanced by the sampler already, weighted on validation batches only (gradients disabled), which
    estimates the same balanced objective on the natural grade distribution; unweighted for (a)."""
    if method not in METHODS:
        raise ValueError(f"unknown grading method {method!r}; expected one of {METHODS}")
    weight = class_weights(labels, n_classes).to(device) if method != PLAIN else None

    def loss_fn(logits, target):
        balanced_by_weight = method == CLASS_WEIGHTS or (method == OVERSAMPLE and not torch.is_grad_enabled())
        return F.cross_entropy(logits, target, weight=weight if balanced_by_weight else None)

    return loss_fn
