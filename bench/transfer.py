"""Transfer benchmark: train on a synthetic cohort only, evaluate on real radiographs (issue 17).

    .venv/bin/python bench/transfer.py                                  # quick cohort, quick stage-1 profile
    .venv/bin/python bench/transfer.py --archive-display                # turns and thumb sides as in archives
    .venv/bin/python bench/transfer.py --selection-profile paper --device auto

Selection: paper 000's two binary CNNs (``ra_lib.stages.selection``) are trained on the synthetic
cohort (patients 1 in 8 held out for early stopping), fused into one hand / both hands / other, and
applied to ``REAL/hands_orientation`` (one hand or both hands at four quarter turns). Prints
``transfer/selection_accuracy`` (all rotations) and ``transfer/selection_accuracy_upright``.

Orientation: stage 1's orientation model is trained on the same cohort's hand images (their 8 exact
variants, labelled from the generator's ``truth_images.csv``) and applied to the real images: prints
``transfer/orientation_rotation_accuracy``, ``transfer/orientation_thumb_side_accuracy`` (single hands)
and ``transfer/selection_accuracy_upright_after``, the fused selection on each real image brought
upright with its predicted orientation. ``--archive-display`` generates the cohort with
``ra_lib.synthetic.settings.ARCHIVE_DISPLAY`` (``rotated_fraction``, ``dorsal_fraction`` as real archives
show); ``--set`` overrides come after it.
``REAL`` defaults to ``../shared/real_samples`` beside the repository; when it is absent the
benchmark says so and exits 0. The joint-detection transfer (``transfer/detection_rate``,
``transfer/mean_error_px`` on ``REAL/hands_joints``) is ``bench/detection_real_samples.py``.
"""
from __future__ import annotations

import argparse
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
from ra_lib.core.profiles import parse_assignment  # noqa: E402
from ra_lib.stages.selection import PROFILES as SELECTION_PROFILES  # noqa: E402
from ra_lib.stages.selection.data import preload_images, view_classes  # noqa: E402
from ra_lib.stages.selection.evaluate import fuse  # noqa: E402
from ra_lib.stages.selection.orientation import check_truth, decode, upright  # noqa: E402
from ra_lib.stages.selection.orientation_model import (predict_orientation, preload_squares,  # noqa: E402
                                                       train_orientation)
from ra_lib.stages.selection.train import TrainedModels, train_models  # noqa: E402
from ra_lib.core.training import select_device  # noqa: E402
from ra_lib.synthetic import generate_cohort  # noqa: E402
from ra_lib.synthetic.settings import ARCHIVE_DISPLAY  # noqa: E402

DEFAULT_REAL = REPO.parent / "shared" / "real_samples"


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


