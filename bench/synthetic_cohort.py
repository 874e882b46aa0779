"""Benchmark: generation speed of a synthetic cohort (default: the quick profile).

    .venv/bin/python bench/synthetic_cohort.py [--profile quick] [--workers 1] [--set KEY=VALUE ...]

Prints wall time and the CPU time of this process and its rendering workers together: on a shared
machine the CPU time divided by the workers is the wall time the cohort needs on that many free cores.
"""
from __future__ import annotations

import argparse
import ast
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd

from ra_lib.synthetic import generate_cohort


def _cpu_seconds() -> float:
    """User + system CPU of this process and of its finished child processes."""
    return sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="generator setting overrides")
    args = parser.parse_args()
    overrides = {k: ast.literal_eval(v) for k, _, v in (pair.partition("=") for pair in args.set)}
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu = time.perf_counter(), _cpu_seconds()
        out = generate_cohort(Path(tmp) / "cohort", profile=args.profile, seed=args.seed, workers=args.workers,
                              **overrides)
        wall, cpu = time.perf_counter() - wall, _cpu_seconds() - cpu
        truth = pd.read_csv(out / "truth_images.csv")
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    n = len(truth)
    print(f"profile={args.profile} seed={args.seed} workers={args.workers}: {n} images "
          f"({ {k: int(v) for k, v in truth['view'].value_counts().items()} }), {size / 2**20:.0f} MiB")
    print(f"wall {wall:.1f} s -> {n / wall:.1f} images/s; CPU {cpu:.1f} s (workers included) -> "
          f"{cpu / max(args.workers, 1):.1f} s on {args.workers} free core(s)")


if __name__ == "__main__":
    main()
