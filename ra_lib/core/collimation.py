"""Collimation borders: the unexposed margins outside the X-ray field, shown white on many radiographs.

A white border is the brightest thing in the image, brighter than any bone, and a detector trained on a
few hands without one reads it as anatomy. :func:`black_out_collimation` sets it to black, as a PACS
"shutter" does: flat, near-saturated regions that touch the image's edge. Bone and lead markers are left
alone, since they are not flat or do not reach the edge.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

#: Brightness (on the [0, 1] scale) from which a pixel may belong to a white border.
WHITE_LEVEL = 0.95
#: Largest standard deviation of a border region (the unexposed field is flat).
FLATNESS = 0.03
#: Smallest border region, as a share of the image (smaller bright specks at the edge are kept).
MIN_SHARE = 0.002


def collimation_mask(image: np.ndarray, white_level: float = WHITE_LEVEL) -> np.ndarray:
    """Boolean mask of the white collimation border of a 2-D image in [0, 1]."""
    image = np.asarray(image, dtype=np.float32)
    labels, n = ndimage.label(image >= white_level)
    if n == 0:
        return np.zeros(image.shape, bool)
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    edge = edge[edge > 0]
    index = np.arange(1, n + 1)
    sizes = ndimage.sum_labels(np.ones_like(image), labels, index)
    spread = np.sqrt(np.maximum(ndimage.variance(image, labels, index), 0))
    keep = [k for k in edge if sizes[k - 1] >= MIN_SHARE * image.size and spread[k - 1] <= FLATNESS]
    return np.isin(labels, keep)


def black_out_collimation(image: np.ndarray, white_level: float = WHITE_LEVEL) -> np.ndarray:
    """The image with its white collimation border set to 0 (a copy; the input is not changed)."""
    out = np.array(image, dtype=np.float32, copy=True)
    out[collimation_mask(out, white_level)] = 0.0
    return out
