"""Benchmark of scoring new radiographs: images per minute with 1 and 2 dask workers, and memory per worker.

    .venv/bin/python bench/scoring.py                    # 1000 synthetic radiographs, smoke-sized bundles
    .venv/bin/python bench/scoring.py --images 10000     # the issue's figure
    .venv/bin/python bench/scoring.py --models _build    # the bundles of a built book instead
    .venv/bin/python bench/scoring.py --workers 0 1 2    # with the single-process run (no dask) as reference

The radiographs are a synthetic cohort (smoke image size, as many visits as needed for ``--images``),
generated once into ``--work`` and reused. Each worker count scores every image into a fresh output
folder (nothing reused), so the time includes starting the cluster, loading the models once per
worker (most of it: importing torch), reading, selecting, scoring and drawing each image and writing
the tables. Peak memory is each worker process's peak resident set size (``--workers 0``: this process).
The speed-up is against the first worker count given.
"""
from __future__ import annotations

import argparse
import math
import shutil
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
from fixtures.scoring_builds import write_tiny_bundles  # noqa: E402
from ra_lib.stages.scoring import ScoringSettings, run  # noqa: E402
from ra_lib.stages.scoring.inputs import collect  # noqa: E402
from ra_lib.synthetic import generate_cohort  # noqa: E402

#: Images per visit of the synthetic generator, a little below its average (27 in 8 smoke visits; 987 in 306).
IMAGES_PER_VISIT = 3.0


def synthetic_images(work: Path, n_images: int) -> list[Path]:
    """``n_images`` synthetic DICOM radiographs (generated once per size)."""
    visits = math.ceil(n_images / IMAGES_PER_VISIT) + 2
    cohort = generate_cohort(work / f"cohort_{visits}", profile="smoke", seed=0, workers=2, n_patients=visits,
                             n_visits=visits)
    files = sorted(p for p in (cohort / "images").rglob("*") if p.is_file())
    if len(files) < n_images:
        raise SystemExit(f"the synthetic cohort has {len(files)} images, fewer than --images {n_images}")
    return files[:n_images]


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--models", default=None, help="a build folder (default: smoke-sized untrained bundles)")
    parser.add_argument("--work", default="_build/bench/scoring", help="folder for the cohort and the outputs")
    args = parser.parse_args(argv)
    work = Path(args.work)
    start = time.perf_counter()
    files = synthetic_images(work, args.images)
    print(f"{len(files)} synthetic radiographs ready in {time.perf_counter() - start:.0f} s", flush=True)
    artifacts = Path(args.models) / "artifacts" if args.models else write_tiny_bundles(work / "artifacts")
    inputs = collect(files, salt_file=work / ".ra_book_salt")
    rows, tables = [], {}
    for workers in args.workers:
        out = work / f"out_{workers}"
        shutil.rmtree(out, ignore_errors=True)
        settings = ScoringSettings(max_images=None, workers=workers)
        result = run(inputs, artifacts, out, settings)
        tables[workers] = result.images
        rows.append({"workers": workers, "images": len(result.images), "seconds": result.seconds,
                     "images_per_minute": 60 * len(result.images) / result.seconds,
                     "peak_rss_mib_per_worker": max(result.worker_peak_rss_mib)})
    table = pd.DataFrame(rows)
    table["speed_up"] = table["images_per_minute"] / table["images_per_minute"].iloc[0]
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    first = tables[args.workers[0]]
    same = all(t.equals(first) for t in tables.values())
    print(f"tables identical across worker counts: {same}")
    return table


if __name__ == "__main__":
    main()
