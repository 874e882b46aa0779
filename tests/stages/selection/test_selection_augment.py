"""Stage 1 augmentation: the warp against torchvision's affine, determinism, Table 2 plans."""
import numpy as np
import pandas as pd
import pytest
import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from ra_lib.stages.selection.augment import (AugmentedDataset, apply_params, augment, augmentation_plan,
                                             augmented_counts, draw_params, scaled_targets, table2_comparison)
from ra_lib.stages.selection.settings import AugmentRanges


def _image(side=32, seed=0):
    image = torch.rand(1, side, side, generator=torch.Generator().manual_seed(seed)) * 0.2
    image[0, 4:28, 10:20] += 0.7
    return image


def _torchvision(image, params):
    """The transform the stage used before the geometry module: torchvision's affine, then flips."""
    height, width = image.shape[-2:]
    out = TF.affine(image, angle=params["angle"], translate=[params["shift"][0] * width, params["shift"][1] * height],
                    scale=params["zoom"], shear=[params["shear"], 0.0], interpolation=InterpolationMode.BILINEAR,
                    fill=0.0)
    out = TF.horizontal_flip(out) if params["hflip"] else out
    out = TF.vertical_flip(out) if params["vflip"] else out
    return (out + params["offset"]).clamp(0.0, 1.0)


def test_warp_equals_torchvision_affine_without_shear():
    """Rotation, zoom, shift and flips match torchvision's affine inside the image (its border fill differs)."""
    ranges = AugmentRanges(shear_deg=0.0, vertical_flip=True)
    params = [draw_params(np.random.default_rng((0, i)), ranges) for i in range(40)]
    image = _image()
    ours = apply_params(image[None].repeat(len(params), 1, 1, 1), params)
    reference = torch.stack([_torchvision(image, p) for p in params])
    coverage = apply_params(torch.ones(len(params), 1, 32, 32), [{**p, "offset": 0.0} for p in params])
    inside = coverage > 0.999
    assert inside.float().mean() > 0.5
    assert (ours - reference).abs()[inside].max() < 1e-3


def test_shear_is_close_to_torchvision():
    """With shear, only the order of rotation and shear differs (Keras' order): small mean change."""
    params = [draw_params(np.random.default_rng((1, i)), AugmentRanges()) for i in range(40)]
    image = _image()
    ours = apply_params(image[None].repeat(len(params), 1, 1, 1), params)
    reference = torch.stack([_torchvision(image, p) for p in params])
    assert (ours - reference).abs().mean() < 0.02


def test_positive_angle_turns_like_torchvision():
    """A bar off the centre moves to the same side as under torchvision's affine."""
    image = torch.zeros(1, 33, 33)
    image[0, 2:8, 15:18] = 1.0
    params = [{"angle": 90.0, "shift": (0.0, 0.0), "zoom": 1.0, "shear": 0.0, "offset": 0.0, "hflip": False,
               "vflip": False}]
    ours = apply_params(image[None], params)[0]
    reference = _torchvision(image, params[0])
    assert torch.allclose(ours, reference, atol=1e-4)


def test_augmentation_is_deterministic_given_a_seed():
    image = torch.rand(1, 24, 24)
    ranges = AugmentRanges()
    assert torch.equal(augment(image, ranges, (3, 7)), augment(image, ranges, (3, 7)))
    assert not torch.equal(augment(image, ranges, (3, 7)), augment(image, ranges, (3, 8)))
    out = augment(image, ranges, 0)
    assert out.shape == image.shape and out.min() >= 0 and out.max() <= 1


def test_channel_shift_is_a_clipped_offset():
    image = torch.full((1, 8, 8), 0.95)
    params = [{"angle": 0.0, "shift": (0.0, 0.0), "zoom": 1.0, "shear": 0.0, "offset": 0.1, "hflip": False,
               "vflip": False}]
    out = apply_params(image[None], params)[0]
    assert torch.allclose(out[:, 2:6, 2:6], torch.ones(1, 4, 4))


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
        else:
            expected = augment(images[plan["source"][i]], AugmentRanges(), (5, i))
            assert torch.allclose(x1, expected, atol=1e-6)


def test_plan_reproduces_paper_table2():
    labels = ["one_hand"] * 213 + ["rest"] * (104 + 524)
    plan = augmentation_plan(labels, scaled_targets("model1", 841, 1.0), seed=0)
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


def test_table2_comparison_adds_the_paper_column():
    table2 = pd.DataFrame([{"model": "model1", "class": "one_hand", "original": 2, "augmented": 22}])
    compared = table2_comparison(table2)
    assert compared.to_dict(orient="records") == [{"model": "model1", "class": "one_hand", "original": 2,
                                                   "augmented": 22, "paper": 2343}]


@pytest.mark.parametrize("scale", [0.15, 1.0])
def test_scaled_targets(scale):
    targets = scaled_targets("model2", 84, scale)
    assert targets == {"both_hands": round(1144 * 84 / 841 * scale), "rest": round(1572 * 84 / 841 * scale)}
