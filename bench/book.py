"""Benchmark: cold and warm builds of the book, wall time and peak RSS per stage.

    .venv/bin/python bench/book.py [--profile quick] [--manifest data_manifests/synthetic_quick.yaml]

Targets (benchmark, not test): the whole quick book on the synthetic default in <= 10 min on two
cores and <= 4 GiB peak RSS; a re-run with nothing changed in <= 5 % of the cold time.
A cold build uses a fresh build folder (the cohort generation is included only if its folder is new).
"""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from ra_lib.core import runner as book

TARGET_COLD_S, TARGET_RSS_MIB, TARGET_WARM_FRACTION = 600, 4096, 0.05


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--manifest", default="data_manifests/synthetic_quick.yaml")
    parser.add_argument("--build-dir", default="_build/bench")
    args = parser.parse_args()
    shutil.rmtree(book.REPO_ROOT / args.build_dir, ignore_errors=True)
    timings = {}
    for label in ("cold", "warm"):
        start = time.perf_counter()
        results = book.run(args.profile, args.manifest, build_dir=args.build_dir)
        timings[label] = (time.perf_counter() - start, results)
    cold_s, cold = timings["cold"]
    warm_s, _ = timings["warm"]
    peak = max(r.peak_rss_mib for r in cold)
    print(f"{'stage':<28}{'cold s':>8}{'peak RSS MiB':>14}")
    for r in cold:
        print(f"{r.stage:<28}{r.seconds:>8.1f}{r.peak_rss_mib:>14.0f}")
    print(f"\ncold build (stages + render): {cold_s:.1f} s  (target <= {TARGET_COLD_S} s)")
    print(f"peak RSS of any stage: {peak:.0f} MiB  (target <= {TARGET_RSS_MIB} MiB)")
    print(f"warm re-run: {warm_s:.1f} s = {100 * warm_s / cold_s:.1f} % of cold "
          f"(target <= {100 * TARGET_WARM_FRACTION:.0f} %)")


if __name__ == "__main__":
    main()
