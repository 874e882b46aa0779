"""Stage 1 (image selection): the paper's CNN, fusion, augmentation, tag baseline, training."""
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import accuracy_score

from ra_lib.stages.selection import pipeline as sel
from ra_lib.core.errors import ImageReadError
from ra_lib.core.profiles import resolve
from ra_lib.stages.selection.augment import (AugmentedDataset, AugmentRanges, augment, augmentation_plan,
                                      augmented_counts)

PAPER_NEURONS = [2_000_000, 3_936_256, 984_064, 1_968_128, 1_905_152, 476_288, 512, 2]


# --- the CNN ---------------------------------------------------------------------------------------

def test_paper_layer_sizes_at_252():
    assert sel.flat_features(252) == 476_288
    with torch.device("meta"):
        model = sel.SelectionCNN(252)
    shapes = sel.layer_shapes(model)
    assert shapes["neurons"].tolist() == PAPER_NEURONS
    assert shapes["shape"].tolist()[:6] == [(32, 250, 250), (64, 248, 248), (64, 124, 124),
                                            (128, 124, 124), (128, 122, 122), (128, 61, 61)]
    assert shapes["type"].tolist() == ["Conv2d", "Conv2d", "MaxPool2d", "Conv2d", "Conv2d", "MaxPool2d",
                                       "Linear", "Linear"]


@pytest.mark.parametrize("size", [32, 48])
def test_small_inputs_derive_the_fc_size(size):
    model = sel.SelectionCNN(size, n_classes=3)
    assert model.classifier[0].in_features == sel.flat_features(size)
    assert model(torch.rand(2, 1, size, size)).shape == (2, 3)


def test_too_small_input_is_rejected():
    with pytest.raises(ValueError, match="too small"):
        sel.SelectionCNN(8)


def test_glorot_uniform_init_and_zero_bias():
    model = sel.SelectionCNN(32)
    conv = model.features[2]
    bound = np.sqrt(6 / (32 * 9 + 64 * 9))
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.9 * bound
    assert torch.count_nonzero(conv.bias) == 0


# --- fusion, tags, labels -----------------------------------------------------------------------------

@pytest.mark.parametrize("p_one, p_both, expected", [
    (0.1, 0.2, "other"), (0.49, 0.49, "other"), (0.9, 0.1, "one_hand"), (0.1, 0.9, "both_hands"),
    (0.8, 0.6, "one_hand"), (0.6, 0.8, "both_hands"), (0.5, 0.5, "one_hand"), (0.5, 0.1, "one_hand"),
    (0.3, 0.5, "both_hands"),
])
def test_fusion_truth_table(p_one, p_both, expected):
    assert sel.fuse([p_one], [p_both])[0] == expected


def test_fusion_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="differ in shape"):
        sel.fuse([0.1, 0.2], [0.3])


def test_tag_baseline_fails_on_extremity_and_blank():
    pred = sel.tag_baseline(["HAND", " hand ", "EXTREMITY", "", None, "FOOT", "CHEST"])
    assert pred.tolist() == ["one_hand", "one_hand", "other", "other", "other", "other", "other"]
    both = sel.tag_baseline(["HAND", "HAND", "EXTREMITY"], laterality=["B", "L", "B"])
    assert both.tolist() == ["both_hands", "one_hand", "other"]


def test_view_classes_and_task_labels():
    classes = sel.view_classes(["left_hand", "right_hand", "both_hands", "other"])
    assert classes.tolist() == ["one_hand", "one_hand", "both_hands", "other"]
    assert sel.task_labels("model1", classes).tolist() == ["one_hand", "one_hand", "rest", "rest"]
    assert sel.task_labels("model2", classes).tolist() == ["rest", "rest", "both_hands", "rest"]
    with pytest.raises(ValueError, match="lateral"):
        sel.view_classes(["lateral"])


# --- augmentation ---------------------------------------------------------------------------------

def test_augmentation_is_deterministic_given_a_seed():
    image = torch.rand(1, 24, 24)
    ranges = AugmentRanges()
    assert torch.equal(augment(image, ranges, (3, 7)), augment(image, ranges, (3, 7)))
    assert not torch.equal(augment(image, ranges, (3, 7)), augment(image, ranges, (3, 8)))
    out = augment(image, ranges, 0)
    assert out.shape == image.shape and out.min() >= 0 and out.max() <= 1


