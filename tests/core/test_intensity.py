import numpy as np
import pytest

from ra_lib.core.intensity import equalize_histogram


def _levels_image(rng, n_levels=40, spacing=5, shape=(30, 40)):
    levels = rng.integers(0, n_levels, shape) * spacing
    return levels / 255.0


def test_equalised_image_spans_zero_to_one_and_keeps_the_order():
    image = _levels_image(np.random.default_rng(0))
    out = equalize_histogram(image)
    assert out.dtype == np.float32 and out.shape == image.shape
    assert out.min() == 0.0 and out.max() == 1.0
    order = np.argsort(image.ravel(), kind="stable")
    assert np.all(np.diff(out.ravel()[order]) >= 0)


def test_every_window_of_one_image_equalises_alike():
    image = _levels_image(np.random.default_rng(1))
    grey_background = 0.3 + 0.5 * image  # the same radiograph shown with a raised black level, less contrast
    np.testing.assert_array_equal(equalize_histogram(grey_background), equalize_histogram(image))


def test_levels_map_to_their_cumulative_share():
    image = np.array([[0.0, 0.0, 0.5, 1.0]])
    # counts 2, 1, 1: cumulative 2, 3, 4; the darkest level (2 pixels) goes to 0
    np.testing.assert_allclose(equalize_histogram(image), [[0.0, 0.0, 0.5, 1.0]])
    np.testing.assert_allclose(equalize_histogram(np.array([[0.2, 0.2, 0.2, 0.9]])), [[0.0, 0.0, 0.0, 1.0]])


def test_flat_image_gives_zeros_and_bad_bins_are_refused():
    np.testing.assert_array_equal(equalize_histogram(np.full((3, 3), 0.4)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="bins"):
        equalize_histogram(np.zeros((2, 2)), bins=1)
