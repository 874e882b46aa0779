"""Tests of ra_lib.stages.grading.pipeline: split, data join, imbalance remedies, networks, training, predictions."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score
from sklearn.utils.class_weight import compute_class_weight

from ra_lib.stages.grading import pipeline as grading
from ra_lib.core.profiles import resolve
from ra_lib.cohort.sites import EROSION, JSN, hand_sites


@pytest.fixture(scope="module")
def toy():
    return grading.toy_crop_store(n_patients=10, crop_size=24, seed=1, flagged_fraction=0.05)


@pytest.fixture(scope="module")
def data(toy):
    store, scores = toy
    return grading.prepare_data(store, scores, crop_size=16, n_folds=4, seed=0)


def tiny_settings(**overrides):
    settings = resolve(grading.PROFILES, "smoke", crop_size=16, epochs=2, batch_size=32, width=4)
    return SimpleNamespace(**{**vars(settings), **overrides})


# --- split and data -------------------------------------------------------------------
def test_split_rotates_patient_folds_deterministically():
    patients = [f"P{i}" for i in range(24)] * 3
    split = grading.split_patients(patients, n_folds=8, seed=3)
    assert split == grading.split_patients(reversed(patients), n_folds=8, seed=3)
    assert sorted(split.values()).count("test") == sorted(split.values()).count("val") == 3
    with pytest.raises(ValueError, match="cannot fill"):
        grading.split_patients(["a", "b"], n_folds=8)


def test_split_uses_the_cohort_folds(toy):
    store, scores = toy
    patients = sorted(scores["patient"].unique())
    folds = pd.DataFrame({"patient": patients, "fold": np.arange(len(patients)) % 4})
    data = grading.prepare_data(store, scores, 16, folds=folds, test_fold=1)
    by_split = data.rows.groupby("split")["patient"].unique()
    assert set(by_split["test"]) == set(folds.loc[folds["fold"] == 1, "patient"])
    assert set(by_split["val"]) == set(folds.loc[folds["fold"] == 2, "patient"])
    with pytest.raises(ValueError, match="no fold"):
        grading.split_patients(patients, folds.iloc[1:], 1)
    with pytest.raises(ValueError, match="not one of the folds"):
        grading.split_patients(patients, folds, 7)


def test_prepare_data_counts_flagged_and_keeps_every_scored_site(toy, data):
    store, scores = toy
    n_flagged = int(store.index["flagged"].sum())
    assert data.counts["flagged"] == n_flagged > 0
    assert len(data.rows) == len(scores) == data.counts["rows"]
    assert (data.rows["status"] == "flagged").sum() == n_flagged
    assert len(data.images) == (data.rows["image_row"] >= 0).sum() == len(scores) - n_flagged
    # eroded_pct joined for erosion rows only; patients never straddle the split
    assert data.rows.loc[data.rows["kind"] == EROSION, "eroded_pct"].notna().all()
    assert data.rows.loc[data.rows["kind"] == JSN, "eroded_pct"].isna().all()
    assert (data.rows.groupby("patient")["split"].nunique() == 1).all()
    # preprocessed crops are standardised
    assert torch.allclose(data.images.mean(dim=(1, 2, 3)), torch.zeros(len(data.images)), atol=1e-4)


def test_prepare_data_keeps_scored_sites_without_a_crop(toy):
    store, scores = toy
    partial = SimpleNamespace(images=store.images, index=store.index.iloc[10:])
    data = grading.prepare_data(partial, scores, crop_size=16, n_folds=4, seed=0)
    assert data.counts["no_crop"] == 10 and len(data.rows) == len(scores)


def test_prepare_data_rejects_bad_input(toy):
    store, scores = toy
    with pytest.raises(ValueError, match="lacks column"):
        grading.prepare_data(SimpleNamespace(images=store.images, index=store.index.drop(columns="flagged")),
                             scores, 16, n_folds=4)
    bad = scores.copy()
    bad.loc[bad.index[bad["kind"] == JSN][0], "grade"] = 5
    with pytest.raises(ValueError, match="jsn grade"):
        grading.prepare_data(store, bad, 16, n_folds=4)
    repeated = pd.concat([scores, scores.iloc[:1]])
    with pytest.raises(ValueError, match="repeat"):
        grading.prepare_data(store, repeated, 16, n_folds=4)


# --- imbalance remedies -------------------------------------------------------------------
def test_sampler_balances_classes():
    labels = np.array([0] * 90 + [1] * 9 + [2] * 1)
    sampler = grading.balanced_sampler(labels, torch.Generator().manual_seed(0), num_samples=30000)
    drawn = labels[np.fromiter(iter(sampler), dtype=int)]
    np.testing.assert_allclose(np.bincount(drawn) / len(drawn), [1 / 3] * 3, atol=0.02)


def test_class_weights_times_count_is_constant():
    labels = np.array([0] * 50 + [1] * 20 + [2] * 5 + [4] * 1)
    weights = grading.class_weights(labels, 5).numpy()
    counts = np.bincount(labels, minlength=5)
    present = counts > 0
    np.testing.assert_allclose(weights[present] * counts[present], len(labels) / present.sum(), rtol=1e-6)
    assert weights[3] == 0
    reference = compute_class_weight("balanced", classes=np.array([0, 1, 2, 4]), y=labels)
    np.testing.assert_allclose(weights[present], reference, rtol=1e-6)


def test_random_affine_keeps_shape_and_identity_at_zero():
    batch = torch.rand(3, 1, 12, 12)
    generator = torch.Generator().manual_seed(0)
    same = grading.random_affine(batch, generator, 0.0, 0.0, 0.0)
    torch.testing.assert_close(same, batch, atol=1e-5, rtol=0)
    moved = grading.random_affine(batch, generator)
    assert moved.shape == batch.shape and not torch.allclose(moved, batch)


# --- networks and training ------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["tiny", "efficientnet_b0"])
def test_models_take_one_grey_channel(arch):
    model = grading.build_model(arch, 6, width=4).eval()
    assert model(torch.rand(2, 1, 32, 32)).shape == (2, 6)


def test_efficientnet_loads_local_rgb_weights_summed_to_grey(tmp_path):
    from torchvision.models import efficientnet_b0

    rgb = efficientnet_b0(weights=None)
    torch.save(rgb.state_dict(), tmp_path / "b0.pth")
    grey = grading.build_model("efficientnet_b0", 5, weights_path=tmp_path / "b0.pth")
    torch.testing.assert_close(grey.features[0][0].weight, rgb.features[0][0].weight.sum(dim=1, keepdim=True))
    torch.testing.assert_close(grey.features[1][0].block[0][0].weight, rgb.features[1][0].block[0][0].weight)


def test_build_model_rejects_unknown_arch_and_missing_weights(tmp_path):
    with pytest.raises(ValueError, match="unknown arch"):
        grading.build_model("resnet", 5)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        grading.build_model("efficientnet_b0", 5, weights_path=tmp_path / "none.pth")


def test_tiny_training_reduces_loss(data):
    trained = grading.train_grader(data, JSN, grading.PLAIN, tiny_settings(epochs=4, lr=0.05), seed=0,
                                   device="cpu", progress=False)
    losses = trained.history["train_loss"].to_numpy()
    assert losses[-1] < losses[0]


def test_run_grading_predicts_every_site_of_every_test_hand(data):
    result = grading.run_grading(data, tiny_settings(epochs=1), seed=0, progress=False)
    preds = result.predictions
    assert list(preds.columns) == grading.PREDICTION_COLUMNS
    test_hands = data.rows.loc[data.rows["split"] == "test", "hand_id"].unique()
    for method in (*grading.METHODS, grading.MAJORITY):
        sub = preds[(preds["method"] == method) & (preds["split"] == "test")]
        assert set(sub["hand_id"]) == set(test_hands)
        assert sub.groupby("hand_id").size().eq(len(hand_sites())).all()
    np.testing.assert_allclose(preds[grading.PROBA_COLUMNS].sum(axis=1), 1.0, atol=1e-5)
    assert (preds.loc[preds["kind"] == JSN, "p_5"] == 0).all()
    assert preds["imputed"].sum() == data.counts["flagged"] * (len(grading.METHODS) + 1)
    # metrics agree with scikit-learn and leave imputed rows out
    table = grading.grading_metrics(preds)
    row = table[(table["kind"] == EROSION) & (table["method"] == grading.PLAIN)].iloc[0]
    sub = grading.evaluable(preds)
    sub = sub[(sub["kind"] == EROSION) & (sub["method"] == grading.PLAIN)]
    assert row["n"] == len(sub) and not sub["imputed"].any()
    assert row["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(sub["grade_true"], sub["grade_pred"]))
    matrices = grading.confusion_matrices(preds)
    assert matrices[(JSN, grading.PLAIN)].shape == (5, 5)
    assert len(result.timings) == 2 * len(grading.METHODS)


def test_runs_are_deterministic(data):
    settings = tiny_settings(epochs=1, methods=(grading.OVERSAMPLE,))
    first = grading.run_grading(data, settings, seed=4, progress=False).predictions
    second = grading.run_grading(data, settings, seed=4, progress=False).predictions
    pd.testing.assert_frame_equal(first, second)


def test_torch_threads_restores_the_setting():
    before = torch.get_num_threads()
    with grading.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
