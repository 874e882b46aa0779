import numpy as np
import torch

from ra_lib.stages.classification.encoder import FeatureBatches


def test_feature_batches_take_the_zero_image_for_missing_inputs_and_augmented_views_for_copies():
    features = torch.arange(3 * 4 * 2, dtype=torch.float32).reshape(3, 4, 2)  # 3 views, 3 crops + zero image
    crop_idx = np.array([[0, -1], [2, 1]])
    batches = FeatureBatches(features, crop_idx, np.zeros((2, 2), np.float32), 2, np.array([False, True]),
                             np.random.default_rng(0))
    (x, _), = list(batches)
    assert torch.equal(x[0, 0], features[0, 0]) and torch.equal(x[0, 1], features[0, 3])
    assert all(any(torch.equal(x[1, j], features[v, c]) for v in (1, 2)) for j, c in enumerate((2, 1)))
