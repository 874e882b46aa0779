"""Stage 5's images and training data: the square image cache, paper 003's augmentation, target z-scores.

Images are preloaded once into a square float16 cache (padded to a square, resized, through
:mod:`ra_lib.core.geometry`). Pixel mean / sd and the target's z-score come from the training split only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from ra_lib.core import geometry
from ra_lib.stages.overall_score.settings import UNITS
from ra_lib.stages.overall_score.targets import SPLITS

#: Paper 003 Sec. 3.1.2: the rescale range of a training crop.
SCALE_RANGE = (0.9, 1.0)


def cache_size(input_size: int, min_scale: float = SCALE_RANGE[0]) -> int:
    """Side of the cached images: the smallest rescale of the augmentation still covers ``input_size``."""
    return int(math.ceil(input_size / min_scale))


def square_image(image, size: int) -> torch.Tensor:
    """A 2-D image (or ``(1, H, W)`` tensor) centred on a zero square and resized to ``(1, size, size)``."""
    tensor = image.float() if torch.is_tensor(image) else torch.from_numpy(np.array(image, dtype=np.float32))
    if tensor.ndim == 2:
        tensor = tensor[None]
    return geometry.resize_batch(geometry.pad_to_square(tensor)[None], size)[0]


def cached_image(image, size: int) -> torch.Tensor:
    """One image as the cache holds it: squared to ``size`` (:func:`square_image`), clipped to [0, 1], float16."""
    return square_image(image, size).clamp(0, 1).half()


def preload_images(load: Callable[[str], np.ndarray], ids: Sequence[str], size: int,
                   progress: bool = True) -> torch.Tensor:
    """Load every image once (``load(id) -> float [0, 1] array``) into a ``(N, 1, size, size)`` float16 cache."""
    cache = torch.empty((len(ids), 1, size, size), dtype=torch.float16)
    for index, item in enumerate(tqdm(ids, desc="loading images", leave=False, disable=not progress)):
        image = np.asarray(load(item))
        if image.ndim != 2:
            raise ValueError(f"image {item!r}: expected a 2-D grey image, got shape {image.shape}")
        cache[index] = cached_image(image, size)
    return cache


@dataclass(frozen=True)
class Augmentation:
    """Paper 003 Sec. 3.1.2: rescale by 0.9-1.0, random crop, flip, brightness / contrast 0.1, rotate k*90 deg.

    Saturation (the paper's third colour jitter) has no meaning for grey images.
    """

    scale: tuple[float, float] = SCALE_RANGE
    brightness: float = 0.1
    contrast: float = 0.1
    flip: bool = True
    rotate90: bool = True

    def __call__(self, image: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
        """One augmented ``(1, size, size)`` crop of a ``(1, S, S)`` image in [0, 1]."""
        u = torch.rand(5, generator=generator).tolist()
        side = image.shape[-1]
        scaled = max(size, int(round(side * (self.scale[0] + u[0] * (self.scale[1] - self.scale[0])))))
        image = geometry.resize_batch(image[None], scaled)[0]
        top = int(torch.randint(scaled - size + 1, (1,), generator=generator))
        left = int(torch.randint(scaled - size + 1, (1,), generator=generator))
        image = image[:, top:top + size, left:left + size]
        if self.flip and u[1] < 0.5:
            image = geometry.mirror(image)
        image = image * (1 + self.brightness * (2 * u[2] - 1))
        image = (image - image.mean()) * (1 + self.contrast * (2 * u[3] - 1)) + image.mean()
        image = image.clamp(0, 1)
        if self.rotate90:
            image = geometry.rotate90(image, int(u[4] * 4) % 4)
        return image.contiguous()


@dataclass(frozen=True)
class ZScore:
    """Target standardisation with the training split's mean and sd (paper 003 Sec. 3.1.2)."""

    mean: float
    sd: float

    @classmethod
    def fit(cls, values) -> "ZScore":
        values = np.asarray(values, dtype=float)
        if len(values) < 2 or not np.std(values) > 0:
            raise ValueError(f"cannot z-score {len(values)} training target(s) without spread")
        return cls(float(np.mean(values)), float(np.std(values, ddof=1)))

    def transform(self, values):
        return (np.asarray(values, dtype=float) - self.mean) / self.sd

    def inverse(self, z):
        return np.asarray(z, dtype=float) * self.sd + self.mean


class ScoreDataset(Dataset):
    """``(normalised image, z-scored target)`` pairs from the image cache; augmented when training."""

    def __init__(self, images: torch.Tensor, targets: np.ndarray, input_size: int, pixel_mean: float,
                 pixel_sd: float, augmentation: Augmentation | None = None, seed: int = 0):
        self.targets = torch.as_tensor(np.asarray(targets, dtype=np.float32))
        self.input_size, self.mean, self.sd = input_size, pixel_mean, pixel_sd
        self.augmentation = augmentation
        self.generator = torch.Generator().manual_seed(seed)
        if augmentation is None:  # evaluation: resize once
            resized = torch.empty((len(images), 1, input_size, input_size), dtype=torch.float16)
            for index, image in enumerate(images):
                resized[index] = square_image(image, input_size).half()
            images = resized
        self.images = images

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        image = self.images[index].float()
        if self.augmentation is not None:
            image = self.augmentation(image, self.input_size, self.generator)
        return (image - self.mean) / self.sd, self.targets[index]


@dataclass
class ScoreData:
    """Units (with split), their cached images and the training-split statistics."""

    units: pd.DataFrame
    images: torch.Tensor
    input_size: int
    id_column: str
    zscore: ZScore
    pixel_mean: float
    pixel_sd: float

    @classmethod
    def build(cls, units: pd.DataFrame, images: torch.Tensor, input_size: int, unit: str = "hand") -> "ScoreData":
        """Bundle units (row ``i`` is image ``i``) and compute target / pixel statistics on the training split."""
        if len(units) != len(images):
            raise ValueError(f"{len(units)} units but {len(images)} cached images")
        missing = {UNITS[unit], "patient", "score", "split"} - set(units.columns)
        if missing:
            raise ValueError(f"units table lacks column(s) {sorted(missing)}")
        units = units.reset_index(drop=True)
        train = np.flatnonzero(units["split"].to_numpy() == "train")
        for split in SPLITS:
            if not (units["split"] == split).any():
                raise ValueError(f"the {split} split is empty; the cohort has too few patients with scores")
        mean, sd = pixel_statistics(images[train])
        return cls(units, images, input_size, UNITS[unit], ZScore.fit(units.loc[train, "score"]), mean, sd)

    def indices(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.units["split"].to_numpy() == split)

    def dataset(self, split: str, augmentation: Augmentation | None = None, seed: int = 0) -> ScoreDataset:
        idx = self.indices(split)
        targets = self.zscore.transform(self.units["score"].to_numpy()[idx])
        return ScoreDataset(self.images[idx], targets, self.input_size, self.pixel_mean, self.pixel_sd,
                            augmentation, seed)


def pixel_statistics(images: torch.Tensor, chunk: int = 64) -> tuple[float, float]:
    """Mean and sd of all pixels, accumulated in float64 chunk by chunk (no full float32 copy)."""
    total = squares = 0.0
    for start in range(0, len(images), chunk):
        block = images[start:start + chunk].double()
        total += float(block.sum())
        squares += float((block**2).sum())
    count = images.numel()
    mean = total / count
    return mean, math.sqrt(max(squares / count - mean**2, 0.0))
