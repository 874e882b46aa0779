"""Stage 5's settings: one frozen dataclass and its ``smoke`` / ``quick`` / ``paper`` profiles."""
from __future__ import annotations

from dataclasses import dataclass

from ra_lib.cohort.folds import HELD_OUT_FOLD
from ra_lib.cohort.sites import MAX_HAND_SCORE
from ra_lib.stages.overall_score.models import RESNET50_LAYERS, VARIANTS

#: The id column of each prediction unit.
UNITS = {"hand": "hand_id", "image": "image_id"}
#: Highest overall score of one unit (a hand: 140; a bilateral image: 280).
MAX_SCORE = {"hand": MAX_HAND_SCORE // 2, "image": MAX_HAND_SCORE}
PAPER_INPUT_SIZE = 1024
#: Evaluation batches (no gradients); small enough for 1024-px inputs on a CPU.
EVAL_BATCH_SIZE = 8
#: The paper's model (ResNet-Dwise50); the verdict against the baseline and the loss comparison use it.
MAIN_VARIANT = "IRB"
#: Fewest test patients for which the stage judges a model against the baseline (patient bootstrap).
MIN_TEST_PATIENTS = 5
#: Patient-bootstrap resamples of the main model's MAE difference to the baseline.
N_BOOT = 2000


@dataclass(frozen=True)
class OverallScoreSettings:
    """Every knob of stage 5 (paper 003 Sec. 4.1 for the optimiser).

    ``unit``: ``"hand"`` (0-140 per hand) or ``"image"`` (0-280 per both-hands radiograph, the paper's).
    ``variants``: the networks trained (see :data:`~ra_lib.stages.overall_score.models.VARIANTS`).
    ``layers`` / ``width_mult``: blocks per stage and width of the B / DSC / IRB family; ``tv_layers``
    (torchvision ResNet-50) and ``tv_width_mult`` (torchvision MobileNetV2) likewise.
    ``loss_delta`` / ``loss_alpha``: :class:`~ra_lib.stages.overall_score.train.SmoothLoss` (alpha
    ``None``: smooth-L1). ``compare_delta``: a second threshold the main model is trained with (``None``
    or 0: skipped). ``patience``: early-stopping epochs (``None``: every epoch). ``weights_path``: an
    optional local state dict to start from (nothing is downloaded).
    """

    input_size: int
    epochs: int
    patience: int | None
    variants: tuple[str, ...]
    layers: tuple[int, ...]
    width_mult: float
    tv_layers: tuple[int, ...]
    tv_width_mult: float
    compare_delta: float | None = 0.25
    unit: str = "hand"
    batch_size: int = 4
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 1e-3
    expansion: int = 6
    loss_delta: float = 1.0
    loss_alpha: float | None = None
    test_fold: int = HELD_OUT_FOLD
    weights_path: str | None = None

    def __post_init__(self) -> None:
        for name in ("variants", "layers", "tv_layers"):  # papermill passes YAML lists
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.unit not in UNITS:
            raise ValueError(f"unknown unit {self.unit!r}; expected one of {tuple(UNITS)}")
        unknown = sorted(set(self.variants) - set(VARIANTS))
        if unknown:
            raise ValueError(f"unknown variant(s) {unknown}; expected some of {VARIANTS}")


PROFILES = {
    "smoke": OverallScoreSettings(input_size=48, epochs=1, patience=None, variants=("IRB", "DSC"),
                                  layers=(1, 1, 1, 1), width_mult=0.25, tv_layers=(1, 1, 1, 1), tv_width_mult=0.25,
                                  compare_delta=None),
    # quick leaves out torchvision's ResNet-50: even at one block per stage it costs ~8x the time of the
    # others on a CPU; the family's B member has the same layout (and the same size at full scale).
    "quick": OverallScoreSettings(input_size=128, epochs=10, patience=None,
                                  variants=("IRB", "DSC", "B", "tv_mobilenet_v2"), layers=(1, 1, 1, 1),
                                  width_mult=0.25, tv_layers=(1, 1, 1, 1), tv_width_mult=0.25),
    "paper": OverallScoreSettings(input_size=PAPER_INPUT_SIZE, epochs=100, patience=10,
                                  variants=("IRB", "DSC", "B", "tv_mobilenet_v2", "tv_resnet50"),
                                  layers=RESNET50_LAYERS, width_mult=1.0, tv_layers=RESNET50_LAYERS,
                                  tv_width_mult=1.0),
}
