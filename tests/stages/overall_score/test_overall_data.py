import math

import numpy as np
import pandas as pd
import pytest
import torch

from ra_lib.stages.overall_score import data as os_data


def test_preload_pads_to_square_and_resizes():
    arrays = {"tall": np.ones((40, 20), np.float32), "wide": np.ones((10, 30), np.float32)}
    cache = os_data.preload_images(arrays.__getitem__, ["tall", "wide"], 16, progress=False)
    assert cache.shape == (2, 1, 16, 16) and cache.dtype == torch.float16
    assert cache[0, 0, :, 0].max() == 0 and cache[0, 0, 8, 8] == 1  # padded columns stay black
    assert os_data.cache_size(128) == 143
    with pytest.raises(ValueError, match="'rgb'"):
        os_data.preload_images(lambda _: np.zeros((4, 4, 3)), ["rgb"], 8, progress=False)


def test_square_image_keeps_a_square_of_the_right_size_unchanged():
    image = torch.rand(1, 12, 12)
    assert torch.equal(os_data.square_image(image, 12), image)
    assert os_data.square_image(np.ones((6, 12), np.float32), 12)[0, :3].max() == 0  # centred vertically


def test_augmentation_is_seeded_and_keeps_range():
    image = torch.rand(1, 36, 36)
    aug = os_data.Augmentation()
    a = aug(image, 32, torch.Generator().manual_seed(1))
    b = aug(image, 32, torch.Generator().manual_seed(1))
    assert a.shape == (1, 32, 32) and torch.equal(a, b)
    assert 0 <= a.min() and a.max() <= 1


def test_augmentation_quarter_turns_and_flips_like_rot90():
    image = torch.rand(1, 16, 16)
    plain = os_data.Augmentation(scale=(1.0, 1.0), brightness=0, contrast=0, flip=False, rotate90=False)
    turned = os_data.Augmentation(scale=(1.0, 1.0), brightness=0, contrast=0, flip=True, rotate90=True)
    assert torch.allclose(plain(image, 16, torch.Generator().manual_seed(0)), image, atol=1e-6)
    seen = set()
    for seed in range(40):
        u = torch.rand(5, generator=torch.Generator().manual_seed(seed)).tolist()
        expected = image.flip(-1) if u[1] < 0.5 else image
        quarter_turns = int(u[4] * 4) % 4
        expected = torch.rot90(expected, quarter_turns, dims=(-2, -1))
        out = turned(image, 16, torch.Generator().manual_seed(seed))
        assert torch.allclose(out, expected, atol=1e-5)
        seen.add(quarter_turns)
    assert seen == {0, 1, 2, 3}


def test_zscore_round_trip_uses_training_statistics():
    z = os_data.ZScore.fit([0, 10, 20, 30])
    assert z.mean == 15 and z.sd == pytest.approx(np.std([0, 10, 20, 30], ddof=1))
    values = np.array([3.0, 140.0, 0.0])
    assert np.allclose(z.inverse(z.transform(values)), values)
    with pytest.raises(ValueError, match="without spread"):
        os_data.ZScore.fit([5, 5, 5])


def _units(n=12):
    return pd.DataFrame({"hand_id": [f"i{k}:R" for k in range(n)], "patient": [f"P{k}" for k in range(n)],
                         "score": np.arange(n, dtype=float) * 10,
                         "split": ["train"] * (n - 4) + ["val"] * 2 + ["test"] * 2})


def test_score_data_uses_training_split_statistics():
    units = _units()
    images = torch.rand(len(units), 1, 24, 24).half()
    data = os_data.ScoreData.build(units, images, input_size=20)
    train = units[units["split"] == "train"]["score"]
    assert data.zscore.mean == pytest.approx(train.mean())
    train_pixels = data.images[data.indices("train")].double()
    assert data.pixel_mean == pytest.approx(train_pixels.mean().item())
    assert data.pixel_sd == pytest.approx(train_pixels.std().item(), rel=1e-3)
    x, y = data.dataset("val")[0]
    assert x.shape == (1, 20, 20) and y.dtype == torch.float32
    assert data.dataset("train", os_data.Augmentation())[0][0].shape == (1, 20, 20)
    with pytest.raises(ValueError, match="val split is empty"):
        os_data.ScoreData.build(units.assign(split="train"), images, 20)
    with pytest.raises(ValueError, match="cached images"):
        os_data.ScoreData.build(units, images[:3], 20)


def test_pixel_statistics_chunked_equal_whole():
    images = torch.rand(10, 1, 5, 5).half()
    mean, sd = os_data.pixel_statistics(images, chunk=3)
    whole = images.double()
    assert mean == pytest.approx(whole.mean().item()) and sd == pytest.approx(math.sqrt(whole.var(unbiased=False)))
