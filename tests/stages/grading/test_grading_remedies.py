"""Tests of ra_lib.stages.grading.remedies: sampler, class weights, augmentation, remedy losses."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.utils.class_weight import compute_class_weight

from ra_lib.core.geometry import affine_matrices, warp
from ra_lib.stages.grading import remedies


def test_sampler_balances_classes():
    labels = np.array([0] * 90 + [1] * 9 + [2] * 1)
    sampler = remedies.balanced_sampler(labels, torch.Generator().manual_seed(0), num_samples=30000)
    drawn = labels[np.fromiter(iter(sampler), dtype=int)]
    np.testing.assert_allclose(np.bincount(drawn) / len(drawn), [1 / 3] * 3, atol=0.02)


def test_class_weights_times_count_is_constant():
    labels = np.array([0] * 50 + [1] * 20 + [2] * 5 + [4] * 1)
    weights = remedies.class_weights(labels, 5).numpy()
    counts = np.bincount(labels, minlength=5)
    present = counts > 0
    np.testing.assert_allclose(weights[present] * counts[present], len(labels) / present.sum(), rtol=1e-6)
    assert weights[3] == 0
    reference = compute_class_weight("balanced", classes=np.array([0, 1, 2, 4]), y=labels)
    np.testing.assert_allclose(weights[present], reference, rtol=1e-6)
    with pytest.raises(ValueError, match="labels must lie"):
        remedies.class_counts([0, 5], 5)


def test_random_affine_keeps_shape_and_identity_at_zero():
    batch = torch.rand(3, 1, 12, 12)
    generator = torch.Generator().manual_seed(0)
    same = remedies.random_affine(batch, generator, 0.0, 0.0, 0.0)
    torch.testing.assert_close(same, batch, atol=1e-5, rtol=0)
    moved = remedies.random_affine(batch, generator)
    assert moved.shape == batch.shape and not torch.allclose(moved, batch)


def test_random_affine_is_the_geometry_warp_with_border_padding():
    batch = torch.rand(4, 1, 10, 10)
    moved = remedies.random_affine(batch, torch.Generator().manual_seed(3), 25.0, 0.1, 0.1)
    draws = torch.Generator().manual_seed(3)
    angle, shear, zoom = ((torch.rand(4, generator=draws) * 2 - 1) * limit for limit in (math.radians(25), 0.1, 0.1))
    expected = warp(batch, affine_matrices(angle, scale=1 + zoom, shear_rad=shear), padding="border")
    torch.testing.assert_close(moved, expected)


def test_remedy_losses():
    logits, target = torch.randn(8, 3), torch.tensor([0, 0, 0, 0, 0, 0, 1, 2])
    labels = target.numpy()
    weight = remedies.class_weights(labels, 3)
    plain = remedies.remedy_loss("plain", labels, 3, "cpu")
    weighted = remedies.remedy_loss("class_weights", labels, 3, "cpu")
    oversample = remedies.remedy_loss("oversample_aug", labels, 3, "cpu")
    torch.testing.assert_close(plain(logits, target), F.cross_entropy(logits, target))
    torch.testing.assert_close(weighted(logits, target), F.cross_entropy(logits, target, weight=weight))
    with torch.enable_grad():
        torch.testing.assert_close(oversample(logits, target), F.cross_entropy(logits, target))
    with torch.no_grad():
        torch.testing.assert_close(oversample(logits, target), F.cross_entropy(logits, target, weight=weight))
    with pytest.raises(ValueError, match="unknown grading method"):
        remedies.remedy_loss("focal", labels, 3, "cpu")
