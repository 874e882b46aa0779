"""Stage 1 CNN: paper 000 Fig. 2 layer sizes, the derived FC size, Keras' initialisation."""
import numpy as np
import pytest
import torch

from ra_lib.stages.selection.model import FIG2_NEURONS, SelectionCNN, flat_features, layer_shapes, paper_layer_table

PAPER_NEURONS = [2_000_000, 3_936_256, 984_064, 1_968_128, 1_905_152, 476_288, 512, 2]


def test_paper_layer_sizes_at_252():
    assert flat_features(252) == 476_288
    with torch.device("meta"):
        model = SelectionCNN(252)
    shapes = layer_shapes(model)
    assert shapes["neurons"].tolist() == PAPER_NEURONS
    assert shapes["shape"].tolist()[:6] == [(32, 250, 250), (64, 248, 248), (64, 124, 124),
                                            (128, 124, 124), (128, 122, 122), (128, 61, 61)]
    assert shapes["type"].tolist() == ["Conv2d", "Conv2d", "MaxPool2d", "Conv2d", "Conv2d", "MaxPool2d",
                                       "Linear", "Linear"]


def test_paper_layer_table_sits_beside_fig2():
    table = paper_layer_table()
    assert list(FIG2_NEURONS) == PAPER_NEURONS
    assert (table["neurons"] == table["paper (Fig. 2)"]).all()


@pytest.mark.parametrize("size", [32, 48])
def test_small_inputs_derive_the_fc_size(size):
    model = SelectionCNN(size, n_classes=3)
    assert model.classifier[0].in_features == flat_features(size)
    assert model(torch.rand(2, 1, size, size)).shape == (2, 3)


def test_too_small_input_is_rejected():
    with pytest.raises(ValueError, match="too small"):
        SelectionCNN(8)


def test_glorot_uniform_init_and_zero_bias():
    model = SelectionCNN(32)
    conv = model.features[2]
    bound = np.sqrt(6 / (32 * 9 + 64 * 9))
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.9 * bound
    assert torch.count_nonzero(conv.bias) == 0
