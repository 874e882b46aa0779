"""Synthetic pretraining, the book's own stand-in for ImageNet weights.

Before DeepLabCut learns from the cohort's few labelled hands, it learns from ``pretrain_hands`` hands
of a synthetic cohort generated for the purpose (one-hand and both-hands images, no other body parts;
exact centres of all 22 landmarks). Its generator seed is offset from the stage's seed, so the
pretraining hands are never the hands a synthetic cohort scores. Only the landmarks the cohort
labels become body parts, so the fine-tuning model has the same head and starts from all of it.

The trained snapshot is cached in ``<cache>/<key>/`` where the key hashes the generator version, the
settings that shape the model and its training, the body parts and the seed: a build pays for it once.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from ra_lib.cohort import load_cohort, sites
from ra_lib.stages.detection import dlc, inputs

#: Offset between the stage's seed and the pretraining cohort's generator seed.
GENERATOR_SEED_OFFSET = 1_000
#: Pretraining hands held out for DeepLabCut's own error on them.
HELD_OUT = 2
#: The settings that change the pretrained weights (with the generator version, body parts and seed).
KEY_FIELDS = ("pretrain_hands", "pretrain_epochs", "pretrain_generator", "dlc_image_size", "dlc_net_type",
              "dlc_models", "dlc_batch_size", "dlc_lr", "dlc_weights_path")
WEIGHTS_FILE = "weights.pt"


def cache_key(settings, bodyparts, seed: int) -> str:
    """Hex key of the pretrained weights: generator version, :data:`KEY_FIELDS` of ``settings``, body parts, seed."""
    from ra_lib.synthetic.settings import GENERATOR_VERSION

    spec = {"generator_version": GENERATOR_VERSION, "seed": seed, "bodyparts": list(bodyparts),
            **{name: getattr(settings, name) for name in KEY_FIELDS}}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def synthetic_cohort(folder: Path, n_hands: int, generator_profile: str, seed: int):
    """A generated cohort of at least ``n_hands`` hands (hand images only) in ``folder``, loaded."""
    from ra_lib.synthetic.cohort import generate_cohort

    visits = max(1, -(-n_hands // 2))  # a visit gives two hands (both-hands image or a pair), sometimes one
    generate_cohort(folder / "cohort", generator_profile, seed=seed, other_fraction=0.0, n_patients=visits,
                    n_visits=visits + 1)
    manifest = folder / "manifest.yaml"
    manifest.write_text("cohort: detection-pretraining\nformat: native\ndata_root: cohort\n"
                        "tables: {images: images.csv, joint_scores: joint_scores.csv, landmarks: landmarks.csv}\n"
                        "folds: {n_folds: 3, seed: 0}\n")
    return load_cohort(manifest)


def pretrained_weights(settings, bodyparts, cache_dir: str | Path, seed: int = 0, device: str = "cpu",
                       progress: bool = True) -> dict[str, Path]:
    """Pretrained DeepLabCut snapshot per model of ``settings.dlc_models`` over ``bodyparts``, from the cache
    or trained now (``settings.pretrain_epochs`` epochs on ``settings.pretrain_hands`` synthetic hands)."""
    folder = Path(cache_dir) / cache_key(settings, bodyparts, seed)
    models = dlc.model_bodyparts(settings.dlc_models, set(bodyparts))
    cached = {name: folder / name / WEIGHTS_FILE for name in models}
    if all(path.exists() for path in cached.values()):
        return cached
    shutil.rmtree(folder, ignore_errors=True)
    cohort = synthetic_cohort(folder / "data", settings.pretrain_hands + HELD_OUT, settings.pretrain_generator,
                              seed + GENERATOR_SEED_OFFSET)
    hand_ids = list(cohort.hands["hand_id"][cohort.hands["hand_id"].isin(set(cohort.landmarks["hand_id"]))])
    hand_ids = hand_ids[:settings.pretrain_hands + HELD_OUT]
    images, frames = inputs.load_model_inputs(cohort, hand_ids, settings.dlc_image_size,
                                              inputs.thumb_right_sides(cohort.landmarks, cohort.hands), progress=progress)
    points = inputs.keypoints_in_model(cohort.landmarks, frames, sites.HAND_LANDMARKS)
    unused = [k for k, lm in enumerate(sites.HAND_LANDMARKS) if lm not in set(bodyparts)]
    points[:, unused] = np.nan
    n_train = len(hand_ids) - HELD_OUT
    trained = dataclasses.replace(settings, dlc_epochs=settings.pretrain_epochs)
    detector, _ = dlc.fit(images, points, range(n_train), range(n_train, len(hand_ids)), folder / "dlc", trained,
                          seed=seed, device=device)
    for name, project in detector.projects.items():
        cached[name].parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(dlc.snapshot_path(project), cached[name])
    shutil.rmtree(folder / "dlc")
    shutil.rmtree(folder / "data")
    return cached
