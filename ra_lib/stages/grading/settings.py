"""Settings of stage 4: one frozen :class:`GradingSettings` for grading and CDF regression, and its profiles.

Grading follows paper 002 (SGD, momentum 0.9, L2 1e-3 for JSN and 5e-3 for erosion); the CDF
regressions (eroded-surface percent and grades) follow paper 004 (Adam, lr 1e-3). Every network keeps
the weights of its best validation epoch and stops after ``patience`` epochs without improvement (paper
004 stopped its models early). ``quick`` replaces EfficientNet-B4 at 224 px by the tiny network
(``width`` 8) at 40 px and raises the SGD learning rate to 0.01, so that at most 12 CPU epochs learn;
``paper`` uses paper 002's network and input size and paper 004's 25 epochs and batch of 100.
"""
from __future__ import annotations

from dataclasses import dataclass

from ra_lib.cohort.folds import HELD_OUT_FOLD

PLAIN, OVERSAMPLE, CLASS_WEIGHTS = "plain", "oversample_aug", "class_weights"
#: Paper 004's imbalance remedies (a), (b), (c).
METHODS = (PLAIN, OVERSAMPLE, CLASS_WEIGHTS)
MAJORITY = "majority_baseline"
#: The remedy whose networks grade new radiographs (its model bundle) and whose grades stage 5 sums: paper
#: 004's (b). Without a remedy (plain) the graders nearly always give the majority grade of a rare-damage
#: kind (erosion), so their sums underestimate every damaged hand.
MAIN_METHOD = OVERSAMPLE
METHOD_LABELS = {PLAIN: "(a) plain", OVERSAMPLE: "(b) oversampling + augmentation",
                 CLASS_WEIGHTS: "(c) class weights", MAJORITY: "majority grade"}
#: Paper 004's eroded-surface regressions: the 101-sigmoid CDF head (CRPS) and one output (MSE).
CDF, ONE_OUTPUT = "cdf", "one_output"
REGRESSION_METHODS = (CDF, ONE_OUTPUT)
#: The CDF head on the grades (a distribution over 0..max grade, CRPS loss), per kind.
CDF_GRADES = "cdf_grades"
#: The grade distributions whose expected grades add up to a hand's score (stage 5's ``joint_sum``, the sums of
#: new radiographs), by preference: the CDF head on the grades, else the plain classifier. Both are trained
#: with a proper scoring rule (the CRPS, the cross-entropy) on the grades as they occur, so their expected
#: grades are unbiased; the remedies reweight the grades, which helps the per-joint grade of a rare class but
#: makes every joint look more damaged, so their sums overstate the score.
SUM_METHODS = (CDF_GRADES, PLAIN)
ARCHS = ("tiny", "efficientnet_b0", "efficientnet_b4")


def sum_method(methods) -> str | None:
    """The first of :data:`SUM_METHODS` among ``methods`` (``None``: neither)."""
    return next((method for method in SUM_METHODS if method in methods), None)


@dataclass(frozen=True)
class GradingSettings:
    """Every knob of stage 4.

    ``epochs`` / ``lr``: the grading classifiers (SGD); ``regression_epochs`` / ``regression_lr``: every
    CDF head and the one-output regression (Adam). ``max_rotation_deg``, ``max_shear_rad``,
    ``max_zoom``: paper 004 (b)'s augmentation ranges. ``test_fold``: the cohort fold that tests (the
    next one validates). ``grade_cdf``: also fit the CDF head on the grades of each kind. ``threads``:
    torch CPU threads while training and predicting (``None``: torch's setting); small networks on a busy
    2-core machine run many times slower with 2 threads than with 1. ``weights_path``: local ImageNet
    weights of the EfficientNet (paper 002 fine-tuned them).
    """

    arch: str
    width: int
    crop_size: int
    epochs: int
    regression_epochs: int
    batch_size: int
    lr: float
    patience: int | None
    threads: int | None
    momentum: float = 0.9
    weight_decay_jsn: float = 1e-3
    weight_decay_erosion: float = 5e-3
    regression_lr: float = 1e-3
    max_rotation_deg: float = 25.0
    max_shear_rad: float = 0.1
    max_zoom: float = 0.1
    test_fold: int = HELD_OUT_FOLD
    methods: tuple[str, ...] = METHODS
    regression_methods: tuple[str, ...] = REGRESSION_METHODS
    grade_cdf: bool = True
    weights_path: str | None = None

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"unknown arch {self.arch!r}; expected one of {ARCHS}")
        for name, chosen, known in (("methods", self.methods, METHODS),
                                    ("regression_methods", self.regression_methods, REGRESSION_METHODS)):
            unknown = sorted(set(chosen) - set(known))
            if unknown:
                raise ValueError(f"unknown {name} {unknown}; expected some of {known}")
        for name in ("width", "crop_size", "epochs", "regression_epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")


PROFILES = {
    "smoke": GradingSettings(arch="tiny", width=8, crop_size=24, epochs=1, regression_epochs=1, batch_size=64,
                             lr=0.01, patience=None, threads=1),
    "quick": GradingSettings(arch="tiny", width=8, crop_size=40, epochs=12, regression_epochs=12, batch_size=64,
                             lr=0.01, patience=4, threads=1),
    "paper": GradingSettings(arch="efficientnet_b4", width=8, crop_size=224, epochs=25, regression_epochs=25,
                             batch_size=100, lr=1e-3, patience=5, threads=None),
}
