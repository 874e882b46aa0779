"""ra_lib: the library behind the ra-xray-book.

The public entry points are few: :func:`load_cohort` (read and check a cohort manifest) and
:data:`STAGES` (the book's chapters in run order). Each chapter's method lives in one package under
:mod:`ra_lib.stages`; shared machinery in :mod:`ra_lib.core`, cohort reading in :mod:`ra_lib.cohort`,
metrics and statistics in :mod:`ra_lib.evaluation`. ``python -m ra_lib run`` builds the book.
"""
from ra_lib.cohort import load_cohort
from ra_lib.core.contracts import STAGES

__all__ = ["STAGES", "load_cohort"]
