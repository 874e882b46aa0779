"""Benchmark: stage 2's DeepLabCut trained on a synthetic cohort, scored on real hand radiographs.

    .venv/bin/python bench/detection_real_samples.py [--manifest data_manifests/synthetic_quick.yaml]
        [--profile quick] [--finetune 4] [--dlc-epochs N] [--threads 2] [--set KEY=VALUE ...]
        [--per-landmark] [--detections-out FILE.csv]

The real hands are ``../shared/real_samples/hands_joints/`` beside the repository (8 pediatric hand
radiographs, 630 x 910 px, 15 labelled points each; two are mirrored copies of two others). Their
``IP``, ``PIP2``-``PIP5``, ``MP`` and ``MCP2``-``MCP5`` are the book's ``ip``, ``pip2``-``pip5``,
``mcp1``-``mcp5``; the five wrist points are not SvdH sites and are left out. When the folder is
absent the benchmark says so and exits cleanly; the images are read in place, never copied.

DeepLabCut is trained as stage 2 trains it (the profile's settings, its ``n_train`` labelled hands of
the synthetic cohort, with the synthetic pretraining when the profile asks for it), on the cohort turned
upright as the book turns it before stage 2 (here by the generator's own ``truth_images.csv``, not by stage
1's predictions). With ``--finetune
K`` (at most 4) it is then trained further on the first K real hands (hands 1-4, which share no patient
with hands 5-6) and scored on the others; without it every real hand is scored. The hands go to the
model as stage 2 sends a cohort's hands: one hand per image, mirrored so the thumb is on the right. The
real hands are shown in the other display convention from the synthetic ones (a left hand with its thumb on
the right); which sides to mirror is read off their labelled points, as stage 2 reads it off a cohort's
labelled hands. Then the joint refiner (:mod:`ra_lib.stages.detection.refine`, when the profile has one) is
trained on the same synthetic hands (with ``--finetune``: then fine-tuned on the real ones, starting from its
synthetic weights) and refines DeepLabCut's centres, checked against the hand shape
(:mod:`ra_lib.stages.detection.shape`) learnt from the hands it trained on last.

The score is paper 001's: a detection is correct when the true centre lies in the joint's box around it
(boxes scaled by the hand's proximal phalanx), and the mean distance error in pixels of the real images.
Printed: ``transfer/detection_rate`` and ``transfer/mean_error_px`` (also ``transfer/mean_error_paper_px``)
of the refined centres, the same names ending in ``/dlc`` for DeepLabCut's own, and ``synthetic/...`` on
scored synthetic hands.
"""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from ra_lib.cohort import load_cohort, sites
from ra_lib.cohort.upright import upright_cohort
from ra_lib.core import geometry
from ra_lib.core.profiles import parse_assignment, resolve
from ra_lib.stages.detection import PROFILES, dlc, evaluate, inputs, refine, splits
from ra_lib.stages.selection.orientation import orientation_truth

REPOSITORY = Path(__file__).resolve().parents[1]
REAL_SAMPLES = REPOSITORY.parent / "shared" / "real_samples" / "hands_joints"
#: The samples' point names as the book's landmarks (the W1-W5 wrist points have no SvdH site).
LANDMARK_NAMES = {"IP": "ip", "PIP2": "pip2", "PIP3": "pip3", "PIP4": "pip4", "PIP5": "pip5", "MP": "mcp1",
                  "MCP2": "mcp2", "MCP3": "mcp3", "MCP4": "mcp4", "MCP5": "mcp5"}
#: Hands that may fine-tune (patients 1-4), in order; the others (patients 5-6, both sides) are scored.
FINETUNE_ORDER = ("test_img1_L", "test_img2_L", "test_img3_L", "test_img4_L")
MAX_FINETUNE = len(FINETUNE_ORDER)


def upright_by_truth(cohort):
    """``cohort`` turned upright by its orientation truth (:func:`orientation_truth`: the generator's
    ``truth_images.csv``), as it is when it has none."""
    truth = orientation_truth(cohort, cohort.images["view"])
    return cohort if truth is None else upright_cohort(cohort, truth[["image_id", "rot90_k"]], "orientation truth")


