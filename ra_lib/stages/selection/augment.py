"""Stage 1 augmentation: paper 000's Table 1 families and its oversampling to Table 2's counts.

The paper adds "duplicated" images to every training image, "rotated, zoomed in/out, shifted,
sheared, channel shifted, or flipped" (Table 1; its numeric ranges are not in the text we have, so
:class:`AugmentRanges` holds stand-in values as parameters), until each class reaches the count of
its Table 2. Here a *plan* lists, for every training sample, its source image and copy number
(copy 0 = the original, unchanged); copy ``k > 0`` is augmented with parameters drawn from a
generator seeded by ``(seed, sample index)`` and made once per training run, so the samples are the same
on every run and every epoch (the paper's duplicates are fixed too).

The transforms are torchvision's ``RandomAffine`` / ``RandomHorizontalFlip`` operations
(``transforms.v2.functional.affine`` / ``horizontal_flip``) with the parameters drawn here from a
seeded numpy generator instead of torch's global random state. The channel shift (Keras'
``channel_shift_range``) adds one uniform offset per channel and clips to [0, 1]; on a grey
radiograph it is a brightness shift.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF


@dataclass(frozen=True)
class AugmentRanges:
    """Ranges of the Table 1 families; each draw is uniform in ``[-r, r]`` (zoom: ``[1-r, 1+r]``)."""

    rotation_deg: float = 15.0
    zoom: float = 0.1
    shift: float = 0.1  # fraction of the image side, horizontally and vertically
    shear_deg: float = 5.0
    channel_shift: float = 0.1  # intensity offset on the [0, 1] scale
    horizontal_flip: bool = True
    vertical_flip: bool = False

    @classmethod
    def from_mapping(cls, values: Mapping | None) -> "AugmentRanges":
        """Ranges from a profile's dict; unknown keys raise ``ValueError`` naming them."""
        values = dict(values or {})
        unknown = sorted(set(values) - set(asdict(cls())))
        if unknown:
            raise ValueError(f"unknown augmentation range(s) {unknown}; known: {sorted(asdict(cls()))}")
        return cls(**values)


def draw_params(rng: np.random.Generator, ranges: AugmentRanges) -> dict:
    """One set of augmentation parameters (angle, shift, zoom, shear, channel offset, flips)."""
    return {
        "angle": float(rng.uniform(-ranges.rotation_deg, ranges.rotation_deg)),
        "shift": (float(rng.uniform(-ranges.shift, ranges.shift)), float(rng.uniform(-ranges.shift, ranges.shift))),
        "zoom": float(rng.uniform(1 - ranges.zoom, 1 + ranges.zoom)),
        "shear": float(rng.uniform(-ranges.shear_deg, ranges.shear_deg)),
        "offset": float(rng.uniform(-ranges.channel_shift, ranges.channel_shift)),
        "hflip": bool(ranges.horizontal_flip and rng.random() < 0.5),
        "vflip": bool(ranges.vertical_flip and rng.random() < 0.5),
    }


def apply_params(image: torch.Tensor, params: dict) -> torch.Tensor:
    """Apply :func:`draw_params`' output to a ``(C, H, W)`` image in [0, 1] (bilinear, zero fill)."""
    height, width = image.shape[-2:]
    out = TF.affine(image, angle=params["angle"],
                    translate=[params["shift"][0] * width, params["shift"][1] * height],
                    scale=params["zoom"], shear=[params["shear"], 0.0],
                    interpolation=InterpolationMode.BILINEAR, fill=0.0)
    if params["hflip"]:
        out = TF.horizontal_flip(out)
    if params["vflip"]:
        out = TF.vertical_flip(out)
    return (out + params["offset"]).clamp_(0.0, 1.0)


def augment(image: torch.Tensor, ranges: AugmentRanges, seed: int | Sequence[int]) -> torch.Tensor:
    """One augmented copy of ``image``, a deterministic function of ``seed``."""
    return apply_params(image, draw_params(np.random.default_rng(seed), ranges))


def augmentation_plan(labels: Sequence, targets: Mapping, seed: int) -> pd.DataFrame:
    """Which source image and copy number make up each training sample.

    ``targets`` maps a label to its wanted sample count (Table 2). Every original is kept once
    (a target below a class's count drops nothing); the missing samples are augmented copies
    spread evenly over the class's images (each gets ``floor`` or ``ceil`` of the needed copies,
    the extra ones to a seeded random subset). A label absent from ``labels`` contributes nothing.
    Returns columns ``source`` (index into ``labels``), ``copy`` (0 = original) and ``label``.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    frames = []
    for label in pd.unique(labels):
        sources = np.flatnonzero(labels == label)
        n_copies = max(int(targets.get(label, len(sources))), len(sources)) - len(sources)
        per_image = np.full(len(sources), n_copies // len(sources))
        per_image[rng.permutation(len(sources))[: n_copies % len(sources)]] += 1
        source = np.repeat(sources, per_image + 1)
        copy = np.concatenate([np.arange(k + 1) for k in per_image])
        frames.append(pd.DataFrame({"source": source, "copy": copy, "label": label}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["source", "copy", "label"])


def augmented_counts(plans: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Table 2: per model and class, original and augmented (total) sample counts."""
    rows = []
    for model, plan in plans.items():
        for label, group in plan.groupby("label", sort=False):
            rows.append({"model": model, "class": label, "original": int((group["copy"] == 0).sum()),
                         "augmented": len(group)})
    return pd.DataFrame(rows, columns=["model", "class", "original", "augmented"])


class AugmentedDataset(Dataset):
    """Samples of a plan over preloaded images: ``(image, class index)``; copies > 0 augmented.

    The augmented copies are made once, here (as the paper's fixed duplicates), not every epoch.
    """

    def __init__(self, images: torch.Tensor, targets: Sequence[int], plan: pd.DataFrame,
                 ranges: AugmentRanges, seed: int):
        self.images = images
        self.targets = torch.as_tensor(np.asarray(targets), dtype=torch.long)
        self.source = plan["source"].to_numpy()
        augmented = np.flatnonzero(plan["copy"].to_numpy() > 0)
        self.slot = np.full(len(plan), -1)
        self.slot[augmented] = np.arange(len(augmented))
        self.copies = torch.empty(len(augmented), *images.shape[1:], dtype=images.dtype)
        for slot, index in enumerate(augmented):
            self.copies[slot] = augment(images[self.source[index]], ranges, (int(seed), int(index)))

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int):
        source, slot = int(self.source[index]), int(self.slot[index])
        image = self.images[source] if slot < 0 else self.copies[slot]
        return image, self.targets[source]
