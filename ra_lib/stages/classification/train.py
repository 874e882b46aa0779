"""Paper 001's cross-validation: one model per (kind, joint group, model type, test fold), out-of-fold predictions.

Eight patient-disjoint folds rotate 6 train / 1 validation / 1 test (:func:`ra_lib.cohort.folds.rotation`).

* Sizes count crops, as the paper's "about 10,000 images": ``train_size`` crops are
  ``train_size / k`` samples of a model taking ``k`` crops, and a batch of ``batch_crops`` crops
  holds ``batch_crops / k`` samples, so every model type sees about as many crops per step and
  per epoch.
* Train samples are balanced to ``max(train_size / 2, majority count)`` per class, validation
  samples to the majority count (:func:`ra_lib.stages.classification.samples.balance`).
* Augmented copies get an independent random rotation, shift and zoom per crop (the paper's ranges
  are in :class:`~ra_lib.stages.classification.settings.ClassificationSettings`), applied with
  :func:`ra_lib.core.geometry.warp`.
"""
from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from ra_lib.cohort.folds import rotation
from ra_lib.cohort.sites import GROUPS, sites_in_group
from ra_lib.core import geometry
from ra_lib.core.training import fit, predict, seed_everything, select_device
from ra_lib.evaluation.readers import OOF_COLUMNS
from ra_lib.stages.classification.models import build_model, masked_bce_sum
from ra_lib.stages.classification.samples import (TWO_HAND_MODELS, Samples, balance, build_samples,
                                                  group_summary, joint_table)
from ra_lib.stages.classification.settings import ClassificationSettings


# --- augmentation and batches --------------------------------------------------------------------
def augmentation_matrices(shape: tuple[int, int], settings: ClassificationSettings,
                          rng: np.random.Generator) -> torch.Tensor:
    """Random affine matrices ``(n, k, 2, 3)`` for :func:`ra_lib.core.geometry.warp`, one per crop."""
    angle = np.deg2rad(rng.uniform(-settings.rotation_deg, settings.rotation_deg, shape))
    scale = rng.uniform(*settings.scale_range, shape)
    shift = rng.uniform(-1, 1, (*shape, 2)) * 2 * settings.shift_px / settings.shift_reference_px  # [-1, 1] grid
    theta = geometry.affine_matrices(angle.reshape(-1), scale.reshape(-1), shift=shift.reshape(-1, 2))
    return theta.reshape(*shape, 2, 3)


class CropBatches:
    """Mini-batches ``(crops (B, k, H, W), targets (B, k))``; augmented items warped on the fly.

    ``crop_idx`` ``-1`` gives a zero image. Shuffled each pass with ``generator`` when ``shuffle``.
    """

    def __init__(self, images: torch.Tensor, crop_idx: np.ndarray, labels: np.ndarray, batch_size: int,
                 augmented: np.ndarray | None = None, thetas: torch.Tensor | None = None,
                 shuffle: bool = False, generator: torch.Generator | None = None):
        self.images = torch.cat([images, images.new_zeros((1, *images.shape[1:]))])
        self.crop_idx = torch.as_tensor(np.where(crop_idx < 0, len(images), crop_idx))
        self.labels = torch.as_tensor(labels, dtype=torch.float32)
        self.augmented = torch.as_tensor(augmented if augmented is not None else np.zeros(len(labels), bool))
        self.thetas = thetas
        self.batch_size, self.shuffle, self.generator = batch_size, shuffle, generator

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            crops = self.images[self.crop_idx[idx]]
            aug = self.augmented[idx]
            if aug.any():
                _, k, height, width = crops.shape
                moved = geometry.warp(crops[aug].reshape(-1, 1, height, width),
                                      self.thetas[idx][aug].reshape(-1, 2, 3), padding="border")
                crops[aug] = moved.reshape(-1, k, height, width)
            yield crops, self.labels[idx]


def prepare_images(images: np.ndarray, size: int) -> torch.Tensor:
    """Crops ``(N, H, W)`` in [0, 1] resized to ``size`` x ``size`` (:func:`ra_lib.core.geometry.resize_batch`)."""
    tensor = torch.as_tensor(np.asarray(images, np.float32))
    if tensor.ndim != 3:
        raise ValueError(f"crop store images must be (N, H, W), got shape {tuple(tensor.shape)}")
    return geometry.resize_batch(tensor[:, None], size)[:, 0].contiguous()


