"""Stage 1 augmentation: paper 000's Table 1 families and its oversampling to Table 2's counts.

The paper adds "duplicated" images to every training image, "rotated, zoomed in/out, shifted,
sheared, channel shifted, or flipped" (Table 1; its numeric ranges are not in the text we have, so
:class:`~ra_lib.stages.selection.settings.AugmentRanges` holds stand-in values), until each class
reaches the count of its Table 2. Here a *plan* lists, for every training sample, its source image
and copy number (copy 0 = the original, unchanged); copy ``k > 0`` is augmented with parameters
drawn from a generator seeded by ``(seed, sample index)`` and made once per training run, so the
samples are the same on every run and every epoch (the paper's duplicates are fixed too).

Rotation, zoom, shift and shear are one bilinear warp with zero fill
(:func:`ra_lib.core.geometry.affine_matrices` + :func:`~ra_lib.core.geometry.warp`): the angle's sign
and the shift (a fraction of the side, moving the content in the output) follow torchvision's
``affine``; the warp samples at ``R(angle) Sh(shear) / zoom`` (rotation after shear in output-to-input
coordinates, the order of Keras' ``ImageDataGenerator``). The flips follow the warp; the channel
shift (Keras' ``channel_shift_range``) adds one uniform offset and clips to [0, 1]; on a grey
radiograph it is a brightness shift.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from ra_lib.core import geometry
from ra_lib.evaluation.published import SELECTION_TABLE2, SELECTION_TRAIN_IMAGES
from ra_lib.stages.selection.settings import AugmentRanges

_WARP_CHUNK = 256  # copies warped at once


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


def warp_matrices(params: Sequence[dict]) -> torch.Tensor:
    """``(N, 2, 3)`` matrices for :func:`ra_lib.core.geometry.warp` from :func:`draw_params` outputs."""
    def column(key):
        return torch.tensor([p[key] for p in params], dtype=torch.float32)

    angle = -column("angle") * (math.pi / 180)
    shear, zoom = column("shear") * (math.pi / 180), column("zoom")
    linear = geometry.affine_matrices(angle, zoom, shear)[:, :, :2]
    shift = torch.tensor([p["shift"] for p in params], dtype=torch.float32).reshape(-1, 2)
    # the output moves by ``shift`` sides = 2 x shift in warp units: sample at linear @ (x - 2 shift)
    return geometry.affine_matrices(angle, zoom, shear, -2 * (linear @ shift[..., None])[..., 0])


def apply_params(images: torch.Tensor, params: Sequence[dict]) -> torch.Tensor:
    """Apply one :func:`draw_params` output to each ``(C, H, W)`` image of ``(N, C, H, W)`` in [0, 1]."""
    out = geometry.warp(images, warp_matrices(params))
    hflip = torch.tensor([p["hflip"] for p in params], dtype=torch.bool)
    vflip = torch.tensor([p["vflip"] for p in params], dtype=torch.bool)
    out[hflip] = geometry.mirror(out[hflip])
    out[vflip] = out[vflip].flip(-2)
    offset = torch.tensor([p["offset"] for p in params], dtype=out.dtype).view(-1, 1, 1, 1)
    return (out + offset).clamp_(0.0, 1.0)


def augment(image: torch.Tensor, ranges: AugmentRanges, seed: int | Sequence[int]) -> torch.Tensor:
    """One augmented copy of a ``(C, H, W)`` image, a deterministic function of ``seed``."""
    return apply_params(image[None], [draw_params(np.random.default_rng(seed), ranges)])[0]


def scaled_targets(task: str, n_train_images: int, scale: float) -> dict[str, int]:
    """Table 2 counts scaled to this cohort: ``count x n_train_images / 841 x scale``."""
    factor = n_train_images / SELECTION_TRAIN_IMAGES * scale
    return {label: int(round(count * factor)) for label, count in SELECTION_TABLE2[task].items()}


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


def table2_comparison(table2: pd.DataFrame) -> pd.DataFrame:
    """This run's augmented counts (:func:`augmented_counts`) beside paper 000 Table 2."""
    paper = pd.DataFrame([{"model": m, "class": c, "paper": n} for m, counts in SELECTION_TABLE2.items()
                          for c, n in counts.items()])
    return paper[["model", "class"]].merge(table2, on=["model", "class"]).merge(paper, on=["model", "class"])


class AugmentedDataset(Dataset):
    """Samples of a plan over preloaded images: ``(image, class index)``; copies > 0 augmented.

    The augmented copies are made once, here (as the paper's fixed duplicates), not every epoch;
    copy ``i`` of the plan uses the parameters drawn from ``(seed, i)``.
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
        for start in range(0, len(augmented), _WARP_CHUNK):
            chunk = augmented[start:start + _WARP_CHUNK]
            params = [draw_params(np.random.default_rng((int(seed), int(index))), ranges) for index in chunk]
            self.copies[start:start + len(chunk)] = apply_params(images[self.source[chunk]], params)

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int):
        source, slot = int(self.source[index]), int(self.slot[index])
        image = self.images[source] if slot < 0 else self.copies[slot]
        return image, self.targets[source]
