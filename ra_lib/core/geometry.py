"""Image geometry, one implementation each: resize, pad to a square, mirror, quarter turns of images and of
pixel coordinates, orientation (mirror then quarter turns) and its inverse, crop around a point, affine warp.

Images are float32 arrays (or tensors) with the last two axes ``(height, width)``. Every stage
resizes, crops and warps through these functions so that a hand looks the same to every model.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage


def _size(size: int | tuple[int, int]) -> tuple[int, int]:
    return (int(size), int(size)) if np.isscalar(size) else (int(size[0]), int(size[1]))


def resize_batch(batch: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of ``(N, C, H, W)`` to ``size`` (an int for a square, or ``(height, width)``);
    antialiased when shrinking so that downsampled radiographs keep their mean intensity."""
    height, width = _size(size)
    if tuple(batch.shape[-2:]) == (height, width):
        return batch
    shrink = height < batch.shape[-2] or width < batch.shape[-1]
    return F.interpolate(batch, size=(height, width), mode="bilinear", align_corners=False, antialias=shrink)


def resize(image, size: int | tuple[int, int]) -> np.ndarray:
    """A 2-D image resized with :func:`resize_batch` (aspect ratio not kept), as float32."""
    tensor = torch.as_tensor(np.ascontiguousarray(image, dtype=np.float32))
    if tensor.ndim != 2:
        raise ValueError(f"resize expects a 2-D image, got shape {tuple(tensor.shape)}")
    return resize_batch(tensor[None, None], size)[0, 0].numpy()


def pad_to_square(image: torch.Tensor) -> torch.Tensor:
    """Centre ``(..., H, W)`` on a zero square of side ``max(H, W)``."""
    height, width = image.shape[-2:]
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    return F.pad(image, (left, side - width - left, top, side - height - top))


def mirror(image):
    """Flip left-right (a left hand shown as a right hand); works on arrays and tensors."""
    return image.flip(-1) if torch.is_tensor(image) else np.ascontiguousarray(image[..., ::-1])


def rotate90(image, quarter_turns: int):
    """Turn counter-clockwise by ``quarter_turns`` x 90 degrees, exactly (no resampling); arrays and tensors."""
    if torch.is_tensor(image):
        return torch.rot90(image, quarter_turns, dims=(-2, -1))
    return np.ascontiguousarray(np.rot90(image, quarter_turns, axes=(-2, -1)))


def rotate90_points(x, y, quarter_turns: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates ``(x, y)`` (x right, y down, pixel centres at integers) of a ``height`` x ``width``
    image moved as :func:`rotate90` moves its pixels: exact for pixel centres and sub-pixel positions on a
    binary grid (1/256 px), otherwise to float rounding (below 1e-12 px)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    turns = int(quarter_turns) % 4
    if turns == 1:
        return y, (width - 1) - x
    if turns == 2:
        return (width - 1) - x, (height - 1) - y
    if turns == 3:
        return (height - 1) - y, x
    return x, y


def orient(image, rot90_k: int, mirrored: bool):
    """``image`` mirrored (when ``mirrored``) then turned ``rot90_k`` quarter turns counter-clockwise; exact."""
    return rotate90(mirror(image) if mirrored else image, rot90_k)


def undo_orientation(image, rot90_k: int, mirrored: bool):
    """The inverse of :func:`orient`: turn back ``rot90_k`` quarter turns, then undo the mirror; exact."""
    turned = rotate90(image, -int(rot90_k) % 4)
    return mirror(turned) if mirrored else turned


def crop_square(image: np.ndarray, x: float, y: float, side_px: float, size: int, mirror_crop: bool = False) -> np.ndarray:
    """Resample a ``side_px`` square centred on ``(x, y)`` to ``size`` x ``size`` (bilinear, zero outside)."""
    offsets = (np.arange(size) + 0.5) / size * side_px - side_px / 2
    rows, cols = np.meshgrid(y + offsets, x + offsets, indexing="ij")
    crop = ndimage.map_coordinates(image, [rows, cols], order=1, mode="constant", cval=0.0)
    return mirror(crop) if mirror_crop else crop


def affine_matrices(angle_rad, scale=1.0, shear_rad=0.0, shift=(0.0, 0.0)) -> torch.Tensor:
    """``(N, 2, 3)`` matrices for :func:`warp`: rotate by ``angle_rad``, shear, zoom by ``scale``, shift.

    ``shift`` is ``(N, 2)`` (or a pair) in units of half the image side (``affine_grid``'s [-1, 1]).
    Matrices map output to input coordinates, so a ``scale`` above 1 zooms in.
    """
    angle = torch.as_tensor(angle_rad, dtype=torch.float32).reshape(-1)
    n = angle.numel()
    scale = torch.as_tensor(scale, dtype=torch.float32).expand(n) if np.ndim(scale) == 0 else torch.as_tensor(scale, dtype=torch.float32)
    shear = torch.as_tensor(shear_rad, dtype=torch.float32).expand(n) if np.ndim(shear_rad) == 0 else torch.as_tensor(shear_rad, dtype=torch.float32)
    shift = torch.as_tensor(shift, dtype=torch.float32).reshape(-1, 2).expand(n, 2)
    cos, sin, tan = torch.cos(angle), torch.sin(angle), torch.tan(shear)
    rows = [torch.stack([cos, cos * tan - sin, shift[:, 0] * scale], dim=1),
            torch.stack([sin, sin * tan + cos, shift[:, 1] * scale], dim=1)]
    return torch.stack(rows, dim=1) / scale.view(n, 1, 1)


def warp(batch: torch.Tensor, theta: torch.Tensor, padding: str = "zeros") -> torch.Tensor:
    """Apply ``(N, 2, 3)`` affine matrices to ``(N, C, H, W)`` (bilinear); ``padding`` ``"zeros"``
    or ``"border"`` (repeat the edge, Keras' ``nearest``)."""
    grid = F.affine_grid(theta.to(batch.dtype), list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode=padding, align_corners=False)
