"""Transfer benchmark: train on a synthetic cohort only, evaluate on real radiographs (issue 17).

    .venv/bin/python bench/transfer.py                                  # quick cohort, quick stage-1 profile
    .venv/bin/python bench/transfer.py --set rotated_fraction=0.75 dorsal_fraction=0.6   # archive display
    .venv/bin/python bench/transfer.py --selection-profile paper --device auto

Selection: paper 000's two binary CNNs (``ra_lib.stages.selection``) are trained on the synthetic
cohort (patients 1 in 8 held out for early stopping), fused into one hand / both hands / other, and
applied to ``REAL/hands_orientation`` (one hand or both hands at four quarter turns). Prints
``transfer/selection_accuracy`` (all rotations) and ``transfer/selection_accuracy_upright``.
``REAL`` defaults to ``../shared/real_samples`` beside the repository; when it is absent the
benchmark says so and exits 0. The joint-detection transfer (``transfer/detection_rate``,
``transfer/mean_error_px`` on ``REAL/hands_joints``) is not built yet.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ra_lib.cohort.imageio import read_image  # noqa: E402
from ra_lib.stages.selection import PROFILES as SELECTION_PROFILES  # noqa: E402
from ra_lib.stages.selection.data import preload_images, view_classes  # noqa: E402
from ra_lib.stages.selection.evaluate import fuse  # noqa: E402
from ra_lib.stages.selection.train import train_models  # noqa: E402
from ra_lib.core.training import select_device  # noqa: E402
from ra_lib.synthetic import generate_cohort  # noqa: E402

DEFAULT_REAL = REPO.parent / "shared" / "real_samples"


def parse_overrides(pairs: list[str]) -> dict:
    """``key=value`` generator settings (values as Python literals where they parse)."""
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def synthetic_cohort(profile: str, seed: int, overrides: dict, workers: int) -> Path:
    """Generate (or reuse) the training cohort under ``_build/cohorts/``."""
    tag = hashlib.sha1(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:8]
    return generate_cohort(REPO / "_build" / "cohorts" / f"transfer-{profile}-s{seed}-{tag}", profile=profile,
                           seed=seed, workers=workers, **overrides)


def _split(patients: pd.Series) -> np.ndarray:
    """Patient-disjoint ``train`` / ``val`` (one patient in eight validates)."""
    codes = patients.map(lambda p: int(hashlib.sha1(p.encode()).hexdigest(), 16) % 8)
    return np.where(codes == 0, "val", "train").astype(object)


def _loader(root: Path, ids, paths):
    """``image_id -> float image`` for files listed relative to ``root``."""
    path_of = dict(zip(ids, paths))
    return lambda image_id: read_image(root / path_of[image_id])[0]


def selection_transfer(cohort: Path, real: Path, profile: str, seed: int, device) -> dict:
    """Train Model 1 and Model 2 on the cohort; accuracies of the fused rule on the real images."""
    settings = SELECTION_PROFILES[profile]
    images = pd.read_csv(cohort / "images.csv", dtype={"patient_id": str})
    classes = view_classes(images["view"])
    cache = preload_images(images["image_id"].tolist(), _loader(cohort, images["image_id"], images["path"]),
                           settings.input_size)
    trained = train_models(cache, classes, _split(images["patient_id"]), settings, seed, device,
                           tasks=("model1", "model2"))
    labels = pd.read_csv(real / "hands_orientation" / "labels.csv")
    real_cache = preload_images(labels["image_id"].tolist(), _loader(real, labels["image_id"], labels["file"]),
                                settings.input_size)
    prob = trained.predict(real_cache, settings.batch_size, device)
    labels["pred"] = fuse(prob["model1"][:, 1], prob["model2"][:, 1], settings.threshold)
    labels["correct"] = labels["pred"] == labels["view"]
    table = labels.groupby(["view", "rotation_ccw_deg"])["correct"].mean().unstack()
    print("real accuracy by view and rotation (ccw deg):\n" + table.to_string(float_format=lambda v: f"{v:.2f}"))
    print("predicted:", labels["pred"].value_counts().to_dict())
    return {"transfer/selection_accuracy": float(labels["correct"].mean()),
            "transfer/selection_accuracy_upright": float(labels.loc[labels["rotation_ccw_deg"] == 0, "correct"].mean())}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick", help="synthetic cohort profile")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="generator setting overrides")
    parser.add_argument("--selection-profile", default="quick", choices=sorted(SELECTION_PROFILES))
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL, help="real samples folder")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    if not (args.real / "hands_orientation" / "labels.csv").is_file():
        print(f"no real samples at {args.real}: nothing to measure")
        return {}
    torch.set_num_threads(max(args.workers, 1))
    device = select_device(args.device)
    cohort = synthetic_cohort(args.profile, args.seed, parse_overrides(args.set), args.workers)
    results = selection_transfer(cohort, args.real, args.selection_profile, args.seed, device)
    for name, value in results.items():
        print(f"{name} = {value:.4f}")
    return results


if __name__ == "__main__":
    main()
