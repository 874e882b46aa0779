"""Stage 2, paper 002's detector: Faster R-CNN with one class per landmark.

Paper 002 (Nguyen-Ba et al., RA2 DREAM) fine-tuned a COCO Faster R-CNN to box every scored joint,
kept the highest-scoring box of each joint ("we only selected the maximum objectness score") and
reported AP at IoU 0.5. Here torchvision's ``fasterrcnn_mobilenet_v3_large_fpn`` or
``fasterrcnn_resnet50_fpn`` is built with ``weights=None, weights_backbone=None`` (nothing can be
downloaded; a local state dict may be given), on the same hand inputs as DeepLabCut (square, left
hands mirrored). Ground-truth boxes are paper 001's evaluation boxes around each labelled centre,
scaled by the hand's proximal-phalanx length (:func:`ra_lib.stages.detection.boxes.truth_boxes`); the
anchors are resized to those boxes, as the inputs are far smaller than COCO's. The detected point
of a joint is the centre of its best box, so both detectors share paper 001's detection-rate table.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from ra_lib.core import training
from ra_lib.stages.detection.inputs import predictions_to_table
from ra_lib.stages.detection.settings import FRCNN_ARCHS

#: Region proposals and sampled boxes per image: a hand has at most 22 objects, so torchvision's COCO
#: defaults (2,000 proposals, 512 sampled boxes) are cut to keep CPU training affordable.
PROPOSALS = dict(rpn_pre_nms_top_n_train=600, rpn_post_nms_top_n_train=300, rpn_pre_nms_top_n_test=300,
                 rpn_post_nms_top_n_test=100, box_batch_size_per_image=64)
#: Anchor sides relative to the median ground-truth box side: five, placed on the feature levels as
#: torchvision does (all five on each MobileNet level, one per ResNet-50 FPN level).
ANCHOR_FACTORS = (0.5, 1 / math.sqrt(2), 1.0, math.sqrt(2), 2.0)


def build_model(arch: str, num_landmarks: int, image_size: int, anchor_side: float, box_head_width: int = 1024,
                weights_path: str | None = None) -> torch.nn.Module:
    """An untrained (or locally initialised) Faster R-CNN for ``num_landmarks`` classes plus background.

    Images are not rescaled (``min_size = max_size = image_size``); anchors are
    ``anchor_side`` x :data:`ANCHOR_FACTORS` with aspect ratios 0.5, 1, 2; the box head has two
    layers of ``box_head_width`` units.
    """
    from torchvision.models import detection
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead

    if arch not in FRCNN_ARCHS:
        raise ValueError(f"arch must be one of {FRCNN_ARCHS}, got {arch!r}")
    builder = (detection.fasterrcnn_mobilenet_v3_large_fpn if arch == "mobilenet_v3"
               else detection.fasterrcnn_resnet50_fpn)
    model = builder(weights=None, weights_backbone=None, num_classes=num_landmarks + 1, min_size=image_size,
                    max_size=image_size, box_score_thresh=0.001, box_detections_per_img=300, **PROPOSALS)
    sizes = tuple(float(anchor_side * f) for f in ANCHOR_FACTORS)
    if arch == "mobilenet_v3":
        per_level = (sizes,) * 3
    else:
        per_level = tuple((s,) for s in sizes)
    model.rpn.anchor_generator = AnchorGenerator(per_level, ((0.5, 1.0, 2.0),) * len(per_level))
    if box_head_width != model.roi_heads.box_head.fc6.out_features:
        pooled = model.roi_heads.box_head.fc6.in_features
        model.roi_heads.box_head = TwoMLPHead(pooled, box_head_width)
        model.roi_heads.box_predictor = FastRCNNPredictor(box_head_width, num_landmarks + 1)
    if weights_path is not None:
        _load_matching(model, weights_path)
    return model


def _load_matching(model: torch.nn.Module, weights_path: str) -> None:
    """Load every tensor of a local state dict whose name and shape match (the class head never does)."""
    state = torch.load(weights_path, map_location="cpu", weights_only=True)
    state = state.get("model", state) if isinstance(state, dict) else state
    own = model.state_dict()
    matching = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not matching:
        raise ValueError(f"{weights_path}: no tensor matches this Faster R-CNN ({len(state)} tensors in the file)")
    model.load_state_dict(matching, strict=False)


def boxes_in_model(truth: pd.DataFrame, frames: list, bodyparts) -> list[tuple[np.ndarray, np.ndarray]]:
    """Ground-truth boxes (image pixels, :func:`ra_lib.stages.detection.boxes.truth_boxes`) per hand in model coordinates.

    Returns, per frame, ``(boxes (M, 4) x0 y0 x1 y1, labels (M,) 1-based landmark classes)``,
    clipped to the model input.
    """
    label_of = {b: k + 1 for k, b in enumerate(bodyparts)}
    by_hand = {h: g for h, g in truth[truth["label"].isin(label_of)].groupby("hand_id")}
    out = []
    for frame in frames:
        group = by_hand.get(frame.hand_id)
        if group is None:
            out.append((np.zeros((0, 4)), np.zeros(0, dtype=np.int64)))
            continue
        ax, ay = frame.to_model(group["x0"].to_numpy(), group["y0"].to_numpy())
        bx, by = frame.to_model(group["x1"].to_numpy(), group["y1"].to_numpy())
        boxes = np.stack([np.minimum(ax, bx), np.minimum(ay, by), np.maximum(ax, bx), np.maximum(ay, by)], axis=1)
        boxes = np.clip(boxes, 0, frame.size)
        keep = (boxes[:, 2] - boxes[:, 0] > 1) & (boxes[:, 3] - boxes[:, 1] > 1)
        out.append((boxes[keep], group["label"].map(label_of).to_numpy(dtype=np.int64)[keep]))
    return out


def _as_tensor(image: np.ndarray, device="cpu") -> torch.Tensor:
    return torch.as_tensor(np.asarray(image, dtype=np.float32), device=device).expand(3, -1, -1)


class ShuffledBatches:
    """Batches ``(images, targets)`` of the hands ``usable``, reshuffled with ``generator`` on every pass.

    ``images`` (N, S, S); ``targets``: per hand ``(boxes, labels)`` as :func:`boxes_in_model` gives them.
    Images become 3-channel tensors, targets torchvision's ``{"boxes", "labels"}`` dicts.
    """

    def __init__(self, images: np.ndarray, targets: list, usable: list[int], batch_size: int,
                 generator: torch.Generator):
        self.images, self.targets, self.usable = images, targets, usable
        self.batch_size, self.generator = batch_size, generator

    def __len__(self) -> int:
        return math.ceil(len(self.usable) / self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.usable), generator=self.generator).tolist()
        for first in range(0, len(order), self.batch_size):
            batch = [self.usable[i] for i in order[first:first + self.batch_size]]
            yield ([_as_tensor(self.images[n]) for n in batch],
                   [{"boxes": torch.as_tensor(self.targets[n][0], dtype=torch.float32),
                     "labels": torch.as_tensor(self.targets[n][1])} for n in batch])


def detection_loss(model: torch.nn.Module, images: list, targets: list) -> torch.Tensor:
    """The training step's loss: the sum of torchvision's four Faster R-CNN losses on one batch."""
    return sum(model(images, targets).values())


def train(model: torch.nn.Module, images: np.ndarray, targets: list, epochs: int, batch_size: int, lr: float,
          seed: int = 0, device: str = "cpu", progress: bool = True) -> pd.DataFrame:
    """SGD (momentum 0.9, weight decay 1e-4, one warm-up epoch) on hands with at least one box.

    Runs :func:`ra_lib.core.training.fit` with :func:`detection_loss` as its step. Returns the history:
    epoch, train_loss (sum of torchvision's four losses, mean per hand).
    """
    generator = training.seed_everything(seed)
    usable = [n for n, (boxes, _) in enumerate(targets) if len(boxes)]
    if not usable:
        raise ValueError("no training hand has a ground-truth box")
    model.to(device)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr, momentum=0.9,
                                weight_decay=1e-4)
    batches = ShuffledBatches(images, targets, usable, batch_size, generator)
    # LinearLR leaves the rate unchanged once its warm-up steps are done
    warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=len(batches))
    history = training.fit(model, batches, None, None, optimizer, epochs, device=device, desc="Faster R-CNN epochs",
                           progress=progress, step=detection_loss, batch_scheduler=warmup)
    return history[["epoch", "train_loss"]]


@torch.no_grad()
def predict(model: torch.nn.Module, images: np.ndarray, num_landmarks: int, batch_size: int = 8, device: str = "cpu",
            progress: bool = True) -> np.ndarray:
    """Highest-scoring box of every landmark class per image: (N, K, 5) x0, y0, x1, y1, score (NaN if none)."""
    model.to(device).eval()
    best = np.full((len(images), num_landmarks, 5), np.nan)
    bar = tqdm(total=len(images), desc="Faster R-CNN inference", unit="hand", leave=False, disable=not progress)
    for first in range(0, len(images), batch_size):
        outputs = model([_as_tensor(image, device) for image in images[first:first + batch_size]])
        for n, output in enumerate(outputs, first):
            labels, scores = output["labels"].cpu().numpy(), output["scores"].cpu().numpy()
            boxes = output["boxes"].cpu().numpy()
            for i in np.argsort(-scores, kind="stable"):  # first box of a class is its best
                k = labels[i] - 1
                if 0 <= k < num_landmarks and np.isnan(best[n, k, 4]):
                    best[n, k] = (*boxes[i], scores[i])
        bar.update(len(outputs))
    bar.close()
    return best


def boxes_to_image(best: np.ndarray, frames: list, bodyparts) -> pd.DataFrame:
    """Best boxes (model coordinates) as image-pixel boxes: hand_id, label, score, x0, y0, x1, y1."""
    rows = []
    for frame, boxes in zip(frames, best):
        found = np.isfinite(boxes[:, 4])
        ax, ay = frame.to_image(boxes[found, 0], boxes[found, 1])
        bx, by = frame.to_image(boxes[found, 2], boxes[found, 3])
        rows.append(pd.DataFrame({"hand_id": frame.hand_id, "label": np.asarray(bodyparts)[found],
                                  "score": boxes[found, 4], "x0": np.minimum(ax, bx), "y0": np.minimum(ay, by),
                                  "x1": np.maximum(ax, bx), "y1": np.maximum(ay, by)}))
    columns = ["hand_id", "label", "score", "x0", "y0", "x1", "y1"]
    return pd.concat(rows, ignore_index=True)[columns] if rows else pd.DataFrame(columns=columns)


def centres(best: np.ndarray) -> np.ndarray:
    """(N, K, 3) box centres and scores (model coordinates) from :func:`predict`'s boxes."""
    return np.stack([(best[..., 0] + best[..., 2]) / 2, (best[..., 1] + best[..., 3]) / 2, best[..., 4]], axis=-1)


@dataclass
class FrcnnDetector:
    """A trained Faster R-CNN and the landmarks its classes stand for."""

    model: torch.nn.Module
    bodyparts: tuple[str, ...]
    image_size: int

    def detect(self, images: np.ndarray, frames: list, device: str = "cpu",
               progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Detections table (box centres, likelihood = box score) and the best boxes, both in image pixels."""
        best = predict(self.model, images, len(self.bodyparts), device=device, progress=progress)
        detections = predictions_to_table(centres(best), frames, self.bodyparts, "frcnn")
        return detections, boxes_to_image(best, frames, self.bodyparts)


def fit(images: np.ndarray, frames: list, truth: pd.DataFrame, bodyparts, settings, seed: int = 0,
        device: str = "cpu", progress: bool = True) -> tuple[FrcnnDetector, pd.DataFrame]:
    """Train a Faster R-CNN on the labelled hands (``images`` and ``frames`` of the training hands).

    ``truth``: ground-truth boxes in image pixels (:func:`ra_lib.stages.detection.boxes.truth_boxes`).
    ``settings``: a :class:`ra_lib.stages.detection.settings.DetectionSettings` (its ``frcnn_*`` knobs).
    """
    targets = boxes_in_model(truth, frames, bodyparts)
    sides = np.concatenate([np.sqrt((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])) for b, _ in targets if len(b)] or [[]])
    if not len(sides):
        raise ValueError("no training hand has a ground-truth box for these landmarks")
    training.seed_everything(seed)
    model = build_model(settings.frcnn_arch, len(bodyparts), images.shape[-1], float(np.median(sides)),
                        settings.frcnn_box_head_width, settings.frcnn_weights_path)
    history = train(model, images, targets, settings.frcnn_epochs, settings.frcnn_batch_size, settings.frcnn_lr,
                    seed, device, progress)
    return FrcnnDetector(model, tuple(bodyparts), images.shape[-1]), history
