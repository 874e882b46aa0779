"""``python -m ra_lib.cohort check MANIFEST``: validate a cohort (see :mod:`ra_lib.cohort.manifest`)."""
import sys

from ra_lib.cohort.manifest import main

sys.exit(main())
