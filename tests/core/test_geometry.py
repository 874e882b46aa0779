"""ra_lib.core.geometry: the book's one resize, crop, mirror, quarter turn and affine warp."""
import math

import numpy as np
import pytest
import torch

from ra_lib.core import geometry


def ramp(height=6, width=8):
    return np.arange(height * width, dtype=np.float32).reshape(height, width)


def test_resize_keeps_a_constant_image_and_sets_the_shape():
    out = geometry.resize(np.full((40, 30), 0.25, np.float32), (10, 20))
    assert out.shape == (10, 20) and out.dtype == np.float32
    np.testing.assert_allclose(out, 0.25, atol=1e-6)
    assert geometry.resize(ramp(), 5).shape == (5, 5)


def test_shrinking_is_antialiased_so_fine_stripes_average_out():
    stripes = np.tile(np.array([0.0, 1.0], np.float32), (64, 32))
    out = geometry.resize(stripes, 8)
    np.testing.assert_allclose(out, 0.5, atol=0.02)


def test_resize_rejects_non_2d_input():
    with pytest.raises(ValueError, match="2-D"):
        geometry.resize(np.zeros((2, 3, 4)), 4)


def test_same_size_resize_is_identity():
    batch = torch.rand(2, 1, 5, 7)
    assert geometry.resize_batch(batch, (5, 7)) is batch


def test_pad_to_square_centres_the_image():
    out = geometry.pad_to_square(torch.ones(1, 2, 4))
    assert out.shape == (1, 4, 4)
    assert out[0, 1:3].sum() == 8 and out[0, 0].sum() == 0 and out[0, 3].sum() == 0


def test_mirror_and_rotate90_on_arrays_and_tensors():
    image = ramp()
    np.testing.assert_array_equal(geometry.mirror(image), image[:, ::-1])
    np.testing.assert_array_equal(geometry.rotate90(image, 1), np.rot90(image))
    tensor = torch.from_numpy(image)
    assert torch.equal(geometry.mirror(tensor), torch.from_numpy(image[:, ::-1].copy()))
    assert torch.equal(geometry.rotate90(tensor, 3), torch.from_numpy(np.rot90(image, 3).copy()))


@pytest.mark.parametrize("turns", [0, 1, 2, 3, -1, 5])
def test_rotate90_points_follow_every_pixel_centre_of_the_turned_image(turns):
    height, width = 5, 7
    rows, cols = np.mgrid[0:height, 0:width]
    labels = (rows * width + cols).astype(np.float32)
    x, y = geometry.rotate90_points(cols.ravel(), rows.ravel(), turns, height, width)
    turned = geometry.rotate90(labels, turns)
    np.testing.assert_array_equal(turned[y.astype(int), x.astype(int)], labels.ravel())
    np.testing.assert_array_equal(x, np.round(x))


def test_rotate90_points_round_trip_exactly_on_sub_pixel_positions():
    rng = np.random.default_rng(0)
    height, width = 480, 640
    x, y = rng.uniform(-5, width + 5, 200), rng.uniform(-5, height + 5, 200)
    sub_pixel = np.round(x * 256) / 256, np.round(y * 256) / 256
    for turns in range(4):
        shape = (width, height) if turns % 2 else (height, width)
        back = geometry.rotate90_points(*geometry.rotate90_points(*sub_pixel, turns, height, width), -turns, *shape)
        np.testing.assert_array_equal(np.stack(back), np.stack(sub_pixel))
        back = geometry.rotate90_points(*geometry.rotate90_points(x, y, turns, height, width), -turns, *shape)
        np.testing.assert_allclose(np.stack(back), np.stack([x, y]), rtol=0, atol=1e-9)


def test_crop_square_centres_the_point_and_mirrors_on_request():
    image = np.zeros((21, 21), np.float32)
    image[10, 10] = 1.0
    image[10, 12] = 0.5
    crop = geometry.crop_square(image, x=10, y=10, side_px=5, size=5)
    assert crop[2, 2] == 1.0 and crop[2, 4] == 0.5
    mirrored = geometry.crop_square(image, x=10, y=10, side_px=5, size=5, mirror_crop=True)
    assert mirrored[2, 0] == 0.5
    outside = geometry.crop_square(image, x=-50, y=-50, side_px=5, size=5)
    assert not outside.any()


def test_identity_warp_returns_the_image():
    batch = torch.rand(3, 1, 8, 8)
    theta = geometry.affine_matrices(np.zeros(3))
    torch.testing.assert_close(geometry.warp(batch, theta), batch, atol=1e-5, rtol=0)


def test_a_quarter_turn_warp_matches_rotate90_up_to_direction():
    batch = torch.rand(1, 1, 8, 8)
    turned = geometry.warp(batch, geometry.affine_matrices([math.pi / 2]))
    exact = [geometry.rotate90(batch, k) for k in (1, 3)]
    assert min(float((turned - e).abs().max()) for e in exact) < 1e-4


def test_zoom_above_one_magnifies_and_shift_moves_content():
    batch = torch.zeros(1, 1, 9, 9)
    batch[0, 0, 4, 4] = 1.0
    zoomed = geometry.warp(batch, geometry.affine_matrices([0.0], scale=3.0))
    assert (zoomed > 0.5).sum() > 1
    shifted = geometry.warp(batch, geometry.affine_matrices([0.0], shift=(2 * 2 / 9, 0.0)))
    assert shifted[0, 0, 4].argmax() == 2


def test_border_padding_repeats_the_edge():
    batch = torch.ones(1, 1, 4, 4)
    moved = geometry.warp(batch, geometry.affine_matrices([0.0], shift=(1.0, 0.0)), padding="border")
    torch.testing.assert_close(moved, batch)


def test_undo_orientation_inverts_orient():
    image = np.arange(12, dtype=np.float32).reshape(3, 4)
    for k in range(4):
        for mirrored in (False, True):
            turned = geometry.orient(image, k, mirrored)
            expected = np.rot90(image[:, ::-1] if mirrored else image, k)
            np.testing.assert_array_equal(turned, expected)
            np.testing.assert_array_equal(geometry.undo_orientation(turned, k, mirrored), image)
