"""Benchmark: generation speed of a synthetic cohort (default: the quick profile).

    .venv/bin/python bench/synthetic_cohort.py [--profile quick] [--workers 1]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from ra_lib.synthetic import generate_cohort


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu = time.perf_counter(), time.process_time()
        out = generate_cohort(Path(tmp) / "cohort", profile=args.profile, seed=args.seed, workers=args.workers)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        truth = pd.read_csv(out / "truth_images.csv")
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    n = len(truth)
    print(f"profile={args.profile} seed={args.seed} workers={args.workers}: {n} images "
          f"({ {k: int(v) for k, v in truth['view'].value_counts().items()} }), {size / 2**20:.0f} MiB")
    print(f"wall {wall:.1f} s -> {n / wall:.1f} images/s; main-process CPU {cpu:.1f} s")


if __name__ == "__main__":
    main()
