"""Fuzz cohort ingestion: many one-mutation variants of tiny native, RA2 and DICOM-folder cohorts, and the outcome table.

Each case copies a tiny cohort, applies one seeded mutation (image bytes, a DICOM tag, a CSV value,
CSV rows or format, folds, the manifest, the file system, the salt; ``tests/fixtures/cohort_fuzz.py``)
and runs ``check`` (``--deep`` too), the command line, ``load_cohort``, ``load_image`` and
``load_hand``. A case taking over ``--hang`` seconds counts as a hang. Run from the repository root:

    .venv/bin/python bench/ingestion_fuzz.py [--cases 1500] [--seed 0] [--show 20]
"""
from __future__ import annotations

import argparse
import collections
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fixtures.cohort_fuzz import FORMATS, OUTCOMES, exercise, fresh_case, mutate  # noqa: E402
import ra_lib.core.geometry  # noqa: E402,F401  (torch, which load_hand imports on first use: not timed as a hang)

RULES_KEPT = ("clear error naming the file", "accepted")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hang", type=float, default=20.0, help="seconds after which a case counts as a hang")
    parser.add_argument("--show", type=int, default=20, help="cases breaking a rule to list")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rng = random.Random(args.seed)
    counts, families, broken = collections.Counter(), collections.Counter(), []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for case in range(args.cases):
            fmt = FORMATS[case % len(FORMATS)]
            manifest = fresh_case(Path(tmp) / "bases", Path(tmp) / f"case{case:05d}", fmt)
            mutation = mutate(manifest, rng)
            begun = time.perf_counter()
            outcome, detail = exercise(manifest, mutation)
            if time.perf_counter() - begun > args.hang:
                outcome = "hang"
            counts[outcome] += 1
            families[mutation.family] += 1
            if outcome not in RULES_KEPT:
                broken.append(f"{fmt}: {mutation.family}: {mutation.action} -> {outcome}: {detail}")
    seconds = time.perf_counter() - start
    print(f"{args.cases} cases (seed {args.seed}) in {seconds:.0f} s; mutations: "
          + ", ".join(f"{family} {n}" for family, n in sorted(families.items())))
    print("\n| outcome | cases |\n|---|---|")
    for outcome in OUTCOMES:
        print(f"| {outcome} | {counts[outcome]} |")
    for line in broken[:args.show]:
        print(line)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
