"""White collimation borders are blacked out; bone, markers and dark borders are kept."""
import numpy as np

from ra_lib.core.collimation import black_out_collimation, collimation_mask


def _radiograph(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = rng.uniform(0.0, 0.1, (80, 60)).astype(np.float32)
    image[20:60, 25:35] = rng.uniform(0.6, 0.99, (40, 10))  # a bone: bright, textured, inside the field
    image[5:9, 5:9] = 1.0  # a lead marker: white but away from the edge
    return image


def test_a_white_border_is_blacked_out_and_nothing_else():
    image = _radiograph()
    bordered = image.copy()
    bordered[:, -8:] = 1.0  # a collimated strip on the right
    bordered[-5:, :] = 0.99
    out = black_out_collimation(bordered)
    assert (out[:, -8:] == 0).all() and (out[-5:, :] == 0).all()
    np.testing.assert_array_equal(out[:-5, :-8], image[:-5, :-8])
    assert not np.shares_memory(out, bordered) and bordered[0, -1] == 1.0


def test_images_without_a_white_border_are_unchanged():
    image = _radiograph()
    assert not collimation_mask(image).any()
    dark = image.copy()
    dark[:, :6] = 0.0  # a black shutter already applied
    np.testing.assert_array_equal(black_out_collimation(dark), dark)


def test_bright_textured_bone_reaching_the_edge_is_kept():
    image = _radiograph()
    image[60:, 25:35] = np.random.default_rng(1).uniform(0.7, 1.0, (20, 10))  # forearm bone to the edge
    assert not collimation_mask(image).any()
