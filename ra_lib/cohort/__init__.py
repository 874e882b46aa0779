"""Reading and checking cohorts: one manifest (:mod:`~ra_lib.cohort.manifest`), a layout adapter
(:mod:`~ra_lib.cohort.adapters`), row and image checks (:mod:`~ra_lib.cohort.validation`), and the
pseudonymised per-hand :class:`Cohort` every stage reads, which :mod:`~ra_lib.cohort.upright` turns upright
by an orientation table.

``load_cohort(manifest)`` loads (raising :class:`~ra_lib.core.errors.ManifestError` with every
problem); ``check(manifest)`` only lists the problems; ``python -m ra_lib.cohort check MANIFEST``
prints them. The SvdH catalogue is :mod:`~ra_lib.cohort.sites`, the table contracts
:mod:`~ra_lib.cohort.schema`, patient folds :mod:`~ra_lib.cohort.folds`.
"""
from ra_lib.cohort.cohort import Cohort, check, load_cohort
from ra_lib.cohort.imageio import read_image
from ra_lib.cohort.manifest import FoldSpec, Manifest, load_manifest
from ra_lib.core.errors import ImageReadError, ManifestError, Problem

__all__ = ["Cohort", "FoldSpec", "ImageReadError", "Manifest", "ManifestError", "Problem", "check",
           "load_cohort", "load_manifest", "read_image"]
