"""Score new radiographs with a built book's models.

    python -m ra_lib.score --models _build --out scored/ exports/ more/image.dcm
    python -m ra_lib.score --models _build --out scored/ --workers 0 data_manifests/my_cohort.yaml

INPUT: folders (searched recursively), image files (DICOM, PNG, JPEG) or cohort manifests (``.yaml``).
Models: the bundles under ``<models>/artifacts`` (or ``<models>`` itself when it has no ``artifacts``
folder), written by stages 1 and 5 of that build. Writes ``images`` and ``hands`` tables (Parquet and
CSV), one verdict PNG per image and ``report.html`` to OUT; a re-run skips the images already scored.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ra_lib.core.errors import RaDataError


def artifacts_root(models: str | Path) -> Path:
    """The artifacts folder of a build folder (or the folder itself when it is one)."""
    models = Path(models)
    return models / "artifacts" if (models / "artifacts").is_dir() else models


def main(argv: list[str] | None = None) -> int:
    from ra_lib.core.profiles import resolve
    from ra_lib.stages.scoring import PROFILES, run
    from ra_lib.stages.scoring.inputs import collect

    parser = argparse.ArgumentParser(prog="python -m ra_lib.score", description=__doc__.split("\n")[0])
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="folder, image file or cohort manifest")
    parser.add_argument("--models", default="_build", help="build folder whose artifacts hold the bundles")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--workers", type=int, default=None,
                        help="local dask workers (default: the machine's cores; 0: one process)")
    parser.add_argument("--scheduler", default=None, help="address of a running dask scheduler to use instead")
    parser.add_argument("--salt-file", default=None,
                        help="salt for patient pseudonyms (default: .ra_book_salt in the first input folder)")
    parser.add_argument("--profile", default="paper", choices=sorted(PROFILES))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    root = artifacts_root(args.models)
    if not root.is_dir():
        parser.error(f"--models {args.models}: no such folder")
    settings = resolve(PROFILES, args.profile, workers=args.workers)
    try:
        inputs = collect(args.inputs, args.salt_file)
    except RaDataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not inputs:
        print(f"error: no files found in {', '.join(args.inputs)}", file=sys.stderr)
        return 2
    result = run(inputs, root, args.out, settings, scheduler=args.scheduler, progress=not args.no_progress)
    flagged = int((result.images["status"] == "flagged").sum())
    print(f"{len(result.images)} image(s): {len(result.images) - flagged} scored, {flagged} flagged "
          f"({result.reused} reused from an earlier run) in {result.seconds:.1f} s; "
          f"report: {Path(args.out) / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