def test_augmented_dataset_keeps_originals_and_repeats():
    images = torch.rand(4, 1, 16, 16)
    plan = augmentation_plan(["a", "a", "b", "b"], {"a": 6, "b": 2}, seed=0)
    make = lambda: AugmentedDataset(images, [0, 0, 1, 1], plan, AugmentRanges(), seed=5)  # noqa: E731
    first, second = make(), make()
    for i in range(len(plan)):
        x1, y1 = first[i]
        assert torch.equal(x1, second[i][0]) and int(y1) == (plan["label"][i] == "b")
        if plan["copy"][i] == 0:
            assert torch.equal(x1, images[plan["source"][i]])


def test_plan_reproduces_paper_table2():
    labels = ["one_hand"] * 213 + ["rest"] * (104 + 524)
    plan = augmentation_plan(labels, sel.scaled_targets("model1", 841, 1.0), seed=0)
    counts = augmented_counts({"model1": plan}).set_index("class")
    assert counts.loc["one_hand", "augmented"] == 2343 and counts.loc["rest", "augmented"] == 3140
    assert counts.loc["one_hand", "original"] == 213
    per_image = plan[plan["label"] == "one_hand"].groupby("source").size()
    assert set(per_image) == {11}


def test_plan_spreads_copies_evenly_and_never_drops():
    plan = augmentation_plan(["x"] * 4 + ["y"] * 5, {"x": 10, "y": 3, "z": 7}, seed=1)
    per_image = plan[plan["label"] == "x"].groupby("source").size()
    assert per_image.sum() == 10 and set(per_image) == {2, 3}
    assert (plan["label"] == "y").sum() == 5 and "z" not in set(plan["label"])
    assert plan.equals(augmentation_plan(["x"] * 4 + ["y"] * 5, {"x": 10, "y": 3, "z": 7}, seed=1))


def test_unknown_augmentation_range_is_named():
    with pytest.raises(ValueError, match="rotation"):
        AugmentRanges.from_mapping({"rotation": 10})


# --- images and split -------------------------------------------------------------------------------

def test_preload_lists_every_unreadable_image():
    def load(image_id):
        if image_id.startswith("bad"):
            raise ImageReadError(f"/data/{image_id}.dcm", "truncated")
        if image_id == "rgb":
            return np.zeros((4, 4, 3))
        return np.ones((10, 12), dtype=np.float32)

    with pytest.raises(sel.UnreadableImagesError) as info:
        sel.preload_images(["ok", "bad1", "rgb", "bad2"], load, 8, progress=False)
    table = info.value.table
    assert table["image_id"].tolist() == ["bad1", "rgb", "bad2"]
    assert "truncated" in str(info.value) and "/data/bad2.dcm" in str(info.value)
    cache = sel.preload_images(["ok"], load, 8, progress=False)
    assert cache.shape == (1, 1, 8, 8) and torch.allclose(cache, torch.ones_like(cache))


def test_split_is_patient_disjoint_with_the_paper_fractions():
    patients = [f"P{i}" for i in range(1047)]
    split = sel.split_images(patients, 206 / 1047, 0.2, seed=0)
    assert (split == "test").sum() == 206 and (split != "test").sum() == 841
    assert abs((split == "val").sum() - 168) <= 1
    repeated = np.repeat([f"P{i}" for i in range(40)], 3)
    split = sel.split_images(repeated, 0.2, 0.2, seed=1)
    per_patient = pd.DataFrame({"p": repeated, "s": split}).groupby("p")["s"].nunique()
    assert (per_patient == 1).all() and set(split) == {"train", "val", "test"}


# --- training on a toy set ----------------------------------------------------------------------------

def _toy_image(view: str, rng: np.random.Generator) -> np.ndarray:
    """one hand: one vertical bar; both hands: two; other: a horizontal bar."""
    image = rng.uniform(0, 0.2, (24, 24)).astype(np.float32)
    if view in ("left_hand", "right_hand"):
        image[3:21, 10:14] = 1.0
    elif view == "both_hands":
        image[3:21, 3:7] = 1.0
        image[3:21, 17:21] = 1.0
    else:
        image[10:14, 3:21] = 1.0
    return image