def _real_labels(real: Path) -> pd.DataFrame:
    labels = pd.read_csv(real / "hands_orientation" / "labels.csv", keep_default_na=False)
    return labels.assign(rot90_k=labels["rotation_ccw_deg"].astype(int) // 90)


def _fused_views(trained: TrainedModels, images: torch.Tensor, settings, device) -> np.ndarray:
    prob = trained.predict(images, settings.batch_size, device)
    return fuse(prob["model1"][:, 1], prob["model2"][:, 1], settings.threshold)


def selection_transfer(cohort: Path, real: Path, settings, seed: int, device) -> tuple[dict, TrainedModels]:
    """Train Model 1 and Model 2 on the cohort; accuracies of the fused rule on the real images."""
    images = pd.read_csv(cohort / "images.csv", dtype={"patient_id": str})
    classes = view_classes(images["view"])
    cache = preload_images(images["image_id"].tolist(), _loader(cohort, images["image_id"], images["path"]),
                           settings.input_size, equalize=settings.equalize)
    trained = train_models(cache, classes, _split(images["patient_id"]), settings, seed, device,
                           tasks=("model1", "model2"))
    labels = _real_labels(real)
    real_cache = preload_images(labels["image_id"].tolist(), _loader(real, labels["image_id"], labels["file"]),
                                settings.input_size, equalize=settings.equalize)
    labels["pred"] = _fused_views(trained, real_cache, settings, device)
    labels["correct"] = labels["pred"] == labels["view"]
    table = labels.groupby(["view", "rotation_ccw_deg"])["correct"].mean().unstack()
    print("real accuracy by view and rotation (ccw deg):\n" + table.to_string(float_format=lambda v: f"{v:.2f}"))
    print("predicted:", labels["pred"].value_counts().to_dict())
    return ({"transfer/selection_accuracy": float(labels["correct"].mean()),
             "transfer/selection_accuracy_upright": float(labels.loc[labels["rot90_k"] == 0, "correct"].mean())},
            trained)


def orientation_transfer(cohort: Path, real: Path, settings, seed: int, device, trained: TrainedModels) -> dict:
    """Train the orientation model on the cohort's hands; its accuracy on the real images, and the fused
    selection's accuracy on the real images brought upright with its predictions."""
    images = pd.read_csv(cohort / "images.csv", dtype={"patient_id": str})
    truth = pd.read_csv(cohort / "truth_images.csv", dtype={"image_id": str}, keep_default_na=False)
    images = images.merge(truth[["image_id", "rot90_k", "thumb_side"]], on="image_id", how="left", validate="1:1")
    images["class"] = view_classes(images["view"])
    images = check_truth(images, images["class"], str(cohort / "truth_images.csv"))
    hands = images[images["class"] != "other"].reset_index(drop=True)
    cache = preload_squares(hands["image_id"].tolist(), _loader(cohort, hands["image_id"], hands["path"]),
                            settings.orientation_input_size)
    model, history = train_orientation(cache, hands["class"], hands["thumb_side"], hands["rot90_k"],
                                       _split(hands["patient_id"]), settings, seed, device)
    print(f"orientation model: {len(hands)} synthetic hands x 8 variants, {len(history)} epoch(s), "
          f"last val loss {history['val_loss'].iloc[-1]:.3f}")
    labels = _real_labels(real)
    load_real = _loader(real, labels["image_id"], labels["file"])
    real_cache = preload_squares(labels["image_id"].tolist(), load_real, settings.orientation_input_size)
    predicted = decode(predict_orientation(model, real_cache, settings.orientation_batch_size, device))
    labels = pd.concat([labels, predicted], axis=1)
    labels["rotation_correct"] = labels["rot90_k_pred"] == labels["rot90_k"]
    one_hand = labels["view"] == "one_hand"
    thumb_correct = labels["thumb_side_pred"] == labels["thumb_side"]
    labels["thumb_correct"] = thumb_correct.astype(float).where(one_hand)  # single hands only
    print("real orientation accuracy by view and rotation (ccw deg):\n" + labels.groupby(["view", "rotation_ccw_deg"])[
        ["rotation_correct", "thumb_correct"]].mean().to_string(float_format=lambda v: f"{v:.2f}"))
    rows = {image_id: row for image_id, row in zip(labels["image_id"], labels.to_dict(orient="records"))}
    upright_cache = preload_images(labels["image_id"].tolist(), lambda i: upright(load_real(i), rows[i]),
                                   settings.input_size, equalize=settings.equalize)
    labels["pred_after"] = _fused_views(trained, upright_cache, settings, device)
    print("fused selection after orientation (rows: truth):\n"
          + pd.crosstab(labels["view"], labels["pred_after"]).to_string())
    after = labels["pred_after"].to_numpy() == labels["view"].to_numpy()
    return {"transfer/orientation_rotation_accuracy": float(labels["rotation_correct"].mean()),
            "transfer/orientation_thumb_side_accuracy": float(labels.loc[one_hand, "thumb_correct"].mean()),
            "transfer/selection_accuracy_upright_after": float(after.mean())}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick", help="synthetic cohort profile")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="generator setting overrides")
    parser.add_argument("--archive-display", action="store_true",
                        help=f"generate the cohort with {ARCHIVE_DISPLAY} (turns and thumb sides as in archives)")
    parser.add_argument("--selection-profile", default="quick", choices=sorted(SELECTION_PROFILES))
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL, help="real samples folder")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: --workers)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    if not (args.real / "hands_orientation" / "labels.csv").is_file():
        print(f"no real samples at {args.real}: nothing to measure")
        return {}
    torch.set_num_threads(max(args.threads or args.workers, 1))
    device = select_device(args.device)
    display = ARCHIVE_DISPLAY if args.archive_display else {}
    overrides = {**display, **dict(parse_assignment(pair) for pair in args.set)}
    cohort = synthetic_cohort(args.profile, args.seed, overrides, args.workers)
    settings = SELECTION_PROFILES[args.selection_profile]
    results, trained = selection_transfer(cohort, args.real, settings, args.seed, device)
    results.update(orientation_transfer(cohort, args.real, settings, args.seed, device, trained))
    for name, value in results.items():
        print(f"{name} = {value:.4f}")
    return results


if __name__ == "__main__":
    main()
