"""Settings of stage 2: one frozen :class:`DetectionSettings` for both detectors and the crop store.

Paper 001 labelled 20 radiographs (``n_train``), resized them to 256 x 256 and trained DeepLabCut
(ResNet-50, two models: erosion and JSN joints); paper 002 fine-tuned a COCO Faster R-CNN (ResNet-50
FPN). ``quick`` keeps the 20 labelled hands but uses small, fast backbones from random weights on CPU
(a CSPNeXt-S DeepLabCut over all landmarks at 128 px for 200 epochs, a MobileNet-V3 Faster R-CNN at 256 px)
and refines DeepLabCut's centres on full-resolution patches; ``smoke`` trains each for one epoch on 3 hands.
"""
from __future__ import annotations

from dataclasses import dataclass

#: Which centres the crop store is cut around: a detector's or the labelled (true) ones.
CROP_CENTRES = ("dlc", "dlc_refined", "frcnn", "truth")
#: DeepLabCut model sets: the paper's erosion + JSN models, or one model over all 22 landmarks.
DLC_MODEL_SETS = ("paper", "union")
FRCNN_ARCHS = ("mobilenet_v3", "resnet50")
#: DeepLabCut training augmentations (:data:`ra_lib.stages.detection.dlc.AUGMENTATIONS`).
DLC_AUGMENTATIONS = ("upright", "archive")


@dataclass(frozen=True)
class DetectionSettings:
    """Every knob of stage 2.

    Hands: ``n_train`` labelled hands train both detectors (paper 001: 20 images), ``n_test`` more are
    DeepLabCut's own held-out set. Crop store: ``crop_size`` pixels a side, cut around the
    ``crop_centres``. DeepLabCut (``dlc_*``): square input side, backbone (``cspnext_s`` or the paper's
    ``resnet_50``), model set, epochs, batch, learning rate, its likelihood cut-off ``dlc_p_cutoff``
    (below it a detection is flagged), optional local backbone weights and the training augmentation
    (``upright`` or ``archive``, :data:`ra_lib.stages.detection.dlc.AUGMENTATIONS`). Faster R-CNN
    (``frcnn_*``): backbone, input side, epochs, batch, SGD learning rate, width of the two-layer box
    head (torchvision's default 1024), the box score below which a detection is flagged, optional local
    weights. Synthetic pretraining (``pretrain_*``, :mod:`ra_lib.stages.detection.pretrain`): DeepLabCut first
    learns ``pretrain_epochs`` epochs on ``pretrain_hands`` hands of a cohort generated with the synthetic
    profile ``pretrain_generator``, then fine-tunes on the ``n_train`` labelled hands (0 hands: no pretraining).
    Joint refiner (``refine_*``, :mod:`ra_lib.stages.detection.refine`): patch side in pixels and in proximal
    phalanges, the simulated coarse error (phalanges), patches drawn per labelled joint per epoch, epochs, batch,
    peak learning rate, U-net width, the refinement passes at inference (``refine_epochs=0``: no refiner) and
    the rounds of the hand-shape check after them (:mod:`ra_lib.stages.detection.shape`; 0: none).
    """

    n_train: int
    n_test: int
    crop_size: int
    crop_centres: str
    dlc_image_size: int
    dlc_net_type: str
    dlc_models: str
    dlc_epochs: int
    dlc_batch_size: int
    dlc_lr: float
    frcnn_arch: str
    frcnn_image_size: int
    frcnn_epochs: int
    frcnn_batch_size: int
    frcnn_box_head_width: int
    frcnn_lr: float = 0.01
    dlc_p_cutoff: float = 0.6
    frcnn_score_threshold: float = 0.5
    dlc_weights_path: str | None = None
    frcnn_weights_path: str | None = None
    pretrain_hands: int = 0
    pretrain_epochs: int = 0
    pretrain_generator: str = "quick"
    dlc_augmentation: str = "upright"
    refine_patch_size: int = 64
    refine_field: float = 1.5
    refine_jitter: float = 0.3
    refine_samples: int = 32
    refine_epochs: int = 12
    refine_batch_size: int = 64
    refine_lr: float = 2e-3
    refine_width: int = 16
    refine_steps: int = 2
    refine_shape_rounds: int = 2

    def __post_init__(self) -> None:
        for name, value, known in (("crop_centres", self.crop_centres, CROP_CENTRES),
                                   ("dlc_models", self.dlc_models, DLC_MODEL_SETS),
                                   ("frcnn_arch", self.frcnn_arch, FRCNN_ARCHS),
                                   ("dlc_augmentation", self.dlc_augmentation, DLC_AUGMENTATIONS)):
            if value not in known:
                raise ValueError(f"unknown {name} {value!r}; expected one of {known}")
        for name in ("n_train", "n_test", "crop_size", "dlc_image_size", "dlc_epochs", "dlc_batch_size",
                     "frcnn_image_size", "frcnn_epochs", "frcnn_batch_size", "frcnn_box_head_width",
                     "refine_patch_size", "refine_samples", "refine_batch_size", "refine_width", "refine_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if self.refine_shape_rounds < 0:
            raise ValueError(f"refine_shape_rounds must be >= 0, got {self.refine_shape_rounds!r}")
        if self.refine_epochs < 0 or (self.crop_centres == "dlc_refined" and not self.refine_epochs):
            raise ValueError(f"refine_epochs must be >= 0, and >= 1 for crops at the refined centres; got "
                             f"{self.refine_epochs}")
        if self.pretrain_hands < 0 or (self.pretrain_hands and self.pretrain_epochs < 1):
            raise ValueError(f"pretrain_hands must be >= 0 and, when used, pretrain_epochs >= 1; got "
                             f"{self.pretrain_hands} hands, {self.pretrain_epochs} epochs")


PROFILES = {
    # smoke trains the detectors for one epoch: every detection is flagged, so the crops that feed
    # stages 3-4 are cut at the true joint centres (only in smoke; the page says which centres it used).
    "smoke": DetectionSettings(n_train=3, n_test=1, crop_size=32, crop_centres="truth",
                               dlc_image_size=64, dlc_net_type="cspnext_s", dlc_models="union", dlc_epochs=1,
                               dlc_batch_size=4, dlc_lr=5e-4,
                               frcnn_arch="mobilenet_v3", frcnn_image_size=64, frcnn_epochs=1, frcnn_batch_size=4,
                               frcnn_box_head_width=128, refine_patch_size=32, refine_samples=2, refine_epochs=1,
                               refine_width=8, refine_steps=1),
    "quick": DetectionSettings(n_train=20, n_test=6, crop_size=64, crop_centres="dlc_refined",
                               dlc_image_size=128, dlc_net_type="cspnext_s", dlc_models="union", dlc_epochs=200,
                               dlc_batch_size=4, dlc_lr=1e-3,
                               frcnn_arch="mobilenet_v3", frcnn_image_size=256, frcnn_epochs=30, frcnn_batch_size=4,
                               frcnn_box_head_width=256, refine_samples=12, refine_epochs=8),
    "paper": DetectionSettings(n_train=20, n_test=20, crop_size=224, crop_centres="dlc_refined",
                               dlc_image_size=256, dlc_net_type="resnet_50", dlc_models="paper", dlc_epochs=200,
                               dlc_batch_size=8, dlc_lr=5e-4,
                               frcnn_arch="resnet50", frcnn_image_size=512, frcnn_epochs=30, frcnn_batch_size=4,
                               frcnn_box_head_width=1024, pretrain_hands=1000, pretrain_epochs=50,
                               refine_patch_size=96, refine_samples=64, refine_epochs=30, refine_width=32),
}
