"""``python -m ra_lib run|render``: build the book (see :mod:`ra_lib.core.runner`)."""
import sys

from ra_lib.core.runner import main

sys.exit(main())
