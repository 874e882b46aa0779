"""Benchmark of stage 4 (joint grading and CDF regression): training throughput per run and the wall
time of the stage's computation (data preparation, every grading remedy for both kinds, both
regression heads, predictions) under a profile.

    .venv/bin/python bench/grading.py                              # toy store, quick profile
    .venv/bin/python bench/grading.py --profile smoke
    .venv/bin/python bench/grading.py --store _build/artifacts/02_joint_detection \\
        --manifest data_manifests/synthetic_quick.yaml              # the real crop store and cohort

Without ``--store`` the crops come from :func:`ra_lib.stages.grading.pipeline.toy_crop_store` (``--patients``
patients, both hands, every hand site, 64-px crops) so the numbers do not depend on stage 2.
Throughput: training samples per second (forward, backward, sampling and augmentation; the
per-epoch monitoring pass over the test crops is included in the wall time, not in the samples).
"""
from __future__ import annotations

import argparse
import json
import time

import pandas as pd
import torch

from ra_lib.stages.grading import cdf_regression as cdf
from ra_lib.stages.grading import pipeline as grading
from ra_lib.core.profiles import resolve


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--store", help="crop-store folder (stage 2); default: the toy store")
    parser.add_argument("--manifest", help="manifest of the cohort (scores, folds) with --store")
    parser.add_argument("--patients", type=int, default=60, help="toy store size")
    parser.add_argument("--threads", type=int, default=2, help="torch threads outside training (the profile's "
                        "threads setting applies to training and prediction)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = resolve(grading.PROFILES, args.profile)
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    if args.store:
        from ra_lib.stages.detection.crops import load_crop_store
        from ra_lib.cohort.manifest import load_cohort

        cohort = load_cohort(args.manifest)
        store, scores, folds = load_crop_store(args.store), cohort.scores, cohort.folds
    else:
        (store, scores), folds = grading.toy_crop_store(args.patients, crop_size=64, seed=args.seed), None
    data = grading.prepare_data(store, scores, settings.crop_size, folds, settings.test_fold, settings.n_folds,
                                args.seed)
    prepare_s = time.perf_counter() - wall_start
    graded = grading.run_grading(data, settings, args.seed, progress=False)
    regressed = cdf.run_cdf_regression(data, settings, args.seed, progress=False) if cdf.has_targets(data) else None
    wall = time.perf_counter() - wall_start
    cpu = time.process_time() - cpu_start
    runs = pd.concat([graded.timings.assign(task="grading"),
                      regressed.timings.assign(task="regression", kind="erosion") if regressed else None],
                     ignore_index=True)
    n_train = int(((data.rows["split"] == "train") & (data.rows["image_row"] >= 0)).sum())
    print(f"profile {args.profile} ({settings.arch}, {settings.crop_size} px), {args.threads} threads "
          f"(training: {settings.threads or args.threads}), "
          f"{len(data.images)} usable crops ({n_train} training): stage computation {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU, of which data preparation {prepare_s:.1f} s")
    print(runs[["task", "kind", "method", "samples", "seconds", "samples_per_s"]]
          .to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
    print(grading.grading_metrics(graded.predictions).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if regressed:
        print(cdf.regression_metrics(regressed).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    summary = {"profile": args.profile, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
               "prepare_s": round(prepare_s, 2), "usable_crops": len(data.images),
               "samples_per_s": runs.groupby("task")["samples"].sum().div(
                   runs.groupby("task")["seconds"].sum()).round(1).to_dict()}
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
