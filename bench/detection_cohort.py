"""Benchmark: stage 2 end to end on a cohort, its headline, flags per landmark and wall time.

    .venv/bin/python bench/detection_cohort.py [--manifest data_manifests/synthetic_quick.yaml]
        [--profile quick] [--set KEY=VALUE ...] [--per-landmark] [--threads 1] [--out DIR]

Runs :func:`ra_lib.stages.detection.run` exactly as the chapter does (both detectors, the baseline, the
crop store) into a temporary folder (or ``--out``, e.g. for ``bench/classification.py --store``) and prints every headline value (``detection_rate/<detector>/<kind>``,
``mean_error_paper_px/<detector>/<kind>``, ...) and the stage's seconds. A synthetic manifest's cohort is
generated first when missing. For the 700-hand timing of the detection issue, generate a cohort of that
size through a manifest (a copy of ``synthetic_quick.yaml`` with ``synthetic: {profile: quick, seed: 0,
n_patients: 175, n_visits: 350}`` and its own ``data_root``) and pass it.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from ra_lib.cohort import load_cohort
from ra_lib.core.profiles import parse_assignment, resolve
from ra_lib.core.runner import prepare_cohort
from ra_lib.stages import detection

REPOSITORY = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", default="data_manifests/synthetic_quick.yaml")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="stage-2 settings over the profile's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--per-landmark", action="store_true", help="detection rate and flags per landmark")
    parser.add_argument("--out", help="keep the stage's artifacts (detections, crop store) in this folder")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    manifest = Path(args.manifest) if Path(args.manifest).is_absolute() else REPOSITORY / args.manifest
    prepare_cohort(manifest)
    cohort = load_cohort(manifest)
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


if __name__ == "__main__":
    main()