# --- one training --------------------------------------------------------------------------------
def run_seed(seed: int, *parts) -> int:
    """A stable per-run seed from the global seed and the run's names."""
    return (seed * 1_000_003 + zlib.crc32("/".join(map(str, parts)).encode())) % 2**31


def train_fold(images: torch.Tensor, samples: Samples, fold_ids: Sequence[int], test_fold: int,
               settings: ClassificationSettings, seed: int, device: torch.device,
               progress: bool = True) -> tuple[np.ndarray, np.ndarray, pd.DataFrame, dict, torch.nn.Module | None]:
    """Train one model with ``test_fold`` held out; return test sample positions, probabilities
    ``(n_test, k)``, the epoch history, a run summary and the trained model (``None`` when skipped)."""
    train_folds, val_fold, _ = rotation(fold_ids, test_fold)
    test = np.flatnonzero(samples.fold == test_fold)
    train = np.flatnonzero(np.isin(samples.fold, train_folds))
    val = np.flatnonzero(samples.fold == val_fold)
    summary = {"kind": samples.kind, "group": samples.group, "model": samples.model_type, "fold": test_fold,
               "n_train": len(train), "n_train_positive": int(samples.positive[train].sum()),
               "n_val": len(val), "n_test": len(test)}
    if not len(test) or not len(train):
        return (test, np.empty((0, samples.rows.shape[1]), np.float32), pd.DataFrame(),
                {**summary, "status": "skipped"}, None)
    name = (samples.kind, samples.group, samples.model_type, test_fold)
    generator = seed_everything(run_seed(seed, *name))
    rng = np.random.default_rng(run_seed(seed, *name, "data"))
    crop_idx, labels, k = samples.crop_idx, samples.labels, samples.rows.shape[1]
    batch = max(1, settings.batch_crops // k)

    def loader(positions, size, shuffle):
        picked, augmented = balance(samples.positive[positions], size, rng)
        picked = positions[picked]
        thetas = augmentation_matrices((len(picked), k), settings, rng)
        return CropBatches(images, crop_idx[picked], labels[picked], batch, augmented, thetas,
                           shuffle=shuffle, generator=generator), len(picked)

    train_loader, n_balanced = loader(train, settings.train_size // k if settings.train_size else None, True)
    val_loader = loader(val, None, False)[0] if len(val) else None
    model = build_model(samples.model_type, len(sites_in_group(samples.kind, samples.group)), settings.backbone,
                        settings.width, settings.weights_path, settings.pool, settings.fc_layers, settings.fc_width,
                        settings.dropout, settings.init)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    start = time.perf_counter()
    history = fit(model, train_loader, val_loader, masked_bce_sum, optimizer, settings.epochs, settings.patience,
                  device, desc=f"{samples.kind} {samples.group} {samples.model_type} fold {test_fold}",
                  progress=progress)
    seconds = time.perf_counter() - start
    test_loader = CropBatches(images, crop_idx[test], labels[test], batch)
    probabilities = predict(model, test_loader, device, transform=torch.sigmoid).reshape(len(test), k)
    best = int(history["val_loss"].idxmin()) + 1 if history["val_loss"].notna().any() else len(history)
    summary.update(status="trained", n_train_balanced=n_balanced, epochs_run=len(history), best_epoch=best,
                   seconds=seconds, crops_per_sample=k)
    return (test, probabilities, history.assign(**dict(zip(("kind", "group", "model", "fold"), name))), summary,
            model.cpu())


# --- the cross-validation ------------------------------------------------------------------------
@dataclass
class CVResult:
    """OOF predictions (``OOF_COLUMNS``), one row per training run, epoch histories, counts and what was skipped.

    ``joint_counts``: per kind (crops, flagged, ungraded, used, non_intact, contralateral_pairs);
    ``groups``: joints per group (:func:`~ra_lib.stages.classification.samples.group_summary`);
    ``sample_counts``: per kind, group and model (samples, masked_inputs, samples_missing_hand);
    ``skipped``: kind, group, model (empty: all models) and the reason; ``siso_models``: the trained SISO
    models by ``(kind, group, test fold)`` (what the stage's bundle keeps).
    """

    oof: pd.DataFrame
    runs: pd.DataFrame
    history: pd.DataFrame
    joint_counts: pd.DataFrame
    groups: pd.DataFrame
    sample_counts: pd.DataFrame
    skipped: pd.DataFrame
    siso_models: dict = field(default_factory=dict, repr=False)


def predicted_folds(folds: pd.DataFrame, settings: ClassificationSettings) -> list[int]:
    """The folds predicted: all of the cohort's folds, or the profile's subset."""
    return sorted(folds["fold"].unique()) if settings.test_folds is None else list(settings.test_folds)


def rotation_table(folds: pd.DataFrame, settings: ClassificationSettings) -> pd.DataFrame:
    """One row per predicted fold: its train folds, validation fold and test fold."""
    fold_ids = sorted(folds["fold"].unique())
    return pd.DataFrame([dict(zip(("train folds", "validation fold", "test fold"), rotation(fold_ids, f)))
                         for f in predicted_folds(folds, settings)])


def run_cv(images: np.ndarray, index: pd.DataFrame, folds: pd.DataFrame, settings: ClassificationSettings,
           seed: int = 0, device: str | torch.device = "cpu", pairs: pd.DataFrame | None = None,
           progress: bool = True) -> CVResult:
    """Cross-validate every (kind, group, model type) of ``settings``.

    ``images`` / ``index``: the crop store; ``folds``: ``(patient, fold)``; ``pairs``:
    :func:`~ra_lib.stages.classification.samples.hand_pairs` (``None``: from the crop index alone).
    A group without usable joints is skipped, and so are MIMO local and both-hands for a kind
    without any left/right pair of joints. ``progress``: one tqdm bar over the trainings.
    """
    device = select_device(device) if isinstance(device, str) else device
    fold_ids = sorted(folds["fold"].unique())
    tensor = prepare_images(images, settings.crop_size)
    plans, joint_counts, groups, sample_counts, skipped = [], [], [], [], []
    for kind in settings.kinds:
        joints, counts = joint_table(index, folds, kind, pairs)
        joint_counts.append(counts)
        groups.append(group_summary(joints, kind))
        for group in (settings.groups or GROUPS[kind]):
            if group not in GROUPS[kind]:
                continue  # a group of the other kind (e.g. "CMC-M" while running JSN)
            if not (joints["group"] == group).any():
                skipped.append({"kind": kind, "group": group, "model": "", "reason": "no usable joints"})
                continue
            for model_type in settings.models:
                if model_type in TWO_HAND_MODELS and not counts["contralateral_pairs"]:
                    skipped.append({"kind": kind, "group": group, "model": model_type,
                                    "reason": "no left/right hand pair"})
                    continue
                samples = build_samples(joints, kind, group, model_type)
                sample_counts.append(samples.counts())
                plans += [(samples, fold) for fold in predicted_folds(folds, settings)]
    oof, runs, histories, siso_models = [], [], [], {}
    bar = tqdm(plans, desc="trainings", unit="fold", disable=not progress, leave=False)
    for samples, fold in bar:
        bar.set_postfix_str(f"{samples.kind} {samples.group} {samples.model_type} fold {fold}")
        test, probabilities, history, summary, model = train_fold(tensor, samples, fold_ids, fold, settings, seed,
                                                                  device, progress=False)
        if model is not None and samples.model_type == "siso":
            siso_models[(samples.kind, samples.group, int(fold))] = model
        runs.append(summary)
        histories.append(history)
        oof.append(_oof_rows(samples, test, probabilities, fold))
    return CVResult(oof=pd.concat(oof, ignore_index=True) if oof else pd.DataFrame(columns=OOF_COLUMNS),
                    runs=pd.DataFrame(runs), history=pd.concat(histories, ignore_index=True) if histories
                    else pd.DataFrame(), joint_counts=pd.DataFrame(joint_counts),
                    groups=pd.concat(groups, ignore_index=True),
                    sample_counts=pd.DataFrame(sample_counts, columns=["kind", "group", "model", "samples",
                                                                       "masked_inputs", "samples_missing_hand"]),
                    skipped=pd.DataFrame(skipped, columns=["kind", "group", "model", "reason"]),
                    siso_models=siso_models)


def _oof_rows(samples: Samples, test: np.ndarray, probabilities: np.ndarray, fold: int) -> pd.DataFrame:
    rows = samples.rows[test]
    present = rows >= 0
    table = samples.joints.iloc[rows[present]][["hand_id", "patient", "hand", "kind", "site", "group", "label"]]
    return table.assign(fold=fold, model=samples.model_type, probability=probabilities[present],
                        label=table["label"].astype(int))[list(OOF_COLUMNS)].reset_index(drop=True)
