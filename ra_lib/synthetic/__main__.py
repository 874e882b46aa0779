"""CLI: ``python -m ra_lib.synthetic OUT --profile quick --seed 0 [--ra2 OUT2] [--dicom-folder OUT3] [--workers N]``."""
from __future__ import annotations

import argparse
import time

from . import export_dicom_folder, export_ra2, generate_cohort
from .settings import PROFILES


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ra_lib.synthetic", description=__doc__)
    parser.add_argument("out", help="output folder of the cohort")
    parser.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="rendering processes")
    parser.add_argument("--ra2", metavar="OUT2", help="also write an RA2-DREAM style export here")
    parser.add_argument("--dicom-folder", metavar="OUT3", help="also write a PACS-style DICOM-folder export here")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    out = generate_cohort(args.out, profile=args.profile, seed=args.seed, workers=args.workers)
    print(f"cohort: {out} ({time.perf_counter() - start:.1f} s)")
    if args.ra2:
        print(f"RA2 export: {export_ra2(out, args.ra2)}")
    if args.dicom_folder:
        print(f"DICOM-folder export: {export_dicom_folder(out, args.dicom_folder)}")


if __name__ == "__main__":
    main()
