"""Benchmark of stage 4 (joint grading and CDF regression): training throughput per network and the wall
time of the stage's computation (:func:`ra_lib.stages.grading.run`: data preparation, every grading
remedy for both kinds, the eroded-surface regressions, the grade CDF heads, predictions) under a profile.

    .venv/bin/python bench/grading.py                              # toy store, quick profile
    .venv/bin/python bench/grading.py --profile smoke
    .venv/bin/python bench/grading.py --artifacts _build/artifacts \\
        --manifest data_manifests/synthetic_quick.yaml              # stage 2's crop store and the cohort

Without ``--artifacts`` the crops and the cohort come from the test fixture
``tests/fixtures/crop_stores.py`` (``--patients`` patients, both hands, every hand site, 64-px crops,
four folds) so the numbers do not depend on stage 2. Throughput: training samples per second
(forward, backward, sampling and augmentation; the per-epoch validation pass is included in the wall
time, not in the samples).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from ra_lib.core.profiles import resolve
from ra_lib.stages import grading


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--artifacts", help="artifacts root holding stage 2's crop store; default: the toy store")
    parser.add_argument("--manifest", help="manifest of the cohort (scores, folds) with --artifacts")
    parser.add_argument("--patients", type=int, default=60, help="toy store size")
    parser.add_argument("--threads", type=int, default=2, help="torch threads outside training (the profile's "
                        "threads setting applies to training and prediction)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = resolve(grading.PROFILES, args.profile)
    if args.artifacts:
        from ra_lib.cohort.cohort import load_cohort
        from ra_lib.stages.detection.crops import read_crop_store

        cohort, store = load_cohort(args.manifest), read_crop_store(args.artifacts)
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from fixtures.crop_stores import toy_crop_store

        store, cohort = toy_crop_store(args.patients, crop_size=64, seed=args.seed)
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    result = grading.run(cohort, settings, seed=args.seed, crop_store=store, progress=False)
    wall, cpu = time.perf_counter() - wall_start, time.process_time() - cpu_start
    runs = result.timings()
    train_s = float(runs["seconds"].sum())
    data = result.data
    n_train = int(((data.rows["split"] == "train") & (data.rows["image_row"] >= 0)).sum())
    print(f"profile {args.profile} ({settings.arch}, {settings.crop_size} px), {args.threads} threads "
          f"(training: {settings.threads or args.threads}), {len(data.images)} usable crops ({n_train} training): "
          f"stage computation {wall:.1f} s wall, {cpu:.1f} s CPU, of which training {train_s:.1f} s")
    print(runs[["kind", "method", "samples", "seconds", "samples_per_s"]]
          .to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
    for table in (result.grading_table(), result.regression_table(), result.grade_cdf_table()):
        if len(table):
            print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    summary = {"profile": args.profile, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "train_s": round(train_s, 2),
               "usable_crops": len(data.images),
               "samples_per_s": runs.groupby("method")["samples"].sum().div(
                   runs.groupby("method")["seconds"].sum()).round(1).to_dict()}
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
