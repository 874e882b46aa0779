"""A crop encoder shared by the four models of one kind and test fold (setting ``shared_encoder``).

Paper 001 trains every model end to end, its VGG16 backbone starting from ImageNet. Without those weights
and without a GPU, training a backbone per joint group and model type is what makes large crops
unaffordable. With ``shared_encoder`` the convolutional part is trained once per kind and test fold: one
SISO network learns intact vs non-intact on every usable joint of the kind (all groups) of the train folds,
the validation fold stopping it early. Its backbone, frozen, then encodes every crop once, as stored and in
``feature_views`` augmented copies (the paper's rotation, shift and zoom), and the head of each model type
and joint group trains on those features alone (paper 001 Fig. 3: one backbone, the features of the inputs
concatenated into a fully connected head). The test fold is seen by neither the encoder nor the heads.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch

from ra_lib.core import geometry
from ra_lib.stages.classification.models import FeatureClassifier, JointClassifier
from ra_lib.stages.classification.samples import Samples
from ra_lib.stages.classification.settings import ClassificationSettings
from ra_lib.stages.classification.train import FoldRun, SampleBatches, augmentation_matrices, train_samples

#: The group name of the encoder's training samples: every joint group of the kind.
ALL_GROUPS = "all"
#: The model name of the encoder's trainings in the runs table.
ENCODER = "encoder"


def encoder_samples(joints: pd.DataFrame, kind: str) -> Samples:
    """One single-crop sample per usable joint of ``kind`` (a joint table of :func:`~.samples.joint_table`)."""
    rows = np.arange(len(joints), dtype=np.int64)[:, None]
    return Samples(ENCODER, kind, ALL_GROUPS, joints, rows, joints["fold"].to_numpy())


@torch.no_grad()
def encode(backbone: torch.nn.Module, images: torch.Tensor, settings: ClassificationSettings,
           rng: np.random.Generator, device: torch.device, batch: int = 512) -> torch.Tensor:
    """Backbone features ``(1 + feature_views, N + 1, F)`` of every crop: view 0 as stored, then augmented
    copies (:func:`~.train.augmentation_matrices`); the last row of each view is a zero image (missing input)."""
    backbone = backbone.to(device).eval()
    crops = torch.cat([images, images.new_zeros((1, *images.shape[1:]))])[:, None]
    views = []
    for view in range(1 + settings.feature_views):
        thetas = augmentation_matrices((len(crops), 1), settings, rng)[:, 0] if view else None
        chunks = []
        for start in range(0, len(crops), batch):
            chunk = crops[start:start + batch]
            if thetas is not None:
                chunk = geometry.warp(chunk, thetas[start:start + batch], padding="border")
            chunks.append(backbone(chunk.to(device)).cpu())
        features = torch.cat(chunks)
        features[-1] = backbone(crops[-1:].to(device)).cpu()[0]  # the zero image stays unaugmented
        views.append(features)
    return torch.stack(views)


class FeatureBatches(SampleBatches):
    """Mini-batches ``(features (B, k, F), targets (B, k))`` from :func:`encode`'s views.

    ``crop_idx`` ``-1`` takes the zero image's features; augmented items take a random augmented view per
    crop (drawn once with ``rng``), the others view 0.
    """

    def __init__(self, features: torch.Tensor, crop_idx: np.ndarray, labels: np.ndarray, batch_size: int,
                 augmented: np.ndarray, rng: np.random.Generator, shuffle: bool = False,
                 generator: torch.Generator | None = None):
        super().__init__(labels, batch_size, shuffle, generator)
        self.features = features
        self.crop_idx = torch.as_tensor(np.where(crop_idx < 0, features.shape[1] - 1, crop_idx))
        n_views = features.shape[0]
        drawn = rng.integers(1, n_views, crop_idx.shape) if n_views > 1 else np.zeros(crop_idx.shape, np.int64)
        self.views = torch.as_tensor(np.where(np.asarray(augmented, bool)[:, None], drawn, 0))

    def inputs(self, idx: torch.Tensor) -> torch.Tensor:
        return self.features[self.views[idx], self.crop_idx[idx]]


def train_head(features: torch.Tensor | None, backbone: torch.nn.Module | None, samples: Samples,
               fold_ids: Sequence[int], test_fold: int, settings: ClassificationSettings, seed: int,
               device: torch.device) -> FoldRun:
    """Train one model type's head on the encoder's ``features`` with ``test_fold`` held out.

    The returned run's model is the whole network (the frozen ``backbone`` and the trained head), a
    :class:`~.models.JointClassifier` as an end-to-end training gives.
    """
    if backbone is None:  # the encoder had no train or test joints in this fold, so has no head: skipped
        return train_samples(samples, fold_ids, test_fold, settings, seed, device, None, None,
                             lr=settings.head_lr, epochs=0)
    k = samples.rows.shape[1]
    batch = max(1, settings.head_batch_crops // k)

    def make_batches(positions, augmented, shuffle, rng, generator):
        return FeatureBatches(features, samples.crop_idx[positions], samples.labels[positions], batch, augmented,
                              rng, shuffle=shuffle, generator=generator)

    def build_head():
        return FeatureClassifier(k, features.shape[-1], settings.fc_layers, settings.fc_width, settings.dropout,
                                 settings.init)

    run = train_samples(samples, fold_ids, test_fold, settings, seed, device, build_head, make_batches,
                        lr=settings.head_lr, epochs=settings.head_epochs, progress=False)
    if run.model is not None:
        run.model = JointClassifier(backbone, k, head=run.model.head).eval()
    return run
