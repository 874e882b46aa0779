"""Stage 1 data: classes and labels, the resized image cache, the split from the cohort's folds."""
import numpy as np
import pandas as pd
import pytest
import torch

from ra_lib.cohort.folds import patient_folds
from ra_lib.core import geometry
from ra_lib.core.errors import ImageReadError
from ra_lib.core.intensity import equalize_histogram
from ra_lib.stages.selection.data import (UnreadableImagesError, fold_roles, network_input, preload_images,
                                          single_class_reason, split_images, task_labels, view_classes)


def test_view_classes_and_task_labels():
    classes = view_classes(["left_hand", "right_hand", "both_hands", "other"])
    assert classes.tolist() == ["one_hand", "one_hand", "both_hands", "other"]
    assert task_labels("model1", classes).tolist() == ["one_hand", "one_hand", "rest", "rest"]
    assert task_labels("model2", classes).tolist() == ["rest", "rest", "both_hands", "rest"]
    assert task_labels("three_class", classes).tolist() == classes.tolist()
    with pytest.raises(ValueError, match="lateral"):
        view_classes(["lateral"])


def test_preload_lists_every_unreadable_image():
    def load(image_id):
        if image_id.startswith("bad"):
            raise ImageReadError(f"/data/{image_id}.dcm", "truncated")
        if image_id == "rgb":
            return np.zeros((4, 4, 3))
        return np.ones((10, 12), dtype=np.float32)

    with pytest.raises(UnreadableImagesError) as info:
        preload_images(["ok", "bad1", "rgb", "bad2"], load, 8, progress=False)
    table = info.value.table
    assert table["image_id"].tolist() == ["bad1", "rgb", "bad2"]
    assert "truncated" in str(info.value) and "/data/bad2.dcm" in str(info.value)
    cache = preload_images(["ok"], load, 8, progress=False)
    assert cache.shape == (1, 1, 8, 8) and torch.allclose(cache, torch.ones_like(cache))


def test_preload_rejects_non_finite_pixels():
    with pytest.raises(UnreadableImagesError, match="finite"):
        preload_images(["nan"], lambda _: np.full((6, 6), np.nan), 4, progress=False)


def test_preload_resizes_with_the_geometry_module():
    image = np.random.default_rng(0).uniform(size=(40, 30)).astype(np.float32)
    cache = preload_images(["a"], lambda _: image, 16, progress=False)
    np.testing.assert_array_equal(cache[0, 0].numpy(), geometry.resize(image, 16))


def test_equalised_input_does_not_depend_on_the_display_window():
    image = np.random.default_rng(0).uniform(size=(40, 30)).astype(np.float32)
    cache = preload_images(["a"], lambda _: image, 16, progress=False, equalize=True)
    np.testing.assert_array_equal(cache[0, 0].numpy(), equalize_histogram(geometry.resize(image, 16)))
    np.testing.assert_array_equal(network_input(image, 16, equalize=True), cache[0, 0].numpy())
    black, grey = np.zeros((32, 32), np.float32), np.full((32, 32), 0.35, np.float32)
    black[8:24, 8:16], grey[8:24, 8:16] = 0.9, 0.7  # one hand, the background shown black or grey
    np.testing.assert_array_equal(network_input(black, 16, True), network_input(grey, 16, True))
    assert not np.array_equal(network_input(black, 16), network_input(grey, 16))


@pytest.mark.parametrize("n_folds, counts", [(8, (2, 1, 5)), (5, (1, 1, 3)), (3, (1, 1, 1)), (10, (2, 2, 6))])
def test_fold_roles_keep_the_paper_proportions(n_folds, counts):
    roles = fold_roles(range(n_folds), 206 / 1047, 0.2)
    assert tuple(list(roles.values()).count(r) for r in ("test", "val", "train")) == counts
    assert roles[0] == "test"


def test_fold_roles_start_at_the_test_fold_and_wrap():
    roles = fold_roles(range(8), 206 / 1047, 0.2, test_fold=7)
    assert [f for f, r in roles.items() if r == "test"] == [7, 0] and roles[1] == "val"
    with pytest.raises(ValueError, match="at least 3 folds"):
        fold_roles([0, 1], 0.2, 0.2)
    with pytest.raises(ValueError, match="test fold 9"):
        fold_roles(range(4), 0.2, 0.2, test_fold=9)


def test_split_follows_the_folds_and_is_patient_disjoint():
    patients = np.repeat([f"P{i}" for i in range(40)], 3)
    folds = patient_folds(patients, 8, seed=0)
    split = split_images(patients, folds, 206 / 1047, 0.2)
    assert list(split.columns) == ["fold", "split"]
    per_patient = pd.DataFrame({"p": patients, "s": split["split"]}).groupby("p")["s"].nunique()
    assert (per_patient == 1).all() and set(split["split"]) == {"train", "val", "test"}
    fold_of = dict(zip(folds["patient"], folds["fold"]))
    assert split["fold"].tolist() == [fold_of[p] for p in patients]
    assert set(split.loc[split["split"] == "test", "fold"]) == {0, 1}


def test_split_does_not_depend_on_the_pseudonyms():
    """Other pseudonyms (another salt) with the same folds give the same split, whatever their order."""
    patients = [f"P{i}" for i in range(24)]
    folds = patient_folds(patients, 6, seed=3)
    renamed = {p: f"Z{99 - i}" for i, p in enumerate(patients)}
    other = folds.assign(patient=folds["patient"].map(renamed))
    first = split_images(patients, folds, 0.2, 0.2)
    second = split_images([renamed[p] for p in patients], other, 0.2, 0.2)
    pd.testing.assert_frame_equal(first, second)


def test_patient_without_fold_is_named():
    folds = patient_folds(["A", "B", "C"], 3, seed=0)
    with pytest.raises(ValueError, match="'D'"):
        split_images(["A", "D"], folds, 0.2, 0.2)


def test_single_class_reason():
    assert single_class_reason(["one_hand", "other"], ["train", "train"]) is None
    assert "one class (one_hand)" in single_class_reason(["one_hand"] * 3, ["train", "val", "test"])
    assert "training folds" in single_class_reason(["one_hand", "other"], ["train", "test"])
