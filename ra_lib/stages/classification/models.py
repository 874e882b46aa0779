"""Paper 001's intact / non-intact joint classifiers: SISO and the three MIMO networks.

All four models are one architecture with a different number of inputs (Fig. 3): a single
feature extractor (the *backbone*) is applied to every input crop, the features of all crops
are concatenated, and a fully connected head gives one logit per input joint.

* SISO: 1 crop -> 1 output.
* MIMO local: the same site on both hands -> 2 outputs.
* MIMO one-hand: the sites of one joint group on one hand -> one output per site.
* MIMO both-hands: the sites of one group on both hands -> one output per site and hand.

Missing inputs (a flagged crop, a patient with one hand imaged) are zero images whose targets are
``NaN``; :func:`masked_bce_sum` leaves them out of the loss.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from ra_lib.cohort.sites import GROUPS, sites_in_group

MODEL_TYPES = ("siso", "mimo_local", "mimo_one_hand", "mimo_both_hands")
MODEL_LABELS = {"siso": "SISO", "mimo_local": "MIMO local", "mimo_one_hand": "MIMO one-hand",
                "mimo_both_hands": "MIMO both-hands"}
BACKBONES = ("vgg16", "small")
INITS = ("he", "random")
GLOBAL_POOLS = ("avg", "avgmax")
#: ImageNet statistics: VGG16 expects RGB normalised this way.
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def n_inputs(model_type: str, n_sites: int) -> int:
    """Number of crops (and outputs) of one sample of ``model_type`` for a group of ``n_sites``."""
    counts = {"siso": 1, "mimo_local": 2, "mimo_one_hand": n_sites, "mimo_both_hands": 2 * n_sites}
    if model_type not in counts:
        raise ValueError(f"unknown model type {model_type!r}; expected one of {MODEL_TYPES}")
    return counts[model_type]


def input_table() -> pd.DataFrame:
    """Per kind and joint group: its sites and the crops per sample (= outputs) of each model."""
    return pd.DataFrame([{"kind": kind, "group": group, "sites": len(sites_in_group(kind, group)),
                          **{MODEL_LABELS[m]: n_inputs(m, len(sites_in_group(kind, group))) for m in MODEL_TYPES}}
                         for kind in GROUPS for group in GROUPS[kind]])


class SmallVGG(nn.Module):
    """A VGG-style net for CPU runs: ``blocks`` of (3x3 conv, 2x2 max-pool, batch norm, ReLU), channels
    doubling from ``width``, then global pooling: ``"avg"``, or ``"avgmax"`` (average and maximum side by
    side: a small erosion is one bright spot of a feature map, which an average over the crop dilutes).

    Batch norm (absent from VGG16) lets it learn from scratch in a few epochs; pooling before batch
    norm and ReLU runs them on a quarter of the pixels (max-pooling commutes with the ReLU).
    """

    def __init__(self, width: int = 8, blocks: int = 3, global_pool: str = "avg"):
        super().__init__()
        if global_pool not in GLOBAL_POOLS:
            raise ValueError(f"unknown global_pool {global_pool!r}; expected one of {GLOBAL_POOLS}")
        layers, channels = [], 1
        for i in range(blocks):
            out = width * 2**i
            layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(out),
                       nn.ReLU(inplace=True)]
            channels = out
        self.features = nn.Sequential(*layers)
        self.global_pool = global_pool
        self.out_features = channels * (2 if global_pool == "avgmax" else 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self.features(x)
        pooled = [maps.mean(dim=(2, 3))]
        if self.global_pool == "avgmax":
            pooled.append(maps.amax(dim=(2, 3)))
        return torch.cat(pooled, dim=1)


class VGG16Features(nn.Module):
    """torchvision VGG16 convolutional part on grey crops (repeated to RGB, ImageNet-normalised).

    ``weights_path``: a local ``.pth`` state dict of ``torchvision.models.vgg16`` (ImageNet
    weights as the paper; its ``features.*`` entries are used, the classifier is replaced by
    :class:`JointClassifier`'s head); ``None`` starts from random weights (nothing is downloaded).
    ``pool``: output size of the adaptive average pool before flattening (7 as torchvision's
    classifier; 1 keeps MIMO heads small).
    """

    def __init__(self, weights_path: str | Path | None = None, pool: int = 7):
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        convs = make_layers(cfgs["D"])  # VGG16's convolutional part, the same modules as vgg16().features
        if weights_path is not None:
            path = Path(weights_path)
            if not path.is_file():
                raise FileNotFoundError(f"VGG16 weights file {path} does not exist")
            state = torch.load(path, map_location="cpu", weights_only=True)
            convs.load_state_dict({k.removeprefix("features."): v for k, v in state.items()
                                   if k.startswith("features.")})
        self.features = nn.Sequential(convs, nn.AdaptiveAvgPool2d(pool), nn.Flatten())
        self.out_features = 512 * pool * pool
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features((x.expand(-1, 3, -1, -1) - self.mean) / self.std)


def build_backbone(name: str, width: int = 8, weights_path: str | Path | None = None,
                   pool: int = 7, global_pool: str = "avg") -> nn.Module:
    """The shared feature extractor: ``"vgg16"`` (paper) or ``"small"`` (quick CPU runs, ``global_pool``)."""
    if name == "vgg16":
        return VGG16Features(weights_path, pool)
    if name == "small":
        return SmallVGG(width, global_pool=global_pool)
    raise ValueError(f"unknown backbone {name!r}; expected one of {BACKBONES}")


def build_head(in_features: int, n: int, fc_layers: int = 1, fc_width: int = 256, dropout: float = 0.5,
               init: str = "he") -> nn.Sequential:
    """The fully connected head: ``fc_layers`` hidden layers of ``fc_width`` units (ReLU, dropout), then one
    linear output per input joint. ``init``: ``"he"`` (He normal) or ``"random"`` (normal, sd 0.05 as Keras'
    ``RandomNormal``)."""
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; expected one of {INITS}")
    layers, width = [], in_features
    for _ in range(fc_layers):
        layers += [nn.Linear(width, fc_width), nn.ReLU(inplace=True), nn.Dropout(dropout)]
        width = fc_width
    layers.append(nn.Linear(width, n))
    head = nn.Sequential(*layers)
    for layer in head:
        if isinstance(layer, nn.Linear):
            if init == "he":
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            else:
                nn.init.normal_(layer.weight, std=0.05)
            nn.init.zeros_(layer.bias)
    return head


class JointClassifier(nn.Module):
    """``n`` crops ``(B, n, H, W)`` -> ``n`` logits ``(B, n)``; one backbone shared by all inputs, the
    features of all crops concatenated into the head (:func:`build_head`, or a given ``head``)."""

    def __init__(self, backbone: nn.Module, n: int, fc_layers: int = 1, fc_width: int = 256,
                 dropout: float = 0.5, init: str = "he", head: nn.Module | None = None):
        super().__init__()
        self.backbone = backbone
        self.n = n
        self.head = head if head is not None else build_head(backbone.out_features * n, n, fc_layers, fc_width,
                                                             dropout, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, n, height, width = x.shape
        if n != self.n:
            raise ValueError(f"model takes {self.n} crops per sample, got {n}")
        features = self.backbone(x.reshape(batch * n, 1, height, width))
        return self.head(features.reshape(batch, -1))


class FeatureClassifier(nn.Module):
    """A :class:`JointClassifier`'s head on precomputed backbone features: ``(B, n, F)`` -> ``(B, n)`` logits."""

    def __init__(self, n: int, n_features: int, fc_layers: int = 1, fc_width: int = 256, dropout: float = 0.5,
                 init: str = "he"):
        super().__init__()
        self.n = n
        self.head = build_head(n_features * n, n, fc_layers, fc_width, dropout, init)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features.reshape(features.shape[0], -1))


def build_model(model_type: str, n_sites: int, backbone: str = "small", width: int = 8,
                weights_path: str | Path | None = None, pool: int = 7, fc_layers: int = 1,
                fc_width: int = 256, dropout: float = 0.5, init: str = "he") -> JointClassifier:
    """One of the four paper-001 models for a joint group of ``n_sites`` sites."""
    return JointClassifier(build_backbone(backbone, width, weights_path, pool),
                           n_inputs(model_type, n_sites), fc_layers, fc_width, dropout, init)


def masked_bce_sum(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy summed over outputs (paper: the MIMO loss), averaged over samples.

    ``NaN`` targets (missing inputs) contribute nothing. For SISO this is plain BCE.
    """
    present = ~torch.isnan(targets)
    losses = F.binary_cross_entropy_with_logits(logits, torch.where(present, targets, 0.0), reduction="none")
    return (losses * present).sum(dim=1).mean()
