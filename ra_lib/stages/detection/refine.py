"""Coarse to fine: each detected joint centre refined on a patch of the hand at the image's own resolution.

A whole-hand detector sees the hand at 128-256 px, about 10-20 px per finger. The refiner looks again at
each joint on a square patch ``refine_field`` proximal phalanges wide, cut from the full-resolution hand
around the coarse centre and resampled to ``refine_patch_size`` px, so the phalanx, not the image, sets
the scale. A small U-net gives one heatmap per landmark; the centre is the heatmap's expectation
(soft-argmax, sub-pixel). Refinement runs ``refine_steps`` times, each patch centred on the last estimate.

Training needs only the labelled hands: around each labelled joint a context crop twice the patch is cut
once, and every epoch draws ``refine_samples`` patches per joint from it with the coarse detector's errors
simulated (offset ``refine_jitter`` phalanges, scale +-15 %, rotation +-12 deg), mirrored half of the time
(either display convention) and with exposure and contrast varied. Each patch is standardised (zero mean,
unit spread), so the refiner does not depend on how bright an archive's images are.

A patch sees one joint, not the hand: a centre that starts half a phalanx off can snap onto the
neighbouring joint. With ``refine_shape_rounds``, the hand's shape (:mod:`.shape`, learnt from the same
labelled hands) is then fitted to the refined centres; a joint outside its box around the shape's
prediction moves there (when it lies on the image) and is refined again, for up to that many rounds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from ra_lib.cohort import sites
from ra_lib.core import geometry, training
from ra_lib.stages.detection import boxes, inputs, shape as hand_shape

#: Largest simulated coarse error, as a fraction of half the patch side (the joint stays inside the patch).
MAX_OFFSET = 0.7
SCALE_RANGE = (0.85, 1.15)
ROTATION_DEG = 12.0


def _block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                         nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class RefineNet(nn.Module):
    """A small U-net: a ``(N, 1, P, P)`` patch to ``(N, K, P/2, P/2)`` heatmap logits, one per landmark."""

    def __init__(self, n_landmarks: int, width: int = 16):
        super().__init__()
        self.stem = _block(1, width, 2)  # P/2
        self.down1 = _block(width, 2 * width, 2)  # P/4
        self.down2 = _block(2 * width, 4 * width, 2)  # P/8
        self.up1 = _block(6 * width, 2 * width)  # P/4
        self.up2 = _block(3 * width, 2 * width)  # P/2
        self.head = nn.Conv2d(2 * width, n_landmarks, 1)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        s1 = self.stem(patches)
        s2 = self.down1(s1)
        x = self.down2(s2)
        x = self.up1(torch.cat([F.interpolate(x, size=s2.shape[-2:], mode="bilinear", align_corners=False), s2], 1))
        x = self.up2(torch.cat([F.interpolate(x, size=s1.shape[-2:], mode="bilinear", align_corners=False), s1], 1))
        return self.head(x)


def soft_argmax(logits: torch.Tensor) -> torch.Tensor:
    """``(N, H, W)`` logits to ``(N, 2)`` expected (x, y) in the patch's normalised coordinates ([-1, 1], pixel
    centres as ``affine_grid`` places them)."""
    n, h, w = logits.shape
    prob = torch.softmax(logits.reshape(n, -1), dim=1).reshape(n, h, w)
    xs = (torch.arange(w, dtype=prob.dtype, device=prob.device) + 0.5) / w * 2 - 1
    ys = (torch.arange(h, dtype=prob.dtype, device=prob.device) + 0.5) / h * 2 - 1
    return torch.stack([(prob.sum(1) * xs).sum(1), (prob.sum(2) * ys).sum(1)], dim=1)


def standardise(patches: torch.Tensor) -> torch.Tensor:
    """Each patch to zero mean and unit standard deviation."""
    flat = patches.flatten(1)
    mean, std = flat.mean(1), flat.std(1).clamp_min(1e-3)
    return (patches - mean.view(-1, 1, 1, 1)) / std.view(-1, 1, 1, 1)


def _landmark_logits(model: RefineNet, patches: torch.Tensor, landmark_idx: torch.Tensor) -> torch.Tensor:
    heatmaps = model(standardise(patches))
    return heatmaps[torch.arange(len(patches), device=heatmaps.device), landmark_idx]


class JitteredPatches(torch.utils.data.IterableDataset):
    """Training patches drawn from context crops around labelled joints (one epoch = ``samples`` per joint).

    ``contexts``: ``(M, 1, 2P, 2P)`` crops twice the patch side, each centred on its joint; ``landmark_idx``:
    ``(M,)``. Yields batches ``((patches, landmark_idx), target)`` with the joint's position in each patch's
    normalised coordinates as target.
    """

    def __init__(self, contexts: torch.Tensor, landmark_idx: torch.Tensor, samples: int, jitter: float,
                 field: float, batch_size: int, seed: int):
        self.contexts, self.landmark_idx = contexts, landmark_idx
        self.samples, self.jitter, self.field, self.batch_size = samples, jitter, field, batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.patch_size = contexts.shape[-1] // 2

    def __iter__(self):
        order = torch.randperm(len(self.contexts) * self.samples, generator=self.generator) % len(self.contexts)
        for start in range(0, len(order), self.batch_size):
            yield self.draw(order[start:start + self.batch_size])

    def draw(self, idx: torch.Tensor):
        n, g = len(idx), self.generator
        # the coarse error in the context's normalised units (the context spans 2 x field phalanges)
        offset = (torch.randn(n, 2, generator=g) * self.jitter / self.field).clamp(-MAX_OFFSET / 2, MAX_OFFSET / 2)
        scale = SCALE_RANGE[0] + (SCALE_RANGE[1] - SCALE_RANGE[0]) * torch.rand(n, generator=g)
        angle = (torch.rand(n, generator=g) * 2 - 1) * math.radians(ROTATION_DEG)
        flip = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
        cos, sin = torch.cos(angle), torch.sin(angle)
        half = scale / 2  # the patch is half the context at scale 1
        theta = torch.stack([torch.stack([cos * half * flip, -sin * half, offset[:, 0]], 1),
                             torch.stack([sin * half * flip, cos * half, offset[:, 1]], 1)], 1)
        grid = F.affine_grid(theta, [n, 1, self.patch_size, self.patch_size], align_corners=False)
        patches = F.grid_sample(self.contexts[idx], grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        # the joint (context origin) in patch coordinates: invert p -> A p + offset
        dx, dy = -offset[:, 0], -offset[:, 1]
        target = torch.stack([(cos * dx + sin * dy) / half * flip, (-sin * dx + cos * dy) / half], 1)
        gamma = torch.exp(torch.randn(n, 1, 1, 1, generator=g) * 0.25)
        patches = patches.clamp_min(0) ** gamma + 0.02 * torch.randn(patches.shape, generator=g)
        return (patches, self.landmark_idx[idx]), target


def _hand(cohort, hand_id: str) -> tuple[np.ndarray, float]:
    """A hand as the detectors read it (:func:`inputs.load_hand_image`) and its first column in the image."""
    x0 = cohort.hands.loc[cohort.hands["hand_id"] == hand_id, "x0"]
    return inputs.load_hand_image(cohort, hand_id), float(x0.iloc[0])


def _step(model, batch, target):
    patches, landmark_idx = batch
    return F.l1_loss(soft_argmax(_landmark_logits(model, patches, landmark_idx)), target)


@dataclass
class JointRefiner:
    """A trained :class:`RefineNet`, how it cuts patches, and the hand shape that checks its centres
    (``shape_rounds`` rounds; none without a ``shape``)."""

    model: RefineNet
    landmarks: tuple[str, ...]
    patch_size: int
    field: float
    steps: int
    shape: hand_shape.HandShape | None = None
    shape_rounds: int = 0

    @torch.no_grad()
    def refine(self, cohort, detections: pd.DataFrame, device: str = "cpu", progress: bool = True) -> pd.DataFrame:
        """``detections`` (hand_id, landmark, x, y, ...) with x, y refined and ``shape_moved`` (the shape check
        moved the joint); other columns and landmarks the refiner does not know are kept as they are."""
        out = detections.assign(shape_moved=False)
        known = out["landmark"].isin(self.landmarks) & out[["x", "y"]].notna().all(axis=1)
        phalanx = dict(zip(out["hand_id"], boxes.hand_phalanx(out, out["hand_id"])))
        groups = out[known].groupby("hand_id", sort=False).groups
        for hand_id, rows in tqdm(groups.items(), desc="refining joints", unit="hand", leave=False,
                                  disable=not progress):
            image, x0 = _hand(cohort, hand_id)
            xy, moved = self.refine_hand(image, x0, out.loc[rows, "landmark"],
                                         out.loc[rows, ["x", "y"]].to_numpy(dtype=float), phalanx[hand_id], device)
            out.loc[rows, "x"], out.loc[rows, "y"], out.loc[rows, "shape_moved"] = xy[:, 0], xy[:, 1], moved
        return out

    @torch.no_grad()
    def refine_hand(self, image: np.ndarray, x0: float, landmarks, xy: np.ndarray, phalanx: float,
                    device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
        """Refined full-image ``(n, 2)`` centres of one hand and which of them the shape check moved: ``image`` is
        the hand as the detectors read it (:func:`inputs.load_hand_image`, its first column at ``x0`` of the
        radiograph), ``landmarks`` (known to the refiner) and ``xy`` the coarse centres in full-image pixels,
        ``phalanx`` its phalanx length."""
        self.model.eval().to(device)
        column = {lm: k for k, lm in enumerate(self.landmarks)}
        landmarks = list(landmarks)
        idx = np.array([column[lm] for lm in landmarks], dtype=int)
        xy = np.asarray(xy, dtype=float) - [x0, 0.0]
        xy = self._refined(image, idx, xy, self.field * phalanx, device)
        moved = np.zeros(len(xy), dtype=bool)
        for _ in range(self.shape_rounds if self.shape is not None else 0):
            predicted, distance, fitted_phalanx = self.shape.fit(landmarks, xy)
            on_image = ((predicted >= 0) & (predicted <= [image.shape[1] - 1, image.shape[0] - 1])).all(1)
            outside = (distance > self.shape.tolerance(landmarks)) & on_image
            if not outside.any():
                break
            xy[outside] = self._refined(image, idx[outside], predicted[outside], self.field * fitted_phalanx, device)
            moved |= outside
        return xy + [x0, 0.0], moved

    def _refined(self, image: np.ndarray, idx: np.ndarray, xy: np.ndarray, side: float, device: str) -> np.ndarray:
        """``xy`` (hand-image pixels) after ``steps`` refinements on patches ``side`` pixels wide."""
        landmark_idx = torch.as_tensor(idx, device=device)
        for _ in range(self.steps):
            patches = np.stack([geometry.crop_square(image, x, y, side, self.patch_size) for x, y in xy])
            patches = torch.as_tensor(patches[:, None], device=device)
            moved = soft_argmax(_landmark_logits(self.model, patches, landmark_idx))
            xy = xy + moved.cpu().numpy() * side / 2
        return xy


def context_crops(cohort, landmarks: pd.DataFrame, hand_ids, names, patch_size: int,
                  field: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Crops twice the patch side around every labelled joint of ``hand_ids`` (landmarks in ``names``)."""
    chosen = landmarks[landmarks["hand_id"].isin(set(hand_ids)) & landmarks["landmark"].isin(names)]
    chosen = chosen.dropna(subset=["x", "y"])
    phalanx = dict(zip(chosen["hand_id"], boxes.hand_phalanx(chosen, chosen["hand_id"])))
    column = {lm: k for k, lm in enumerate(names)}
    crops, idx = [], []
    for hand_id, group in chosen.groupby("hand_id", sort=False):
        image, x0 = _hand(cohort, hand_id)
        side = 2 * field * phalanx[hand_id]
        for row in group.itertuples():
            crops.append(geometry.crop_square(image, row.x - x0, row.y, side, 2 * patch_size))
            idx.append(column[row.landmark])
    return torch.as_tensor(np.stack(crops)[:, None]), torch.as_tensor(idx)


