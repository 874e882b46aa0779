"""Benchmark of stage 3 (joint classification): training throughput per model type and the wall time
of the whole cross-validation under a profile.

    .venv/bin/python bench/classification.py                       # stand-in store, quick profile
    .venv/bin/python bench/classification.py --profile smoke --set crop_size=48 epochs=10
    .venv/bin/python bench/classification.py --store _build/artifacts/02_joint_detection \
        --manifest data_manifests/synthetic_quick.yaml              # the real crop store and folds

Without ``--store`` the crops are a stand-in of the quick cohort's size (``--patients`` patients,
two both-hands radiographs each, 64-px crops, non-intact crops with a faint bright spot) so the
numbers do not depend on stage 2. Throughput: training *samples* per second (one sample = the
model's whole input, 1 to 10 crops) and crops per second, over all epochs actually run (forward
and backward, augmentation included, validation and test passes excluded), from wall-clock time.
The CPU time of the whole run is printed too: on a shared machine, run with ``--threads 1`` and read
the CPU time, which other people's load does not inflate.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from ra_lib.cohort.sites import HAND_SITES
from ra_lib.core.profiles import parse_assignment, resolve
from ra_lib.stages.classification import PROFILES
from ra_lib.stages.classification.evaluate import evaluation_table
from ra_lib.stages.classification.samples import hand_pairs
from ra_lib.stages.classification.cross_validation import run_cv


def stand_in_store(n_patients: int, images_per_patient: int = 2, size: int = 64, seed: int = 0):
    """Crops, crop index and folds shaped like a stage-2 store of ``n_patients`` patients."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        for v in range(images_per_patient):
            for hand in ("L", "R"):
                for site in HAND_SITES:
                    rows.append({"hand_id": f"img{p}-{v}:{hand}", "image_id": f"img{p}-{v}", "patient": f"P-{p:010x}",
                                 "hand": hand, "kind": site.kind, "site": site.site, "group": site.group,
                                 "x": 0.0, "y": 0.0, "flagged": False,
                                 "grade": int(rng.random() < (0.5 if site.group == "wrist" else 0.2))})
    index = pd.DataFrame(rows)
    index.insert(0, "crop_idx", np.arange(len(index)))
    images = rng.normal(0.4, 0.1, (len(index), size, size)).astype(np.float32)
    c, r = size // 2, size // 8
    images[index["grade"].to_numpy() > 0, c - r:c + r, c - r:c + r] += 0.15
    folds = pd.DataFrame({"patient": [f"P-{p:010x}" for p in range(n_patients)],
                          "fold": rng.permutation(np.arange(n_patients) % 8)})
    return np.clip(images, 0, 1), index, folds


def throughput(runs: pd.DataFrame) -> pd.DataFrame:
    """Training samples / s and crops / s per model type."""
    trained = runs[runs["status"] == "trained"].assign(
        samples=lambda r: r["n_train_balanced"] * r["epochs_run"],
        crops=lambda r: r["n_train_balanced"] * r["epochs_run"] * r["crops_per_sample"])
    table = trained.groupby("model", sort=False)[["samples", "crops", "seconds"]].sum()
    table["trainings"] = trained.groupby("model", sort=False).size()
    table["samples_per_s"] = table["samples"] / table["seconds"]
    table["crops_per_s"] = table["crops"] / table["seconds"]
    return table.reset_index()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--store", help="crop-store folder (stage 2); default: a stand-in store")
    parser.add_argument("--manifest", help="manifest whose cohort gives the folds (with --store)")
    parser.add_argument("--patients", type=int, default=40, help="stand-in store size")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="stage-3 settings over the profile's")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.store:
        from ra_lib.cohort import load_cohort
        from ra_lib.stages.detection.crops import load_crop_store

        store, cohort = load_crop_store(args.store), load_cohort(args.manifest)
        images, index, folds = store.images, store.index, cohort.folds
        pairs = hand_pairs(index, cohort.images)
    else:
        images, index, folds = stand_in_store(args.patients, seed=args.seed)
        pairs = None
    settings = resolve(PROFILES, args.profile, **dict(parse_assignment(pair) for pair in args.set))
    start, cpu_start = time.perf_counter(), time.process_time()
    result = run_cv(images, index, folds, settings, seed=args.seed, pairs=pairs, progress=False)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    table = throughput(result.runs)
    evaluation = evaluation_table(result.oof)
    overall = evaluation[evaluation["region"] == "all"][["kind", "model", "average_precision", "prevalence",
                                                         "f_measure"]]
    print(f"profile {args.profile}, {args.threads} threads, {len(index)} index rows, "
          f"{int((result.runs['status'] == 'trained').sum())} trainings: wall time {wall:.1f} s, CPU time {cpu:.1f} s")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
    print(overall.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return {"wall_s": wall, "cpu_s": cpu, "throughput": table, "overall": overall}


if __name__ == "__main__":
    main()