class RealHands:
    """The real samples as stage 2 reads a cohort: a ``hands`` table, ``landmarks`` and :meth:`load_hand`."""

    def __init__(self, folder: Path):
        table = pd.read_csv(folder / "landmarks.csv")
        table = table[table["landmark"].isin(LANDMARK_NAMES)]
        self.files = {i: folder.parent / f for i, f in zip(table["image_id"], table["file"])}
        sides = {i: i.rsplit("_", 1)[-1] for i in self.files}
        self.images = {i: np.asarray(Image.open(p).convert("L"), dtype=np.float32) / 255.0
                       for i, p in self.files.items()}
        self.hands = pd.DataFrame({"hand_id": [f"{i}:{sides[i]}" for i in self.files], "image_id": list(self.files),
                                   "patient": [i.rsplit("_", 1)[0] for i in self.files],
                                   "hand": [sides[i] for i in self.files], "x0": 0,
                                   "x1": [self.images[i].shape[1] for i in self.files]})
        hand_of = dict(zip(self.hands["image_id"], self.hands["hand_id"]))
        self.landmarks = pd.DataFrame({"hand_id": table["image_id"].map(hand_of).to_numpy(),
                                       "landmark": table["landmark"].map(LANDMARK_NAMES).to_numpy(),
                                       "x": table["x"].to_numpy(float), "y": table["y"].to_numpy(float)})
        self.scores = pd.DataFrame(columns=["hand_id", "kind", "site", "grade"])

    def load_hand(self, hand_id: str, size=None, mirror_to_right: bool = False) -> np.ndarray:
        image_id, side = hand_id.split(":")
        image = self.images[image_id]
        if mirror_to_right and side == "L":
            image = geometry.mirror(image)
        return image if size is None else geometry.resize(image, size)


def _evaluated(detections: pd.DataFrame, hands, hand_ids) -> pd.DataFrame:
    """Each detected landmark of ``hand_ids`` once, scored against ``hands.landmarks`` (paper 001's rule)."""
    chosen = detections[detections["hand_id"].isin(set(hand_ids))]
    truth = hands.landmarks[hands.landmarks["landmark"].isin(set(chosen["landmark"]))]
    return evaluate.evaluate_detections(chosen, truth, hands.scores).drop_duplicates(["hand_id", "landmark"])


def score(detections: pd.DataFrame, hands, hand_ids) -> dict[str, float]:
    """Paper 001's detection rate and the mean distance error of ``detections`` on ``hand_ids`` of ``hands``
    (:class:`RealHands` or a cohort)."""
    once = _evaluated(detections, hands, hand_ids)
    return {"transfer/detection_rate": float(once["correct"].mean()),
            "transfer/mean_error_px": float(once["error_px"].mean()),
            "transfer/mean_error_paper_px": float(once["error_paper_px"].mean()),
            "transfer/landmarks": len(once)}


