"""Grey-level normalisation shared by the models: histogram equalisation.

Archives display radiographs through different windows: the direct-exposure background black or grey,
bones bright or washed out. Equalising the histogram maps every monotone display window of one image to
the same values, so a model sees the grey levels' order, not the window the archive chose.
"""
from __future__ import annotations

import numpy as np


def equalize_histogram(image, bins: int = 256) -> np.ndarray:
    """``image`` (float, values in [0, 1]) with its histogram equalised over ``bins`` levels, as float32.

    Each level maps to the share of pixels at or below it, rescaled so that the darkest level present
    is 0 and the brightest 1 (torchvision's ``equalize`` convention: a black or grey background both
    become 0). An image of one level is returned as zeros.
    """
    image = np.asarray(image, dtype=np.float32)
    if bins < 2:
        raise ValueError(f"bins must be at least 2, got {bins!r}")
    levels = np.clip(np.rint(image * (bins - 1)), 0, bins - 1).astype(np.intp)
    cdf = np.bincount(levels.ravel(), minlength=bins).cumsum()
    darkest = cdf[levels.min()] if levels.size else 0
    span = cdf[-1] - darkest
    if span <= 0:
        return np.zeros_like(image)
    return ((cdf - darkest) / span).astype(np.float32)[levels]
