"""Paper 000's selection CNN (Fig. 2): input side a parameter, the flattened size derived from it.

One grey input channel: no layer size in Fig. 2 depends on it (the paper's "187,500 input neurons"
= 250 x 250 x 3 hints at three replicated channels).
"""
from __future__ import annotations

import pandas as pd
import torch
from torch import nn

#: Neurons of each conv, pool and FC layer at the paper's 252 x 252 input, as printed in Fig. 2.
FIG2_NEURONS = (2_000_000, 3_936_256, 984_064, 1_968_128, 1_905_152, 476_288, 512, 2)
PAPER_INPUT_SIZE = 252


def feature_side(input_size: int) -> int:
    """Side of the last pooled feature map: 61 for the paper's 252."""
    side = ((input_size - 4) // 2 - 2) // 2
    if side < 1:
        raise ValueError(f"input_size {input_size} is too small for the selection CNN (at least 10)")
    return side


def flat_features(input_size: int) -> int:
    """Neurons after the second pooling layer: 128 x 61 x 61 = 476,288 at 252."""
    return 128 * feature_side(input_size) ** 2


class SelectionCNN(nn.Module):
    """Paper 000 Fig. 2: conv32 / conv64 / pool / conv128 (same) / conv128 / pool / FC512 / FC out.

    All 3x3 convolutions have stride 1 and ReLU; pooling is 2x2 max with stride 2; weights are
    Glorot-uniform, biases zero (Keras' defaults). ``forward`` returns logits.
    """

    def __init__(self, input_size: int = PAPER_INPUT_SIZE, n_classes: int = 2, in_channels: int = 1,
                 dropout_conv: float = 0.25, dropout_fc: float = 0.5):
        super().__init__()
        self.input_size = input_size
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3), nn.ReLU(),
            nn.Conv2d(32, 64, 3), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(),
            nn.Conv2d(128, 128, 3), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Dropout(dropout_conv),
            nn.Flatten(),
        )
        self.classifier = nn.Sequential(
            nn.Linear(flat_features(input_size), 512), nn.ReLU(), nn.Dropout(dropout_fc),
            nn.Linear(512, n_classes),
        )
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def layer_shapes(model: SelectionCNN) -> pd.DataFrame:
    """Output shape (C, H, W or units) and neuron count of each conv, pool and FC layer (Fig. 2).

    Runs one zero image on the model's device; a model built under ``torch.device("meta")``
    gives the shapes of the full-size network without allocating it.
    """
    rows = []
    hooks = [module.register_forward_hook(
        lambda m, _inp, out, name=name: rows.append({"layer": name, "type": type(m).__name__,
                                                     "shape": tuple(out.shape[1:]), "neurons": out[0].numel()}))
        for name, module in model.named_modules() if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.Linear))]
    first = model.features[0]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, first.in_channels, model.input_size, model.input_size,
                                     device=first.weight.device))
    finally:
        for hook in hooks:
            hook.remove()
    return pd.DataFrame(rows)


def paper_layer_table() -> pd.DataFrame:
    """:func:`layer_shapes` of the network at the paper's input, beside the neuron counts of Fig. 2."""
    with torch.device("meta"):
        paper_net = SelectionCNN(PAPER_INPUT_SIZE)
    return layer_shapes(paper_net).assign(**{"paper (Fig. 2)": list(FIG2_NEURONS)})
