import pytest
import torch
from torch import nn

from ra_lib.stages.overall_score.models import (
    VARIANTS,
    PreActConv,
    ResNetDwise,
    bottleneck_block,
    build_model,
    count_macs,
    count_parameters,
    inverted_residual_block,
    load_weights,
    resnet_d_shortcut,
    separable_block,
)

TINY = dict(layers=(1, 1, 1, 1), width_mult=0.25)


@pytest.mark.parametrize("make, in_channels, out_channels, stride", [
    (bottleneck_block, 32, 64, 2),
    (separable_block, 32, 16, 2),
    (inverted_residual_block, 32, 16, 2),
    (bottleneck_block, 64, 64, 1),
    (separable_block, 16, 16, 1),
    (inverted_residual_block, 16, 16, 1),
])
def test_block_output_shapes(make, in_channels, out_channels, stride):
    width = out_channels // 4 if make is bottleneck_block else out_channels
    block = make(in_channels, width, stride).eval()
    size = -(-15 // stride)  # ceil: padded 3x3 and ceil-mode pooling agree on odd sizes
    assert block(torch.randn(2, in_channels, 15, 15)).shape == (2, out_channels, size, size)


def test_blocks_are_fully_preactivated_and_depthwise_where_named():
    for block in (bottleneck_block(32, 16, 2), separable_block(32, 48, 2), inverted_residual_block(32, 48, 2)):
        assert isinstance(block.pre_bn, nn.BatchNorm2d) and isinstance(block.pre_relu, nn.ReLU)
        assert all(isinstance(unit, PreActConv) for unit in block.rest)
    dsc = separable_block(32, 48, 2)
    assert dsc.first_conv.groups == 32 and dsc.first_conv.kernel_size == (3, 3)
    irb = inverted_residual_block(32, 48, 2, expansion=6)
    assert irb.first_conv.out_channels == 6 * 32
    assert irb.rest[0][2].groups == 6 * 32 and irb.rest[1][2].out_channels == 48


def test_resnet_d_downsampling_pools_before_1x1_and_strides_the_3x3():
    shortcut = resnet_d_shortcut(64, 128, stride=2)
    assert isinstance(shortcut[0], nn.AvgPool2d) and shortcut[0].kernel_size == 2 and shortcut[0].stride == 2
    assert isinstance(shortcut[1], nn.Conv2d) and shortcut[1].kernel_size == (1, 1) and shortcut[1].stride == (1, 1)
    assert isinstance(resnet_d_shortcut(64, 64, 1), nn.Identity)
    assert len(resnet_d_shortcut(64, 256, 1)) == 1  # width change only: no pooling
    block = bottleneck_block(256, 128, 2)
    assert block.first_conv.stride == (1, 1)
    assert block.rest[0][2].kernel_size == (3, 3) and block.rest[0][2].stride == (2, 2)


def _weighted_layers(model):
    shortcut_convs = {id(m) for b in model.modules() if hasattr(b, "shortcut") for m in b.shortcut.modules()}
    return sum(isinstance(m, (nn.Conv2d, nn.Linear)) and id(m) not in shortcut_convs for m in model.modules())


def test_b_and_resnet_dwise50_have_50_weighted_layers():
    with torch.device("meta"):
        assert _weighted_layers(ResNetDwise("B")) == 50
        assert _weighted_layers(ResNetDwise("IRB")) == 50


def test_parameter_counts_follow_paper_003():
    """B ~ ResNet-50; DSC cuts parameters to at most 1/8 (the paper's Sec. 4.3); IRB sits between."""
    with torch.device("meta"):
        counts = {v: count_parameters(build_model(v)) for v in VARIANTS}
    assert counts == {"B": 23_496_257, "DSC": 1_305_537, "IRB": 12_952_257,
                      "tv_resnet50": 23_503_809, "tv_mobilenet_v2": 2_224_577}
    assert abs(counts["B"] / counts["tv_resnet50"] - 1) < 0.01
    assert counts["B"] / counts["DSC"] >= 8
    assert counts["DSC"] < counts["IRB"] < counts["B"]


def test_macs_match_resnet50_and_hand_count():
    conv = nn.Conv2d(1, 8, 3, padding=1, bias=False)
    assert count_macs(conv, 16) == 16 * 16 * 8 * 9
    assert count_macs(build_model("B"), 224) == count_macs(build_model("tv_resnet50"), 224) == 4_008_462_336


@pytest.mark.parametrize("variant", VARIANTS)
def test_tiny_members_regress_one_value_per_image(variant):
    kwargs = {"B": TINY, "DSC": TINY, "IRB": TINY, "tv_resnet50": dict(layers=(1, 1, 1, 1)),
              "tv_mobilenet_v2": dict(width_mult=0.25)}[variant]
    model = build_model(variant, **kwargs).eval()
    assert model(torch.rand(3, 1, 64, 64)).shape == (3,)


def test_width_and_depth_shrink_the_family():
    small, full = build_model("IRB", **TINY), build_model("IRB", layers=(1, 1, 1, 1))
    assert count_parameters(small) < count_parameters(full)
    with pytest.raises(ValueError, match="layers"):
        build_model("IRB", layers=(1, 1, 1))
    with pytest.raises(ValueError, match="unknown variant"):
        build_model("vgg16")


def test_load_weights_keeps_matching_tensors(tmp_path):
    source = build_model("IRB", **TINY)
    path = tmp_path / "w.pt"
    state = {k: v for k, v in source.state_dict().items()}
    state["head.4.weight"] = torch.zeros(5, state["head.4.weight"].shape[1])  # another task's head
    torch.save(state, path)
    target = build_model("IRB", **TINY)
    skipped = load_weights(target, path)
    assert skipped == ["head.4.weight"]
    assert torch.equal(target.stem[0].weight, source.stem[0].weight)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_weights(target, tmp_path / "missing.pt")
    torch.save({"other": torch.zeros(1)}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="none of its 1 tensors"):
        build_model("IRB", **TINY, weights_path=tmp_path / "bad.pt")