def per_landmark(detections: pd.DataFrame, real: RealHands, hand_ids) -> pd.DataFrame:
    """Detection rate and mean distance error (image pixels) per landmark."""
    by_landmark = _evaluated(detections, real, hand_ids).groupby("landmark", sort=False)
    return by_landmark.agg(rate=("correct", "mean"), error_px=("error_px", "mean"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", default="data_manifests/synthetic_quick.yaml")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--finetune", type=int, default=0, help=f"real hands to fine-tune on (0-{MAX_FINETUNE})")
    parser.add_argument("--finetune-epochs", type=int, default=20)
    parser.add_argument("--dlc-epochs", type=int, default=None, help="synthetic training epochs (profile's)")
    parser.add_argument("--pretrain-hands", type=int, default=None, help="synthetic pretraining hands (profile's)")
    parser.add_argument("--pretrain-epochs", type=int, default=None)
    parser.add_argument("--synthetic-scored", type=int, default=40,
                        help="scored synthetic hands also reported (the same model, the cohort's own kind of hand)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--per-landmark", action="store_true")
    parser.add_argument("--detections-out", default=None, help="CSV of the real hands' refined detections")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="stage-2 settings over the profile's (e.g. dlc_augmentation=archive)")
    parser.add_argument("--cache", default="_build/detection_pretrained",
                        help="folder (relative to the repository) caching the synthetic pretraining")
    args = parser.parse_args()
    if not REAL_SAMPLES.is_dir():
        print(f"skipped: no real samples at {REAL_SAMPLES.relative_to(REPOSITORY.parent)} beside the repository")
        return
    if not 0 <= args.finetune <= MAX_FINETUNE:
        parser.error(f"--finetune must lie in 0..{MAX_FINETUNE}")
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    knobs = {"pretrain_hands": args.pretrain_hands, "pretrain_epochs": args.pretrain_epochs}
    knobs.update(dict(parse_assignment(pair) for pair in args.set))
    settings = resolve(PROFILES, args.profile, dlc_epochs=args.dlc_epochs,
                       **{k: v for k, v in knobs.items() if v is not None})
    cohort = upright_by_truth(load_cohort(REPOSITORY / args.manifest if not Path(args.manifest).is_absolute()
                                          else args.manifest))
    real = RealHands(REAL_SAMPLES)
    finetune = [f"{i}:L" for i in FINETUNE_ORDER[:args.finetune]]
    scored = [h for h in real.hands["hand_id"] if h not in finetune]

    split = splits.split_hands(cohort, settings.n_train, settings.n_test, args.seed)
    synthetic_scored = [h for h in split["eval"] if h not in set(split["test"])][:args.synthetic_scored]
    hand_ids = split["train"] + split["test"] + synthetic_scored
    sides = inputs.thumb_right_sides(cohort.landmarks[cohort.landmarks["hand_id"].isin(split["train"])], cohort.hands)
    images, frames = inputs.load_model_inputs(cohort, hand_ids, settings.dlc_image_size, sides, progress=False)
    points = inputs.keypoints_in_model(cohort.landmarks, frames, sites.HAND_LANDMARKS)
    bodyparts = tuple(lm for lm in sites.HAND_LANDMARKS if lm in set(LANDMARK_NAMES.values()))
    points[:, [k for k, lm in enumerate(sites.HAND_LANDMARKS) if lm not in bodyparts]] = np.nan  # as a real cohort
    real_images, real_frames = inputs.load_model_inputs(real, list(real.hands["hand_id"]), settings.dlc_image_size,
                                                        inputs.thumb_right_sides(real.landmarks, real.hands),
                                                        progress=False)
    with tempfile.TemporaryDirectory() as folder:
        n_train = len(split["train"])
        weights = None
        if getattr(settings, "pretrain_hands", 0):  # the synthetic pretraining of stage 2, where the library has it
            from ra_lib.stages.detection import pretrain

            weights = pretrain.pretrained_weights(settings, bodyparts, REPOSITORY / args.cache, seed=args.seed)
        n_fit = n_train + len(split["test"])
        model, summary = dlc.fit(images[:n_fit], points[:n_fit], range(n_train), range(n_train, n_fit),
                                 Path(folder) / "synthetic", settings, seed=args.seed, weights=weights)
        synthetic = model.detect(images[n_fit:], frames[n_fit:], progress=False)
        if finetune:
            position = {h: n for n, h in enumerate(real.hands["hand_id"])}
            real_points = inputs.keypoints_in_model(real.landmarks, real_frames, sites.HAND_LANDMARKS)
            tuned = dataclasses.replace(settings, dlc_epochs=args.finetune_epochs, dlc_weights_path=str(
                dlc.snapshot_path(next(iter(model.projects.values())))))
            model, _ = dlc.fit(real_images, real_points, [position[h] for h in finetune],
                               [position[h] for h in scored[:1]], Path(folder) / "finetuned", tuned, seed=args.seed)
        detections = model.detect(real_images, real_frames, progress=False)
    figures = {f"{name}/dlc": value for name, value in score(detections, real, scored).items()}
    figures.update({f"{name.replace('transfer/', 'synthetic/')}/dlc": value
                    for name, value in score(synthetic, cohort, synthetic_scored).items()})
    if settings.refine_epochs:
        refiner, _ = refine.fit(cohort, cohort.landmarks[cohort.landmarks["landmark"].isin(bodyparts)], split["train"],
                                settings, seed=args.seed, progress=False)
        if finetune:
            tuned = dataclasses.replace(settings, refine_epochs=args.finetune_epochs)
            refiner, _ = refine.fit(real, real.landmarks, finetune, tuned, seed=args.seed, progress=False,
                                    initial=refiner)
        synthetic, detections = refiner.refine(cohort, synthetic, progress=False), refiner.refine(real, detections,
                                                                                                  progress=False)
    figures.update(score(detections, real, scored))
    figures.update({name.replace("transfer/", "synthetic/"): value
                    for name, value in score(synthetic, cohort, synthetic_scored).items()})
    pretrained = getattr(settings, "pretrain_hands", 0)
    print(f"profile {args.profile}: DeepLabCut {settings.dlc_net_type} at {settings.dlc_image_size} px, "
          f"pretrained on {pretrained} synthetic hands, {settings.dlc_epochs} epochs on {n_train} synthetic hands; "
          f"fine-tuned on {len(finetune)} real hand(s) "
          f"({args.finetune_epochs} epochs); scored on {len(scored)} real hands; "
          f"{time.perf_counter() - started:.0f} s")
    print(summary.to_string(index=False))
    if args.detections_out:
        _evaluated(detections, real, scored).to_csv(args.detections_out, index=False)
    if args.per_landmark:
        print(per_landmark(detections, real, scored).to_string(float_format=lambda v: f"{v:.3g}"))
    for name, value in figures.items():
        print(f"{name} {value:.4g}" if isinstance(value, float) else f"{name} {value}")


if __name__ == "__main__":
    main()
