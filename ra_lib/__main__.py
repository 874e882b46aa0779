"""``python -m ra_lib run|render|kernel``: build the book (see :mod:`ra_lib.core.runner`)."""
import sys

from ra_lib.core.runner import main

sys.exit(main())