def fit(cohort, landmarks: pd.DataFrame, train_hands, settings, seed: int = 0, device: str = "cpu",
        progress: bool = True, initial: JointRefiner | None = None) -> tuple[JointRefiner, pd.DataFrame]:
    """Train the refiner on the labelled joints of ``train_hands`` (``settings.refine_*``); its loss history.

    ``initial``: a refiner of the same landmarks and width whose weights training starts from (fine-tuning,
    e.g. from one trained on synthetic hands).
    """
    names = tuple(lm for lm in sites.HAND_LANDMARKS if lm in set(landmarks["landmark"]))
    contexts, landmark_idx = context_crops(cohort, landmarks, train_hands, names, settings.refine_patch_size,
                                           settings.refine_field)
    training.seed_everything(seed)
    model = RefineNet(len(names), settings.refine_width)
    if initial is not None:
        if initial.landmarks != names:
            raise ValueError(f"the initial refiner knows the landmarks {list(initial.landmarks)}, these hands "
                             f"label {list(names)}: it cannot be fine-tuned on them")
        model.load_state_dict(initial.model.state_dict())
    data = JitteredPatches(contexts, landmark_idx, settings.refine_samples, settings.refine_jitter,
                           settings.refine_field, settings.refine_batch_size, seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.refine_lr, weight_decay=1e-4)
    steps = settings.refine_epochs * math.ceil(len(contexts) * settings.refine_samples / settings.refine_batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, settings.refine_lr, total_steps=steps)
    history = training.fit(model, data, None, None, optimizer, settings.refine_epochs, device=device,
                           desc="joint refiner", progress=progress, step=_step, batch_scheduler=schedule)
    shape = None
    if settings.refine_shape_rounds:
        shape = hand_shape.fit_shape(landmarks[landmarks["hand_id"].isin(set(train_hands))], names)
    return JointRefiner(model.cpu(), names, settings.refine_patch_size, settings.refine_field,
                        settings.refine_steps, shape, settings.refine_shape_rounds), history
