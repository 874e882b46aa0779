"""Grey-crop networks of stage 4: a tiny CPU network and paper 002's EfficientNet."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ra_lib.stages.grading.settings import ARCHS


class TinyNet(nn.Module):
    """A small CPU network: four 3x3 conv / batch-norm / ReLU layers (three max-pools), global
    average pooling, dropout and one linear layer."""

    def __init__(self, num_outputs: int, width: int = 16):
        super().__init__()
        layers, channels = [], 1
        for i, out in enumerate((width, 2 * width, 4 * width, 4 * width)):
            layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            if i < 3:
                layers.append(nn.MaxPool2d(2))
            channels = out
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(channels, num_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def efficientnet(arch: str, num_outputs: int, weights_path: str | Path | None = None) -> nn.Module:
    """torchvision EfficientNet on one grey channel, from random weights or a local ImageNet state dict
    (its first convolution is summed over the RGB channels)."""
    from torchvision import models

    net = getattr(models, arch)(weights=None)
    if weights_path is not None:
        path = Path(weights_path)
        if not path.is_file():
            raise FileNotFoundError(f"{arch} weights file {path} does not exist")
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    stem = net.features[0][0]
    grey = nn.Conv2d(1, stem.out_channels, stem.kernel_size, stem.stride, stem.padding, bias=False)
    with torch.no_grad():
        grey.weight.copy_(stem.weight.sum(dim=1, keepdim=True))
    net.features[0][0] = grey
    net.classifier[-1] = nn.Linear(net.classifier[-1].in_features, num_outputs)
    return net


def build_model(arch: str, num_outputs: int, width: int = 16, weights_path: str | Path | None = None) -> nn.Module:
    """A grey-crop network with ``num_outputs`` outputs: ``tiny`` or a torchvision EfficientNet."""
    if arch == "tiny":
        if weights_path is not None:
            raise ValueError("weights_path applies to EfficientNet only, not the tiny network")
        return TinyNet(num_outputs, width)
    if arch in ("efficientnet_b0", "efficientnet_b4"):
        return efficientnet(arch, num_outputs, weights_path)
    raise ValueError(f"unknown arch {arch!r}; expected one of {ARCHS}")
