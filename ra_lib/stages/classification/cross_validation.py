"""Paper 001's cross-validation: one model per (kind, joint group, model type, test fold), out-of-fold predictions.

Eight patient-disjoint folds rotate 6 train / 1 validation / 1 test (:func:`ra_lib.cohort.folds.rotation`).
Each model trains end to end on crops (:func:`~.train.train_fold`), or, with ``shared_encoder``, as a head
on the features of one encoder per kind and test fold (:mod:`.encoder`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from ra_lib.cohort.folds import rotation
from ra_lib.cohort.sites import GROUPS
from ra_lib.core.training import select_device
from ra_lib.evaluation.readers import OOF_COLUMNS
from ra_lib.stages.classification.encoder import encode, encoder_samples, train_head
from ra_lib.stages.classification.samples import (TWO_HAND_MODELS, Samples, build_samples, group_summary,
                                                  joint_table)
from ra_lib.stages.classification.settings import ClassificationSettings
from ra_lib.stages.classification.train import FoldRun, prepare_images, run_seed, train_fold


@dataclass
class CVResult:
    """OOF predictions (``OOF_COLUMNS``), one row per training run, epoch histories, counts and what was skipped.

    ``joint_counts``: per kind (crops, flagged, ungraded, used, non_intact, contralateral_pairs);
    ``groups``: joints per group (:func:`~ra_lib.stages.classification.samples.group_summary`);
    ``sample_counts``: per kind, group and model (samples, masked_inputs, samples_missing_hand);
    ``skipped``: kind, group, model (empty: all models) and the reason; ``models``: the trained networks by
    (kind, group, model type, test fold).
    """

    oof: pd.DataFrame
    runs: pd.DataFrame
    history: pd.DataFrame
    joint_counts: pd.DataFrame
    groups: pd.DataFrame
    sample_counts: pd.DataFrame
    skipped: pd.DataFrame
    models: dict = field(default_factory=dict, repr=False)

    @property
    def siso_models(self) -> dict:
        """The trained SISO networks by (kind, group, test fold): what the stage's bundle keeps."""
        return {(kind, group, fold): model for (kind, group, model_type, fold), model in self.models.items()
                if model_type == "siso"}


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
    plans, joint_counts, groups, sample_counts, skipped, joints_of = [], [], [], [], [], {}
    for kind in settings.kinds:
        joints, counts = joint_table(index, folds, kind, pairs)
        joints_of[kind] = joints
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
    if settings.shared_encoder:  # one encoder per kind and fold, trained before that fold's heads
        plans.sort(key=lambda plan: (settings.kinds.index(plan[0].kind), plan[1]))
    runs, oof, histories, models, encoder = [], [], [], {}, None
    bar = tqdm(plans, desc="trainings", unit="fold", disable=not progress, leave=False)
    for samples, fold in bar:
        bar.set_postfix_str(f"{samples.kind} {samples.group} {samples.model_type} fold {fold}")
        if settings.shared_encoder:
            if encoder is None or encoder.key != (samples.kind, fold):
                encoder = _train_encoder(tensor, joints_of[samples.kind], samples.kind, fold_ids, fold, settings,
                                         seed, device)
                runs.append(encoder.run.summary)
                histories.append(encoder.run.history)
            run = train_head(encoder.features, encoder.backbone, samples, fold_ids, fold, settings, seed, device)
        else:
            run = train_fold(tensor, samples, fold_ids, fold, settings, seed, device, progress=False)
        runs.append(run.summary)
        histories.append(run.history)
        oof.append(_oof_rows(samples, run.test, run.probabilities, fold))
        if run.model is not None:
            models[(samples.kind, samples.group, samples.model_type, int(fold))] = run.model.cpu()
    return CVResult(oof=pd.concat(oof, ignore_index=True) if oof else pd.DataFrame(columns=OOF_COLUMNS),
                    runs=pd.DataFrame(runs), history=pd.concat(histories, ignore_index=True) if histories
                    else pd.DataFrame(), joint_counts=pd.DataFrame(joint_counts),
                    groups=pd.concat(groups, ignore_index=True),
                    sample_counts=pd.DataFrame(sample_counts, columns=["kind", "group", "model", "samples",
                                                                       "masked_inputs", "samples_missing_hand"]),
                    skipped=pd.DataFrame(skipped, columns=["kind", "group", "model", "reason"]), models=models)


@dataclass
class _Encoder:
    key: tuple[str, int]
    run: FoldRun
    backbone: torch.nn.Module | None
    features: torch.Tensor | None


def _train_encoder(images: torch.Tensor, joints: pd.DataFrame, kind: str, fold_ids, fold: int,
                   settings: ClassificationSettings, seed: int, device: torch.device) -> _Encoder:
    """The shared encoder of ``kind`` with ``fold`` held out, and its features of every crop (:mod:`.encoder`)."""
    run = train_fold(images, encoder_samples(joints, kind), fold_ids, fold, settings, seed, device, progress=False)
    if run.model is None:
        return _Encoder((kind, fold), run, None, None)
    rng = np.random.default_rng(run_seed(seed, kind, fold, "feature views"))
    return _Encoder((kind, fold), run, run.model.backbone, encode(run.model.backbone, images, settings, rng, device))


def _oof_rows(samples: Samples, test: np.ndarray, probabilities: np.ndarray, fold: int) -> pd.DataFrame:
    rows = samples.rows[test]
    present = rows >= 0
    table = samples.joints.iloc[rows[present]][["hand_id", "patient", "hand", "kind", "site", "group", "label"]]
    return table.assign(fold=fold, model=samples.model_type, probability=probabilities[present],
                        label=table["label"].astype(int))[list(OOF_COLUMNS)].reset_index(drop=True)
