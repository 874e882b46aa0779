"""``python -m ra_lib.cohort check MANIFEST [--deep] [--data-root DIR]``: every problem of a cohort, one per line."""
from __future__ import annotations

import argparse
import time

from ra_lib.cohort import schema
from ra_lib.cohort.manifest import load_manifest
from ra_lib.cohort.validation import CheckedTables, validate
from ra_lib.core.errors import ManifestError


def main(argv: list[str] | None = None) -> int:
    """Print problems one per line; exit 1 on any error, 2 on an internal error (never a traceback)."""
    parser = argparse.ArgumentParser(prog="python -m ra_lib.cohort",
                                     description="Check a cohort manifest and its data.")
    commands = parser.add_subparsers(dest="command", required=True)
    checker = commands.add_parser("check", help="report every problem of a cohort at once")
    checker.add_argument("manifest")
    checker.add_argument("--deep", action="store_true", help="also decode every image's pixels")
    checker.add_argument("--data-root", default=None, help="override the data root")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        manifest = load_manifest(args.manifest)
        checked, problems = validate(manifest, args.data_root, args.deep)
    except ManifestError as exc:
        checked, problems = None, exc.problems
    except Exception as exc:  # a bug, not bad data: still no traceback on the command line
        print(f"{args.manifest}: internal error while checking: {type(exc).__name__}: {exc}")
        return 2
    for problem in problems:
        print(problem)
    errors = sum(p.severity == "error" for p in problems)
    if errors or checked is None:
        print(f"{errors} error(s), {len(problems) - errors} warning(s)")
        return 1
    print(summary_line(checked, len(problems), time.perf_counter() - start))
    return 0


def summary_line(checked: CheckedTables, n_warnings: int, seconds: float) -> str:
    """The ``ok: ...`` line of a clean check."""
    images = checked.images
    hands = sum(len(schema.VIEW_TO_HANDS[v]) for v in images["view"])
    return (f"ok: cohort {checked.manifest.cohort!r} ({checked.manifest.format}): {len(images)} images, "
            f"{hands} hands, {images['patient_id'].nunique()} patients, {len(checked.scores)} scores, "
            f"{len(checked.landmarks)} landmarks, {len(checked.readers)} reader grades, "
            f"{checked.folds['fold'].nunique()} folds; {n_warnings} warning(s); checked in {seconds:.2f} s")
