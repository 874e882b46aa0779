import math

import numpy as np
import pandas as pd
import pytest
import torch

from ra_lib.stages.classification import pipeline as clf
from ra_lib.evaluation.readers import reader_rows
from ra_lib.cohort.folds import rotation
from ra_lib.core.profiles import resolve
from ra_lib.cohort.sites import HAND_SITES, sites_in_group


def fake_store(n_patients=8, size=16, one_hand_patients=(), seed=0, signal=0.0):
    """An in-memory crop store: one both-hands image per patient (``one_hand_patients``: left only).

    Non-intact crops get a bright centre of strength ``signal`` so a model can learn them.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        patient = f"P-{p:010x}"
        for hand in (("L",) if p in one_hand_patients else ("L", "R")):
            for j, site in enumerate(HAND_SITES):
                rows.append({"hand_id": f"img{p}:{hand}", "image_id": f"img{p}", "patient": patient, "hand": hand,
                             "kind": site.kind, "site": site.site, "group": site.group, "landmark": site.landmark,
                             "x": float(j * 10 + (0 if hand == "R" else 500)), "y": float(j * 7), "source": "fake",
                             "likelihood": 1.0, "flagged": False, "grade": int(rng.random() < 0.35) * 2})
    index = pd.DataFrame(rows)
    index.insert(0, "crop_idx", np.arange(len(index)))
    images = rng.random((len(index), size, size)).astype(np.float32) * 0.5
    c = size // 2
    images[index["grade"].to_numpy() > 0, c - 3:c + 3, c - 3:c + 3] += signal
    folds = pd.DataFrame({"patient": [f"P-{p:010x}" for p in range(n_patients)], "fold": np.arange(n_patients) % 8})
    return np.clip(images, 0, 1), index, folds


def tiny_cfg(**overrides):
    return resolve(clf.PROFILES, "smoke", **{"crop_size": 16, "batch_crops": 32, **overrides})


# --- joints, samples, masking --------------------------------------------------------------------
def test_joint_table_excludes_and_counts_flagged_and_ungraded_crops():
    _, index, folds = fake_store()
    index.loc[[0, 1], "flagged"] = True
    index.loc[2, "grade"] = np.nan
    joints, counts = clf.joint_table(index, folds, "erosion")
    n_erosion = int((index["kind"] == "erosion").sum())
    assert counts["flagged"] == 2 and counts["ungraded"] == 1 and counts["used"] == n_erosion - 3
    assert not joints["crop_idx"].isin([0, 1, 2]).any()
    assert set(joints["label"]) <= {0.0, 1.0}


def test_joint_table_names_bad_input():
    _, index, folds = fake_store()
    with pytest.raises(ValueError, match="grade"):
        clf.joint_table(index.drop(columns="grade"), folds, "erosion")
    with pytest.raises(ValueError, match="no fold"):
        clf.joint_table(index, folds.iloc[1:], "erosion")


@pytest.mark.parametrize("model_type,group,k", [("siso", "MCP", 1), ("mimo_local", "MCP", 2),
                                                ("mimo_one_hand", "wrist", 4), ("mimo_both_hands", "CMC-M", 4)])
def test_samples_cover_every_joint_once(model_type, group, k):
    _, index, folds = fake_store(n_patients=3)
    joints, _ = clf.joint_table(index, folds, "erosion")
    samples = clf.build_samples(joints, "erosion", group, model_type)
    assert samples.rows.shape[1] == k
    present = samples.rows[samples.rows >= 0]
    assert len(present) == len(set(present)) == int((joints["group"] == group).sum())
    # a sample never mixes patients
    filled = np.where(samples.rows >= 0, samples.rows, samples.rows.max(1, keepdims=True))
    patients = joints["patient"].to_numpy()[filled]
    assert (patients == patients[:, :1]).all()


def test_missing_contralateral_hand_is_masked_and_counted():
    _, index, folds = fake_store(n_patients=4, one_hand_patients=(2,))
    joints, _ = clf.joint_table(index, folds, "jsn")
    local = clf.build_samples(joints, "jsn", "MCP", "mimo_local")
    both = clf.build_samples(joints, "jsn", "MCP", "mimo_both_hands")
    assert local.counts() == {"samples": 4 * 5, "masked_inputs": 5, "samples_missing_hand": 5}
    assert both.counts() == {"samples": 4, "masked_inputs": 5, "samples_missing_hand": 1}
    lonely = both.rows[(both.rows < 0).any(1)][0]
    assert (lonely[5:] == -1).all() and (lonely[:5] >= 0).all()  # left present, right missing
    assert np.isnan(both.labels[(both.rows < 0)]).all()
    assert (both.crop_idx[both.rows < 0] == -1).all()


def test_hands_of_one_visit_pair_across_images():
    _, index, folds = fake_store(n_patients=2)
    right = index["hand"] == "R"
    index.loc[right, "image_id"] = index.loc[right, "image_id"] + "-right"
    index.loc[right, "hand_id"] = index.loc[right, "image_id"] + ":R"
    visits = {"img0": "v0", "img0-right": "v0", "img1": "v1", "img1-right": "v1"}
    joints, _ = clf.joint_table(index, folds, "erosion", visits)
    assert clf.build_samples(joints, "erosion", "wrist", "mimo_local").counts()["samples_missing_hand"] == 0
    unpaired, _ = clf.joint_table(index, folds, "erosion")
    assert clf.build_samples(unpaired, "erosion", "wrist", "mimo_local").counts()["samples_missing_hand"] == 16


def test_visits_from_images_pairs_same_day_images():
    images = pd.DataFrame({"image_id": ["a", "b", "c"], "patient": ["P1", "P1", "P2"],
                           "study_date": ["2020-01-01", "2020-01-01", None]})
    visits = clf.visits_from_images(images)
    assert visits["a"] == visits["b"] != visits["c"] == "c"


# --- balancing and augmentation ----------------------------------------------------------------
@pytest.mark.parametrize("train_size", [None, 200])
def test_balancing_gives_equal_class_counts_and_keeps_every_original(train_size):
    positive = np.r_[np.ones(7, bool), np.zeros(30, bool)]
    picked, augmented = clf.balance(positive, train_size, np.random.default_rng(0))
    per_class = np.bincount(positive[picked].astype(int), minlength=2)
    assert per_class[0] == per_class[1] == max(30, (train_size or 0) // 2)
    assert set(picked[~augmented]) == set(range(37)) and (~augmented).sum() == 37
    assert positive[picked[augmented]].sum() == augmented.sum() - max(0, (train_size or 0) // 2 - 30)


def test_balancing_with_one_class_keeps_it_alone():
    picked, augmented = clf.balance(np.zeros(5, bool), None, np.random.default_rng(0))
    assert sorted(picked) == list(range(5)) and not augmented.any()


def test_augmentation_stays_within_the_papers_ranges():
    theta = clf.augmentation_thetas((500, 3), np.random.default_rng(0))
    linear = theta[..., :2]
    scale = 1 / np.sqrt(np.linalg.det(linear))
    angle = np.degrees(np.arctan2(linear[..., 1, 0], linear[..., 0, 0]))
    assert theta.shape == (500, 3, 2, 3)
    assert scale.min() >= 0.97 - 1e-6 and scale.max() <= 1.03 + 1e-6
    assert np.abs(angle).max() <= 3 + 1e-6
    assert np.abs(theta[..., 2]).max() <= 2 * 5 / 224 + 1e-6


def test_crop_batches_fill_missing_inputs_with_zeros_and_augment_copies():
    images = torch.rand(4, 16, 16)
    crop_idx = np.array([[0, -1], [1, 2], [3, 0]])
    labels = np.array([[1, np.nan], [0, 1], [0, 0]], np.float32)
    thetas = clf.augmentation_thetas((3, 2), np.random.default_rng(0))
    batches = clf.CropBatches(images, crop_idx, labels, 2, np.array([False, False, True]), thetas)
    (x1, y1), (x2, y2) = list(batches)
    assert x1.shape == (2, 2, 16, 16) and x2.shape == (1, 2, 16, 16)
    assert torch.equal(x1[0, 0], images[0]) and torch.count_nonzero(x1[0, 1]) == 0
    assert not torch.equal(x2[0, 0], images[3])  # an augmented copy differs from its original
    assert torch.isnan(y1[0, 1])


# --- cross-validation ----------------------------------------------------------------------------
def test_train_fold_uses_the_paper_rotation():
    images, index, folds = fake_store(n_patients=16)
    joints, _ = clf.joint_table(index, folds, "erosion")
    samples = clf.build_samples(joints, "erosion", "wrist", "siso")
    fold_ids = list(range(8))
    for test_fold in (0, 7):
        train_folds, val_fold, _ = rotation(fold_ids, test_fold)
        _, _, _, summary = clf.train_fold(torch.as_tensor(images), samples, fold_ids, test_fold, tiny_cfg(),
                                          seed=0, device=torch.device("cpu"), progress=False)
        assert summary["n_test"] == (samples.fold == test_fold).sum()
        assert summary["n_val"] == (samples.fold == val_fold).sum()
        assert summary["n_train"] == np.isin(samples.fold, train_folds).sum() == 6 * 2 * 2 * 4
    assert rotation(fold_ids, 7) == ([1, 2, 3, 4, 5, 6], 0, 7)


def test_end_to_end_cv_on_a_fake_store_is_complete_and_deterministic():
    images, index, folds = fake_store(n_patients=8, one_hand_patients=(3,))
    cfg = tiny_cfg(test_folds=(0, 3), groups=("MCP", "wrist"))
    first = clf.run_cv(images, index, folds, cfg, seed=1, progress=False)
    second = clf.run_cv(images, index, folds, cfg, seed=1, progress=False)
    oof = first.oof
    assert tuple(oof.columns) == clf.OOF_COLUMNS
    assert set(oof["model"]) == set(clf.PROFILES["smoke"]["models"])
    assert oof["probability"].between(0, 1).all()
    # every model predicts every usable joint of the test patients exactly once
    per_model = oof.groupby("model").size()
    assert per_model.nunique() == 1
    assert not oof.duplicated(["hand_id", "kind", "site", "model"]).any()
    expected = 2 * (5 + 4) + 1 * (5 + 4) + 2 * (5 + 3) + 1 * (5 + 3)  # patient 0 both hands, patient 3 left only
    assert per_model.iloc[0] == expected
    pd.testing.assert_frame_equal(first.oof, second.oof)
    assert first.counts["erosion/MCP/mimo_local"]["samples_missing_hand"] == 5
    assert (first.runs["status"] == "trained").all()


def test_a_group_without_positives_gives_nan_metrics_not_a_crash():
    images, index, folds = fake_store(n_patients=8)
    index.loc[index["group"] == "wrist", "grade"] = 0
    cfg = tiny_cfg(test_folds=(0,), groups=("wrist",), models=("siso", "mimo_one_hand"), kinds=("erosion",))
    result = clf.run_cv(images, index, folds, cfg, progress=False)
    table = clf.evaluation_table(result.oof, by="group")
    assert len(table) == 2
    assert table["sensitivity"].isna().all() and table["average_precision"].isna().all()
    assert table["specificity"].notna().all()


def test_evaluation_with_readers_matches_sklearn():
    from sklearn.metrics import average_precision_score, f1_score, recall_score

    rng = np.random.default_rng(0)
    n = 60
    oof = pd.DataFrame({"hand_id": [f"h{i // 4}" for i in range(n)], "patient": "P-0000000000", "hand": "L",
                        "kind": "erosion", "site": [["mcp2", "mcp3", "scaphoid", "lunate"][i % 4] for i in range(n)],
                        "fold": 0, "model": "siso", "probability": rng.random(n), "label": rng.integers(0, 2, n)})
    oof["group"] = np.where(oof["site"].str.startswith("mcp"), "MCP", "wrist")
    readers = pd.DataFrame({"reader_id": "A", "hand_id": oof["hand_id"], "kind": "erosion", "site": oof["site"],
                            "grade": rng.integers(0, 3, n)})
    calls = reader_rows(readers, oof)
    assert tuple(calls.columns) == clf.OOF_COLUMNS and len(calls) == n
    table = clf.evaluation_table(pd.concat([oof, calls]))
    row = table[(table["region"] == "all") & (table["model"] == "siso")].iloc[0]
    assert row["average_precision"] == pytest.approx(average_precision_score(oof["label"], oof["probability"]))
    assert row["f_measure"] == pytest.approx(f1_score(oof["label"], oof["probability"] >= 0.5))
    assert set(table["model"]) == {"siso", "reader A", "mean of readers"}
    reader = table[(table["region"] == "finger") & (table["model"] == "reader A")].iloc[0]
    mcp = calls[calls["group"] == "MCP"]
    assert reader["sensitivity"] == pytest.approx(recall_score(mcp["label"], mcp["probability"]))
    assert clf.table4(table).shape[1] == 3
    assert math.isclose(clf.pr_curves(oof)["recall"].max(), 1.0)


def test_joint_outcomes_and_showcase():
    oof = pd.DataFrame({"hand_id": ["i:L"] * 4, "patient": "P", "hand": "L", "kind": "erosion",
                        "site": ["mcp1", "mcp2", "mcp3", "mcp4"], "group": "MCP", "fold": 0, "model": "siso",
                        "probability": [0.9, 0.1, 0.2, 0.8], "label": [1, 0, 1, 0]})
    index = pd.DataFrame({"hand_id": "i:L", "image_id": "i", "kind": "erosion",
                          "site": ["mcp1", "mcp2", "mcp3", "mcp4"], "x": [1.0, 2, 3, 4], "y": [5.0, 6, 7, 8]})
    outcomes = clf.joint_outcomes(oof, index, ["i:L"])
    assert list(outcomes["outcome"]) == ["TP", "TN", "FN", "FP"] and outcomes["x"].notna().all()
    assert clf.showcase_hands(oof, index) == ["i:L"]


def test_profiles_resolve_and_cover_the_same_knobs():
    assert {frozenset(p) for p in clf.PROFILES.values()} == {frozenset(clf.PROFILES["paper"])}
    paper = resolve(clf.PROFILES, "paper")
    assert (paper.backbone, paper.epochs, paper.patience, paper.train_size) == ("vgg16", 100, 10, 10_000)
    assert len(sites_in_group("erosion", "PIP-IP")) == 5


def test_train_size_and_batches_count_crops():
    images, index, folds = fake_store(n_patients=8)
    joints, _ = clf.joint_table(index, folds, "erosion")
    samples = clf.build_samples(joints, "erosion", "MCP", "mimo_one_hand")  # 5 crops per sample
    _, _, _, summary = clf.train_fold(torch.as_tensor(images), samples, list(range(8)), 0,
                                      tiny_cfg(train_size=400), seed=0, device=torch.device("cpu"), progress=False)
    assert summary["n_train_balanced"] == 2 * (400 // 5 // 2)  # 400 crops = 80 samples, 40 per class


@pytest.mark.parametrize("model_type", clf.MODEL_TYPES)
def test_a_group_without_usable_joints_gives_no_samples(model_type):
    """E.g. every wrist crop flagged by the detector: zero samples of the right width, no crash."""
    _, index, folds = fake_store(n_patients=3)
    joints, _ = clf.joint_table(index, folds, "erosion")
    joints = joints[~joints["site"].isin(["scaphoid", "lunate", "radius", "ulna"])]
    samples = clf.build_samples(joints, "erosion", "wrist", model_type)
    assert samples.rows.shape[0] == 0 and samples.counts()["samples"] == 0
