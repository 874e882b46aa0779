"""Benchmark: stage 2 end to end on a cohort, its headline, flags per landmark and wall time.

    .venv/bin/python bench/detection_cohort.py [--manifest data_manifests/synthetic_quick.yaml]
        [--profile quick] [--set KEY=VALUE ...] [--per-landmark] [--threads 1] [--out DIR]
        [--orientation none|predicted|truth] [--orientation-csv PATH]

Runs :func:`ra_lib.stages.detection.run` as the chapter does (both detectors, the baseline, the crop store)
into a temporary folder (or ``--out``, e.g. for ``bench/classification.py --store``) and prints every headline
value (``detection_rate/<detector>/<kind>``, ``mean_error_paper_px/<detector>/<kind>``, ...) and the stage's
seconds. A synthetic manifest's cohort is generated first when missing.

``--orientation`` turns the images upright first (:func:`ra_lib.cohort.upright.upright_cohort`): ``predicted``
by stage 1's predicted quarter turns, as the chapter does in ``quick`` and ``paper``, read from a build's
``orientation.csv`` (``--orientation-csv``) or else from stage 1's orientation model trained here with the
same profile (a minute or two; its table is kept in ``--out``); ``truth`` by the cohort's orientation
truth; ``none`` (default) uses the images as stored. Where the cohort has orientation truth, the detection
rate and mean error are also printed on the hands of the images stored turned (``rotated/...``).

For the 700-hand timing of the detection issue, generate a cohort of that size through a manifest (a copy of
``synthetic_quick.yaml`` with ``synthetic: {profile: quick, seed: 0, n_patients: 175, n_visits: 350}`` and its
own ``data_root``) and pass it.
"""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from ra_lib.cohort import load_cohort
from ra_lib.cohort.upright import upright_cohort
from ra_lib.core import artifacts
from ra_lib.core.profiles import parse_assignment, resolve
from ra_lib.core.runner import prepare_cohort
from ra_lib.stages import detection, selection
from ra_lib.stages.detection import evaluate
from ra_lib.stages.selection.data import view_classes
from ra_lib.stages.selection.orientation import orientation_truth
from ra_lib.stages.selection.orientation_evaluate import ORIENTATION_FILE
from ra_lib.stages.selection.stage import run_orientation, split_table
from ra_lib.stages.selection.upright import predicted_orientation, read_orientation_predictions

REPOSITORY = Path(__file__).resolve().parents[1]


def stage1_predictions(cohort, args) -> pd.DataFrame:
    """Stage 1's ``orientation.csv``: read from ``--orientation-csv``, else trained here (kept in ``--out``)."""
    if args.orientation_csv:
        return read_orientation_predictions(args.orientation_csv)
    settings = resolve(selection.PROFILES, args.profile)
    started = time.perf_counter()
    table = run_orientation(cohort, split_table(cohort, settings), settings, args.seed, progress=False).table
    print(f"stage 1's orientation model ({args.profile}) trained and applied in {time.perf_counter() - started:.0f} s")
    if args.out:
        artifacts.write_table(table, Path(args.out) / ORIENTATION_FILE)
    return table


def orientation_table(cohort, truth: pd.DataFrame | None, args) -> pd.DataFrame | None:
    """The orientation table ``--orientation`` asks for (None: images as stored); prints how many it turns."""
    if args.orientation == "none":
        return None
    if args.orientation == "truth":
        if truth is None:
            raise SystemExit("--orientation truth: this cohort has no orientation truth")
        return truth[["image_id", "rot90_k"]]
    predictions = stage1_predictions(cohort, args)
    if truth is not None and len(predictions):
        known = predictions.merge(truth, on="image_id")
        for name, rows in (("every split", known), ("test split", known[known["split"] == "test"])):
            print(f"predicted quarter turn right on {(rows['rot90_k_pred'] == rows['rot90_k']).mean():.4f} of "
                  f"{len(rows)} hand images ({name})")
    return predicted_orientation(predictions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", default="data_manifests/synthetic_quick.yaml")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="stage-2 settings over the profile's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--per-landmark", action="store_true", help="detection rate and flags per landmark")
    parser.add_argument("--out", help="keep the stage's artifacts (detections, crop store) in this folder")
    parser.add_argument("--orientation", choices=("none", "predicted", "truth"), default="none",
                        help="turn images upright first: by stage 1's predictions, by the truth, or not")
    parser.add_argument("--orientation-csv", help="a build's orientation.csv for --orientation predicted")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    manifest = Path(args.manifest) if Path(args.manifest).is_absolute() else REPOSITORY / args.manifest
    prepare_cohort(manifest)
    cohort = load_cohort(manifest)
    truth = orientation_truth(cohort, view_classes(cohort.images["view"]))
    orientation = orientation_table(cohort, truth, args)
    if orientation is not None:
        cohort = upright_cohort(cohort, orientation, args.orientation_csv or f"{args.orientation} orientation")
        print(f"--orientation {args.orientation}: {(orientation['rot90_k'] != 0).sum()} of {len(cohort.images)} "
              f"images turned upright")
    settings = resolve(detection.PROFILES, args.profile, **dict(parse_assignment(pair) for pair in args.set))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        result = detection.run(cohort, settings, seed=args.seed, out_dir=args.out or folder, progress=False)
    seconds = time.perf_counter() - started
    print(f"{manifest.name}: {len(cohort.hands)} hands, profile {args.profile}, overrides {args.set or 'none'}; "
          f"stage 2 in {seconds:.0f} s")
    if args.per_landmark and result.trained:
        print(result.per_landmark().to_string(float_format=lambda v: f"{v:.3f}"))
        print(result.flags_by_landmark().to_string(index=False))
    for name, value in result.headline().items():
        print(f"{name} {value:.4g}" if isinstance(value, float) else f"{name} {value}")
    if truth is not None and result.trained:
        print_rotated(result, cohort, truth)


def print_rotated(result, cohort, truth: pd.DataFrame) -> None:
    """Detection rate and mean error on the scored hands of the images stored turned."""
    turned = cohort.hands[cohort.hands["image_id"].isin(set(truth.loc[truth["rot90_k"] != 0, "image_id"]))]
    rows = result.evaluated[result.evaluated["hand_id"].isin(set(turned["hand_id"]))]
    print(f"rotated: {rows['hand_id'].nunique()} scored hands of the {turned['image_id'].nunique()} hand images "
          f"stored turned")
    if rows.empty:
        return
    subset = dataclasses.replace(result, rates=evaluate.detection_rates(rows), errors=evaluate.distance_errors(rows))
    for name, value in subset.headline().items():
        if name.startswith(("detection_rate/", "mean_error_paper_px/")) and value is not None:
            print(f"rotated/{name} {value:.4g}")


if __name__ == "__main__":
    main()
