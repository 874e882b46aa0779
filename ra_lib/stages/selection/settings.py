"""Settings of stage 1: one frozen :class:`SelectionSettings` (with its :class:`AugmentRanges`) and its profiles.

Choices paper 000 leaves open: optimiser Adam with learning rate 1e-4 and batch size 32 (Keras'
default batch); dropout 0.25 after the second pooling layer and 0.5 after FC 512 (the Keras example
network the architecture follows); early stopping on validation loss. Its Table 1 names the
augmentation families but not their ranges, so :class:`AugmentRanges` holds stand-in values.

``smoke``: seconds; ``quick``: about a minute of 2 CPU cores (input 64 px, few epochs, a higher
learning rate and 15 % of Table 2's augmented counts, yet it still converges); ``paper``: the paper's
252 px input and Table 2's counts.

Not in paper 000: ``equalize`` equalises each resized image's histogram before the networks see it
(:func:`~ra_lib.stages.selection.data.network_input`). Archives display radiographs through different
windows (the background black or grey, bones bright or washed out), and networks trained on one cohort's
display called real hands shown another way "other": 13 to 21 of the 98 real samples of
``bench/transfer.py``. Equalised, brightness no longer tells a foot from a hand; ``quick`` sees them at
64 px (at 32 px a toe and a finger look alike and most synthetic feet were taken for one hand).

The orientation model (``orientation_*``, :mod:`~ra_lib.stages.selection.orientation_model`) is not in
paper 000: a small CNN on the hand images padded to a square, trained on their 8 exact quarter-turn and
mirror variants plus ``orientation_copies`` warped copies of each variant (the ``augment`` ranges
without flips, which would change the thumb side). On the quick synthetic cohort the whole stage,
orientation model included, runs in about two minutes of one CPU thread.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ra_lib.cohort.folds import HELD_OUT_FOLD
from ra_lib.evaluation.published import SELECTION_RESULTS, SELECTION_TRAIN_IMAGES

#: Paper 000's split: 206 test images of 1,047 (the other 841 train).
PAPER_TEST_FRACTION = SELECTION_RESULTS["n_test"] / (SELECTION_RESULTS["n_test"] + SELECTION_TRAIN_IMAGES)


@dataclass(frozen=True)
class AugmentRanges:
    """Ranges of the Table 1 families; each draw is uniform in ``[-r, r]`` (zoom: ``[1-r, 1+r]``)."""

    rotation_deg: float = 15.0
    zoom: float = 0.1
    shift: float = 0.1  # fraction of the image side, horizontally and vertically
    shear_deg: float = 5.0
    channel_shift: float = 0.1  # intensity offset on the [0, 1] scale
    horizontal_flip: bool = True
    vertical_flip: bool = False

    def __post_init__(self) -> None:
        for name in ("rotation_deg", "zoom", "shift", "shear_deg", "channel_shift"):
            if getattr(self, name) < 0:
                raise ValueError(f"augmentation range {name} must be >= 0, got {getattr(self, name)!r}")
        if self.zoom >= 1:
            raise ValueError(f"zoom range must be below 1 (a zoom factor of 1 - zoom > 0), got {self.zoom!r}")


@dataclass(frozen=True)
class SelectionSettings:
    """Every knob of stage 1.

    ``input_size``: side of the square network input (paper: 252). ``augment_scale``: fraction of
    Table 2's augmented counts, scaled to this cohort's training images. ``threshold``: the fusion
    rule's cut-off on both binary models' probabilities. ``equalize``: histogram-equalise each input
    (module docstring). ``test_fraction`` / ``val_fraction``: the
    paper's split (206 of 1,047 images for testing, 20 % of the rest for validation), turned into a
    number of the cohort's patient folds; ``test_fold``: the first test fold (see
    :func:`ra_lib.stages.selection.data.fold_roles`). ``orientation_input_size``, ``orientation_width``
    (channels of the first of four convolution blocks), ``orientation_epochs``, ``orientation_patience``,
    ``orientation_lr``, ``orientation_batch_size`` and ``orientation_copies``: the orientation model's.
    """

    input_size: int
    epochs: int
    patience: int | None
    augment_scale: float
    lr: float = 1e-4
    batch_size: int = 32
    dropout_conv: float = 0.25
    dropout_fc: float = 0.5
    threshold: float = 0.5
    equalize: bool = True
    test_fraction: float = PAPER_TEST_FRACTION
    val_fraction: float = 0.2
    test_fold: int = HELD_OUT_FOLD
    augment: AugmentRanges = field(default_factory=AugmentRanges)
    orientation_input_size: int = 64
    orientation_width: int = 16
    orientation_epochs: int = 8
    orientation_patience: int | None = 3
    orientation_lr: float = 2e-3
    orientation_batch_size: int = 64
    orientation_copies: int = 3

    def __post_init__(self) -> None:
        for name in ("input_size", "epochs", "batch_size", "orientation_width", "orientation_epochs",
                     "orientation_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        for name in ("test_fraction", "val_fraction"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name} must lie strictly between 0 and 1, got {getattr(self, name)!r}")
        if self.orientation_input_size < 16:
            raise ValueError(f"orientation_input_size must be at least 16, got {self.orientation_input_size!r}")
        if self.orientation_copies < 0:
            raise ValueError(f"orientation_copies must be >= 0, got {self.orientation_copies!r}")
        if self.augment_scale < 0:
            raise ValueError(f"augment_scale must be >= 0, got {self.augment_scale!r}")


PROFILES = {
    "smoke": SelectionSettings(input_size=32, epochs=1, patience=None, augment_scale=0.15,
                               orientation_input_size=32, orientation_width=8, orientation_epochs=1,
                               orientation_patience=None, orientation_copies=0),
    "quick": SelectionSettings(input_size=64, epochs=4, patience=2, augment_scale=0.15, lr=5e-4),
    "paper": SelectionSettings(input_size=252, epochs=50, patience=10, augment_scale=1.0,
                               orientation_input_size=128, orientation_width=32, orientation_epochs=40,
                               orientation_patience=8, orientation_lr=1e-3, orientation_copies=3),
}
