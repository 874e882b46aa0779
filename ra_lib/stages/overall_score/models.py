"""Paper 003's network family for overall SvdH score regression, and its comparison networks.

``ResNetDwise`` is one configurable network; its switches give the ablation of paper 003 (Table 3):

* ``block="B"``: the ResNet-50 bottleneck (1x1 reduce, 3x3, 1x1 expand by 4), stage widths
  256/512/1024/2048 at ``width_mult=1``: the baseline (B).
* ``block="DSC"``: a depthwise-separable block (3x3 depthwise, then 1x1 pointwise) in place of the
  bottleneck, stage widths 64/128/256/512 (the bottleneck widths of ResNet-50).
* ``block="IRB"``: the inverted residual block (1x1 expansion by ``expansion`` = 6, 3x3 depthwise,
  1x1 projection), i.e. the DSC block with an expansion layer in front: ResNet-Dwise50.

Common to all three (the paper's benchmark architecture): the ResNet-50 layout (3, 4, 6, 3 blocks
after a 7x7 stride-2 stem and a 3x3 max pool), full pre-activation (every convolution inside a block
is preceded by batch norm and ReLU; a final BN-ReLU before global average pooling and the fully
connected output), and the ResNet-D down-sampling block: the stride sits on the 3x3 (depthwise)
convolution and the projection shortcut is a 2x2 average pool (stride 2) followed by a 1x1
convolution. Counting depthwise convolutions as layers, B and IRB have 50 weighted layers.

The paper's Table 1 (exact channel widths) did not survive in its text; the widths above are this
book's choice, documented in the stage page. ``layers`` and ``width_mult`` make tiny members of the
same family for the ``smoke`` and ``quick`` profiles.

Comparison networks (paper 003, Table 4): torchvision's ResNet-50 and MobileNetV2, untrained
(``weights=None``), with a one-channel first convolution and one output.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Sequence

import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

FAMILY_BLOCKS = ("B", "DSC", "IRB")
TORCHVISION_VARIANTS = ("tv_resnet50", "tv_mobilenet_v2")
VARIANTS = FAMILY_BLOCKS + TORCHVISION_VARIANTS
#: How the book names each variant (paper 003's Table 3 ablation rows and Table 4 models).
VARIANT_LABELS = {
    "B": "ResNet-50 layout, bottleneck (B)",
    "DSC": "B + depthwise separable (DSC)",
    "IRB": "ResNet-Dwise50 (B + DSC + IRB)",
    "tv_resnet50": "ResNet-50 (torchvision)",
    "tv_mobilenet_v2": "MobileNetV2 (torchvision)",
}
RESNET50_LAYERS = (3, 4, 6, 3)
BASE_WIDTHS = (64, 128, 256, 512)
BOTTLENECK_EXPANSION = 4


def scaled_width(channels: int, width_mult: float) -> int:
    """``channels * width_mult`` rounded to a multiple of 8 (at least 8), as MobileNet does."""
    if width_mult <= 0:
        raise ValueError(f"width_mult must be positive, got {width_mult!r}")
    return max(8, int(round(channels * width_mult / 8)) * 8)


class PreActConv(nn.Sequential):
    """Batch norm, ReLU, then a bias-free convolution (one full pre-activation unit)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, stride: int = 1,
                 groups: int = 1):
        super().__init__(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2,
                      groups=groups, bias=False),
        )


def resnet_d_shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """ResNet-D projection: 2x2 average pool (when down-sampling), then a 1x1 convolution.

    ``nn.Identity`` when neither the resolution nor the width changes.
    """
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    layers: list[nn.Module] = []
    if stride != 1:
        layers.append(nn.AvgPool2d(kernel_size=stride, stride=stride, ceil_mode=True, count_include_pad=False))
    layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False))
    return nn.Sequential(*layers)


class PreActResidualBlock(nn.Module):
    """``x + F(x)`` where ``F`` is a stack of :class:`PreActConv` units.

    The first unit's batch norm and ReLU are shared with a projection shortcut (as in the
    pre-activation ResNet), so the shortcut sees the normalised input.
    """

    def __init__(self, units: Sequence[PreActConv], shortcut: nn.Module):
        super().__init__()
        first, *rest = units
        self.pre_bn, self.pre_relu, self.first_conv = first[0], first[1], first[2]
        self.rest = nn.Sequential(*rest)
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.pre_relu(self.pre_bn(x))
        skip = x if isinstance(self.shortcut, nn.Identity) else self.shortcut(pre)
        return self.rest(self.first_conv(pre)) + skip


def bottleneck_block(in_channels: int, width: int, stride: int) -> PreActResidualBlock:
    """B: 1x1 (to ``width``), 3x3 with the stride (ResNet-B/D placement), 1x1 (to ``4 * width``)."""
    out = width * BOTTLENECK_EXPANSION
    units = [PreActConv(in_channels, width, 1), PreActConv(width, width, 3, stride), PreActConv(width, out, 1)]
    return PreActResidualBlock(units, resnet_d_shortcut(in_channels, out, stride))


def separable_block(in_channels: int, width: int, stride: int) -> PreActResidualBlock:
    """DSC: 3x3 depthwise with the stride, then 1x1 pointwise to ``width``."""
    units = [PreActConv(in_channels, in_channels, 3, stride, groups=in_channels), PreActConv(in_channels, width, 1)]
    return PreActResidualBlock(units, resnet_d_shortcut(in_channels, width, stride))


