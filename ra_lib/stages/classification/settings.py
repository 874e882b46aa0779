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
    (``"small"`` or ``"vgg16"``), ``width`` (small net), ``weights_path`` (local VGG16 ``.pth``),
    ``pool``, ``fc_layers`` x ``fc_width`` head, ``dropout``, ``init``. Training: ``crop_size`` px input,
    ``batch_crops`` crops per batch, Adam ``lr``, at most ``epochs``, early stopping after ``patience``
    epochs, ``train_size`` crops after balancing (``None``: the majority count). ``threshold``: decision
    on the probability. Augmentation (paper 001): rotation up to ``rotation_deg``, shift up to
    ``shift_px`` of a ``shift_reference_px`` input (scaled to the crop), zoom within ``scale_range``.
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

    def __post_init__(self) -> None:
        for name in ("models", "kinds", "groups", "test_folds", "scale_range"):  # papermill passes lists
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(value))
        unknown = sorted(set(self.models) - set(MODEL_TYPES)) + sorted(set(self.kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown model type(s) or kind(s) {unknown}; expected {MODEL_TYPES} and {KINDS}")


_CPU = dict(backbone="small", pool=1, fc_layers=1, batch_crops=64, lr=3e-3, train_size=None)

PROFILES = {
    "smoke": ClassificationSettings(test_folds=(0,), crop_size=24, width=4, fc_width=16, dropout=0.0, epochs=1,
                                    patience=1, **_CPU),
    "quick": ClassificationSettings(test_folds=(0, 1, 2, 3), crop_size=32, width=8, fc_width=32, dropout=0.2,
                                    epochs=6, patience=3, **_CPU),
    "paper": ClassificationSettings(),
}
