"""Tests of ra_lib.stages.grading.models: grey-crop networks."""
import pytest
import torch

from ra_lib.stages.grading.models import TinyNet, build_model


@pytest.mark.parametrize("arch", ["tiny", "efficientnet_b0"])
def test_models_take_one_grey_channel(arch):
    model = build_model(arch, 6, width=4).eval()
    assert model(torch.rand(2, 1, 32, 32)).shape == (2, 6)


def test_tiny_network_width():
    assert TinyNet(5, width=4).head[-1].in_features == 16


def test_efficientnet_loads_local_rgb_weights_summed_to_grey(tmp_path):
    from torchvision.models import efficientnet_b0

    rgb = efficientnet_b0(weights=None)
    torch.save(rgb.state_dict(), tmp_path / "b0.pth")
    grey = build_model("efficientnet_b0", 5, weights_path=tmp_path / "b0.pth")
    torch.testing.assert_close(grey.features[0][0].weight, rgb.features[0][0].weight.sum(dim=1, keepdim=True))
    torch.testing.assert_close(grey.features[1][0].block[0][0].weight, rgb.features[1][0].block[0][0].weight)


def test_build_model_rejects_unknown_arch_and_missing_weights(tmp_path):
    with pytest.raises(ValueError, match="unknown arch"):
        build_model("resnet", 5)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_model("efficientnet_b0", 5, weights_path=tmp_path / "none.pth")
    with pytest.raises(ValueError, match="EfficientNet only"):
        build_model("tiny", 5, weights_path=tmp_path / "none.pth")