def inverted_residual_block(in_channels: int, width: int, stride: int, expansion: int = 6) -> PreActResidualBlock:
    """IRB: 1x1 expansion to ``expansion * in_channels``, 3x3 depthwise with the stride, 1x1 projection."""
    hidden = in_channels * expansion
    units = [PreActConv(in_channels, hidden, 1), PreActConv(hidden, hidden, 3, stride, groups=hidden),
             PreActConv(hidden, width, 1)]
    return PreActResidualBlock(units, resnet_d_shortcut(in_channels, width, stride))


class ResNetDwise(nn.Module):
    """Paper 003's family: pre-activation ResNet-D with B, DSC or IRB blocks, regressing one score."""

    def __init__(self, block: str = "IRB", layers: Sequence[int] = RESNET50_LAYERS, width_mult: float = 1.0,
                 expansion: int = 6, in_channels: int = 1, num_outputs: int = 1):
        super().__init__()
        if block not in FAMILY_BLOCKS:
            raise ValueError(f"unknown block {block!r}; expected one of {FAMILY_BLOCKS}")
        if len(layers) != len(BASE_WIDTHS) or any(int(n) < 1 for n in layers):
            raise ValueError(f"layers must be {len(BASE_WIDTHS)} positive block counts, got {tuple(layers)}")
        self.block, self.layers = block, tuple(int(n) for n in layers)
        self.width_mult, self.expansion = width_mult, expansion
        widths = [scaled_width(w, width_mult) for w in BASE_WIDTHS]
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        channels = widths[0]
        stages = []
        for index, (count, width) in enumerate(zip(self.layers, widths)):
            blocks = []
            for position in range(count):
                stride = 2 if (index > 0 and position == 0) else 1
                blocks.append(self._block(channels, width, stride))
                channels = width * BOTTLENECK_EXPANSION if block == "B" else width
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1),
                                  nn.Flatten(), nn.Linear(channels, num_outputs))
        self.feature_channels = channels
        _he_init(self)

    def _block(self, in_channels: int, width: int, stride: int) -> PreActResidualBlock:
        if self.block == "B":
            return bottleneck_block(in_channels, width, stride)
        if self.block == "DSC":
            return separable_block(in_channels, width, stride)
        return inverted_residual_block(in_channels, width, stride, self.expansion)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x))).squeeze(-1)


def _he_init(model: nn.Module) -> None:
    """He (Kaiming) normal initialisation of convolutions, unit batch norms (paper 003 cites He et al.)."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.01)
            nn.init.zeros_(module.bias)


class _SqueezeOutput(nn.Module):
    """Wrap a torchvision network so that it returns shape ``(batch,)`` like :class:`ResNetDwise`."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


def _one_channel_conv(conv: nn.Conv2d, in_channels: int) -> nn.Conv2d:
    new = nn.Conv2d(in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=False)
    nn.init.kaiming_normal_(new.weight, mode="fan_out", nonlinearity="relu")
    return new


def torchvision_resnet50(layers: Sequence[int] = RESNET50_LAYERS, in_channels: int = 1) -> nn.Module:
    """torchvision's ResNet-50 (untrained), one input channel, one output; ``layers`` for a tiny member."""
    net = torchvision.models.resnet.ResNet(torchvision.models.resnet.Bottleneck, list(layers), num_classes=1)
    net.conv1 = _one_channel_conv(net.conv1, in_channels)
    return _SqueezeOutput(net)


def torchvision_mobilenet_v2(width_mult: float = 1.0, in_channels: int = 1) -> nn.Module:
    """torchvision's MobileNetV2 (untrained), one input channel, one output."""
    net = torchvision.models.mobilenet_v2(weights=None, num_classes=1, width_mult=width_mult)
    net.features[0][0] = _one_channel_conv(net.features[0][0], in_channels)
    return _SqueezeOutput(net)


def build_model(variant: str, layers: Sequence[int] | None = None, width_mult: float = 1.0, expansion: int = 6,
                in_channels: int = 1, weights_path: str | Path | None = None) -> nn.Module:
    """One network of the stage by variant name (see :data:`VARIANTS`).

    ``layers`` (blocks per stage) applies to the family and to ``tv_resnet50``; ``width_mult`` to the
    family and to ``tv_mobilenet_v2``. ``weights_path`` optionally loads a local state dict
    (see :func:`load_weights`); nothing is ever downloaded.
    """
    if variant in FAMILY_BLOCKS:
        model = ResNetDwise(variant, layers or RESNET50_LAYERS, width_mult, expansion, in_channels)
    elif variant == "tv_resnet50":
        model = torchvision_resnet50(layers or RESNET50_LAYERS, in_channels)
    elif variant == "tv_mobilenet_v2":
        model = torchvision_mobilenet_v2(width_mult, in_channels)
    else:
        raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
    if weights_path is not None:
        load_weights(model, weights_path)
    return model


def load_weights(model: nn.Module, path: str | Path) -> list[str]:
    """Load a local state dict into ``model``, keeping every tensor whose name and shape match.

    Tensors that do not fit (typically the output layer of a network pre-trained for another task)
    are skipped and returned. Raises ``FileNotFoundError`` for a missing file and ``ValueError``
    when not a single tensor fits.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not usable:
        raise ValueError(f"{path}: none of its {len(state)} tensors matches the model's names and shapes")
    model.load_state_dict(usable, strict=False)
    return sorted(set(state) - set(usable))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_macs(model: nn.Module, input_size: int, in_channels: int = 1) -> int:
    """Multiply-adds of one forward pass on a square image (``FlopCounterMode`` FLOPs / 2).

    Counted on a meta-device copy, so even 1024-pixel inputs cost no compute. Convolutions and the
    linear layer are counted; batch norm, ReLU and pooling are not (the usual MAdds convention).
    """
    meta = copy.deepcopy(model).to("meta").eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        meta(torch.empty(1, in_channels, input_size, input_size, device="meta"))
    return counter.get_total_flops() // 2
