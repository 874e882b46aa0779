"""Settings of stage 3 (paper 001's joint classifiers) and the ``smoke`` / ``quick`` / ``paper`` profiles."""
from __future__ import annotations

from dataclasses import dataclass

from ra_lib.cohort.sites import KINDS
from ra_lib.stages.classification.models import MODEL_TYPES


@dataclass(frozen=True)
class ClassificationSettings:
    """Every knob of the cross-validation of the four models.

    ``models`` / ``kinds`` / ``groups``: what is trained (``groups=None``: every group of each kind).
    ``test_folds``: folds predicted (``None``: all, full out-of-fold coverage). Network: ``backbone``
    (``"small"`` or ``"vgg16"``), ``width`` and ``global_pool`` (small net), ``weights_path`` (local VGG16
    ``.pth``), ``pool`` (VGG16), ``fc_layers`` x ``fc_width`` head, ``dropout``, ``init``. Training:
    ``crop_size`` px input,
    ``batch_crops`` crops per batch, Adam ``lr``, at most ``epochs``, early stopping after ``patience``
    epochs, ``train_size`` crops after balancing (``None``: the majority count). ``threshold``: decision
    on the probability. Augmentation (paper 001): rotation up to ``rotation_deg``, shift up to
    ``shift_px`` of a ``shift_reference_px`` input (scaled to the crop), zoom within ``scale_range``.
    ``shared_encoder`` (:mod:`.encoder`): one backbone per kind and test fold, trained with the settings
    above on every joint of the kind, then frozen; each model's head trains on its features of the crops and
    ``feature_views`` augmented copies, for at most ``head_epochs`` epochs, Adam ``head_lr``, batches of
    ``head_batch_crops`` crops. ``False``: every model trains end to end, as the paper.
    """

    models: tuple[str, ...] = MODEL_TYPES
    kinds: tuple[str, ...] = KINDS
    groups: tuple[str, ...] | None = None
    test_folds: tuple[int, ...] | None = None
    crop_size: int = 224
    backbone: str = "vgg16"
    width: int = 8
    weights_path: str | None = None
    pool: int = 7
    global_pool: str = "avg"
    fc_layers: int = 2
    fc_width: int = 256
    dropout: float = 0.5
    init: str = "he"
    batch_crops: int = 32
    lr: float = 1e-4
    epochs: int = 100
    patience: int = 10
    train_size: int | None = 10_000
    threshold: float = 0.5
    rotation_deg: float = 3.0
    shift_px: float = 5.0
    shift_reference_px: int = 224
    scale_range: tuple[float, float] = (0.97, 1.03)
    shared_encoder: bool = False
    feature_views: int = 4
    head_epochs: int = 40
    head_lr: float = 1e-3
    head_batch_crops: int = 1024

    def __post_init__(self) -> None:
        for name in ("models", "kinds", "groups", "test_folds", "scale_range"):  # papermill passes lists
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(value))
        unknown = sorted(set(self.models) - set(MODEL_TYPES)) + sorted(set(self.kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown model type(s) or kind(s) {unknown}; expected {MODEL_TYPES} and {KINDS}")

    def describe(self) -> str:
        """Markdown: how these settings train the models (network, crops, epochs, shared encoder, folds)."""
        network = ("VGG16" + (" from the given ImageNet weights" if self.weights_path else " from random weights")
                   if self.backbone == "vgg16" else
                   f"a small VGG-style network (three $3 \\times 3$ convolution blocks with batch normalisation, "
                   f"{self.width} channels in the first) from scratch")
        text = [f"The networks are {network}, on {self.crop_size}-pixel crops, for at most {self.epochs} epochs "
                f"(early stopping after {self.patience})."]
        if self.shared_encoder:
            text.append(
                "To make such crops affordable on a CPU, the convolutional part is trained once per kind and test "
                "fold instead of once per joint group and model: one SISO network learns intact vs non-intact on "
                "every joint of the kind in the training folds; its backbone is then frozen, encodes every crop "
                f"(as stored and in {self.feature_views} augmented copies), and each model's fully connected head "
                f"is trained on those features for at most {self.head_epochs} epochs. The four models thus differ "
                "only in their heads, as in the paper's Fig. 3; the test fold is seen by neither part.")
        else:
            text.append("Every model is trained end to end, backbone and head, as in the paper.")
        if self.test_folds is not None:
            text.append(f"Only the test folds {', '.join(map(str, self.test_folds))} are predicted: the tables below "
                        "cover those folds' patients, not the whole cohort.")
        return " ".join(text)


_CPU = dict(backbone="small", pool=1, fc_layers=1, batch_crops=64, lr=3e-3, train_size=None, shared_encoder=True)

PROFILES = {
    "smoke": ClassificationSettings(test_folds=(0,), crop_size=24, width=4, fc_width=16, dropout=0.0, epochs=1,
                                    patience=1, **_CPU),
    # quick: 48-pixel crops and the max beside the average pool gave the best PR-AUC of the shared encoder
    # (bench/classification.py on the quick cohort's crops at the true centres; 32 px: erosion far weaker).
    "quick": ClassificationSettings(test_folds=(0, 1, 2, 3), crop_size=48, width=8, global_pool="avgmax",
                                    fc_width=32, dropout=0.2, epochs=10, patience=4, **_CPU),
    "paper": ClassificationSettings(),
}
