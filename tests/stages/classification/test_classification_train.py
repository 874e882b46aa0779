import numpy as np
import pandas as pd
import pytest
import torch

from fixtures.classification_stores import fake_store
from ra_lib.cohort.folds import rotation
from ra_lib.core.profiles import resolve
from ra_lib.evaluation.readers import OOF_COLUMNS
from ra_lib.stages.classification import PROFILES
from ra_lib.stages.classification.samples import build_samples, joint_table
from ra_lib.stages.classification.train import (CropBatches, augmentation_matrices, prepare_images, rotation_table,
                                                run_cv, train_fold)


def tiny_settings(**overrides):
    return resolve(PROFILES, "smoke", **{"crop_size": 16, "batch_crops": 32, **overrides})


def test_augmentation_stays_within_the_papers_ranges():
    theta = augmentation_matrices((500, 3), tiny_settings(), np.random.default_rng(0)).numpy()
    linear = theta[..., :2]
    scale = 1 / np.sqrt(np.linalg.det(linear))
    angle = np.degrees(np.arctan2(linear[..., 1, 0], linear[..., 0, 0]))
    assert theta.shape == (500, 3, 2, 3)
    assert scale.min() >= 0.97 - 1e-6 and scale.max() <= 1.03 + 1e-6 and scale.max() - scale.min() > 0.05
    assert np.abs(angle).max() <= 3 + 1e-5 and np.abs(angle).max() > 2.5
    assert np.abs(theta[..., 2]).max() <= 2 * 5 / 224 + 1e-6


def test_augmentation_ranges_come_from_the_settings():
    theta = augmentation_matrices((200, 1), tiny_settings(rotation_deg=0.0, shift_px=0.0, scale_range=(1.0, 1.0)),
                                  np.random.default_rng(0))
    assert torch.allclose(theta, torch.tensor([[1.0, 0, 0], [0, 1, 0]]).expand(200, 1, 2, 3), atol=1e-6)


def test_crop_batches_fill_missing_inputs_with_zeros_and_augment_copies():
    images = torch.rand(4, 16, 16)
    crop_idx = np.array([[0, -1], [1, 2], [3, 0]])
    labels = np.array([[1, np.nan], [0, 1], [0, 0]], np.float32)
    thetas = augmentation_matrices((3, 2), tiny_settings(), np.random.default_rng(0))
    batches = CropBatches(images, crop_idx, labels, 2, np.array([False, False, True]), thetas)
    (x1, y1), (x2, y2) = list(batches)
    assert len(batches) == 2 and x1.shape == (2, 2, 16, 16) and x2.shape == (1, 2, 16, 16)
    assert torch.equal(x1[0, 0], images[0]) and torch.count_nonzero(x1[0, 1]) == 0
    assert not torch.equal(x2[0, 0], images[3])  # an augmented copy differs from its original
    assert torch.isnan(y1[0, 1])


def test_prepare_images_resizes_and_checks_the_shape():
    assert prepare_images(np.random.rand(3, 32, 32), 16).shape == (3, 16, 16)
    with pytest.raises(ValueError, match="N, H, W"):
        prepare_images(np.random.rand(3, 1, 32, 32), 16)


def test_train_fold_uses_the_paper_rotation():
    store, folds = fake_store(n_patients=16)
    joints, _ = joint_table(store.index, folds, "erosion")
    samples = build_samples(joints, "erosion", "wrist", "siso")
    fold_ids = list(range(8))
    for test_fold in (0, 7):
        train_folds, val_fold, _ = rotation(fold_ids, test_fold)
        _, _, _, summary, _ = train_fold(torch.as_tensor(store.images), samples, fold_ids, test_fold,
                                         tiny_settings(), seed=0, device=torch.device("cpu"), progress=False)
        assert summary["n_test"] == (samples.fold == test_fold).sum()
        assert summary["n_val"] == (samples.fold == val_fold).sum()
        assert summary["n_train"] == np.isin(samples.fold, train_folds).sum() == 6 * 2 * 2 * 4
    assert rotation_table(folds, tiny_settings(test_folds=(7,))).iloc[0].tolist() == [[1, 2, 3, 4, 5, 6], 0, 7]


def test_train_size_and_batches_count_crops():
    store, folds = fake_store(n_patients=8)
    joints, _ = joint_table(store.index, folds, "erosion")
    samples = build_samples(joints, "erosion", "MCP", "mimo_one_hand")  # 5 crops per sample
    _, _, _, summary, _ = train_fold(torch.as_tensor(store.images), samples, list(range(8)), 0,
                                     tiny_settings(train_size=400), seed=0, device=torch.device("cpu"), progress=False)
    assert summary["n_train_balanced"] == 2 * (400 // 5 // 2)  # 400 crops = 80 samples, 40 per class


def test_end_to_end_cv_on_a_fake_store_is_complete_and_deterministic():
    store, folds = fake_store(n_patients=8, one_hand_patients=(3,))
    settings = tiny_settings(test_folds=(0, 3), groups=("MCP", "wrist"))
    first = run_cv(store.images, store.index, folds, settings, seed=1, progress=False)
    second = run_cv(store.images, store.index, folds, settings, seed=1, progress=False)
    oof = first.oof
    assert tuple(oof.columns) == OOF_COLUMNS
    assert set(oof["model"]) == set(settings.models)
    assert oof["probability"].between(0, 1).all()
    per_model = oof.groupby("model").size()  # every model predicts every usable joint of the test patients once
    assert per_model.nunique() == 1 and not oof.duplicated(["hand_id", "kind", "site", "model"]).any()
    assert per_model.iloc[0] == 2 * (5 + 4) + 1 * (5 + 4) + 2 * (5 + 3) + 1 * (5 + 3)  # patient 3: left hand only
    pd.testing.assert_frame_equal(first.oof, second.oof)
    counts = first.sample_counts.set_index(["kind", "group", "model"])
    assert counts.loc[("erosion", "MCP", "mimo_local"), "samples_missing_hand"] == 5
    assert (first.runs["status"] == "trained").all() and first.skipped.empty
    assert list(first.joint_counts["kind"]) == ["erosion", "jsn"]


def test_groups_without_joints_and_kinds_without_pairs_are_skipped():
    store, folds = fake_store(n_patients=8, one_hand_patients=tuple(range(8)))  # left hands only
    index = store.index[store.index["group"] != "wrist"]
    result = run_cv(store.images, index, folds, tiny_settings(kinds=("erosion",), groups=("MCP", "wrist")),
                    progress=False)
    skipped = set(map(tuple, result.skipped[["group", "model"]].to_numpy()))
    assert skipped == {("wrist", ""), ("MCP", "mimo_local"), ("MCP", "mimo_both_hands")}
    assert set(result.oof["model"]) == {"siso", "mimo_one_hand"} and set(result.oof["group"]) == {"MCP"}