def _toy_cohort(views, seed=0):
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({"image_id": [f"img{i}" for i in range(len(views))], "patient": [f"P{i // 2}" for i in
                                                                                       range(len(views))],
                          "view": views, "body_part": ["HAND" if v != "other" else "CHEST" for v in views]})
    table["path"] = table["image_id"] + ".png"
    pixels = {i: _toy_image(v, rng) for i, v in zip(table["image_id"], views)}
    return table, pixels.__getitem__


def _toy_settings(**overrides):
    defaults = dict(input_size=16, epochs=6, batch_size=16, lr=1e-3, patience=None, augment_scale=0.5,
                    augment_ranges={"rotation_deg": 5.0, "shift": 0.05, "shear_deg": 0.0, "zoom": 0.05})
    defaults.update(overrides)
    return resolve(sel.PROFILES, "smoke", **defaults)


@pytest.fixture(scope="module")
def toy_run():
    views = ["left_hand", "right_hand", "both_hands", "other", "other", "other"] * 12
    table, load = _toy_cohort(views)
    settings = _toy_settings()
    return sel.run_selection(table, load, settings, seed=0, progress=False), settings


def test_toy_models_learn_a_separable_set(toy_run):
    run, settings = toy_run
    predictions = sel.predictions_table(run, settings.threshold)
    assert list(predictions.columns) == ["image_id", "view_true", "view_pred", "p_one_hand", "p_both_hands",
                                         "model", "split"]
    assert len(predictions) == 3 * len(run.images)
    test = predictions[(predictions["split"] == "test") & (predictions["model"] == sel.FUSION)]
    assert accuracy_score(test["view_true"], test["view_pred"]) >= 0.9
    result = sel.selection_metrics(predictions)
    assert result["models"][sel.FUSION]["accuracy"] >= 0.9
    assert result["models"][sel.FUSION]["accuracy"] > result["majority_accuracy"]
    assert result["models"][sel.TAGS]["model1_accuracy"] == pytest.approx(
        accuracy_score(test["view_true"] == "one_hand", test["view_true"] != "other"))
    assert sel.confusion_counts(predictions, sel.FUSION).to_numpy().sum() == result["n"]


def test_training_is_deterministic(toy_run):
    run, settings = toy_run
    views = ["left_hand", "right_hand", "both_hands", "other", "other", "other"] * 12
    table, load = _toy_cohort(views)
    again = sel.run_selection(table, load, settings, seed=0, tasks=("model1",), progress=False)
    np.testing.assert_allclose(again.probabilities["model1"], run.probabilities["model1"], atol=1e-6)


def test_table2_and_rotation_check(toy_run):
    run, settings = toy_run
    table2 = sel.table2_comparison(run.table2)
    assert set(table2["model"]) == set(sel.TASKS) and (table2["augmented"] >= table2["original"]).all()
    rotated = sel.rotated_predictions(run, settings)
    n_hands = ((run.images["split"] == "test") & (run.images["class"] != "other")).sum()
    assert len(rotated) == 4 * n_hands
    summary = sel.rotation_summary(rotated).set_index(["model", "orientation"])
    assert set(summary.index) == {(m, o) for m in (sel.FUSION, sel.THREE_CLASS) for o in ("upright", "rotated")}
    upright = rotated[(rotated["orientation"] == "upright") & (rotated["model"] == sel.FUSION)]
    fused = sel.predictions_table(run, settings.threshold).query("model == @sel.FUSION")
    expected = fused.set_index("image_id").loc[upright["image_id"], "view_pred"].to_numpy()
    assert (upright["view_pred"].to_numpy() == expected).all()
    assert summary.loc[(sel.FUSION, "upright"), "accuracy"] == pytest.approx(
        accuracy_score(upright["view_true"], upright["view_pred"]))


def test_cohort_without_other_images_still_runs():
    views = ["left_hand", "both_hands", "right_hand"] * 8
    table, load = _toy_cohort(views, seed=2)
    settings = _toy_settings(epochs=2)
    run = sel.run_selection(table, load, settings, seed=0, progress=False)
    predictions = sel.predictions_table(run, settings.threshold)
    assert set(predictions["view_pred"]) <= set(sel.CLASSES)
    assert set(run.plans["model2"]["label"]) == {"both_hands", "rest"}
    result = sel.selection_metrics(predictions)
    assert result["models"][sel.FUSION]["confusion"]["other"] == {"one_hand": 0, "both_hands": 0, "other": 0}
