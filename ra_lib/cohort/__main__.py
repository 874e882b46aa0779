"""``python -m ra_lib.cohort check MANIFEST``: validate a cohort (see :mod:`ra_lib.cohort.cli`)."""
import sys

from ra_lib.cohort.cli import main

sys.exit(main())
