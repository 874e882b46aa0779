"""Synthetic RA hand-radiograph cohort: the book's default data.

Deterministic from a seed and written like a hospital export (DICOM + manifest tables),
so the same ingestion code reads it. Entry points: :func:`generate_cohort`,
:func:`export_ra2`, :func:`joint_grade_gallery`; CLI ``python -m ra_lib.synthetic``.
"""
from .cohort import generate_cohort
from .export import export_ra2
from .export_dicom_folder import export_dicom_folder
from .gallery import joint_grade_gallery
from .grades import DEFAULT_READERS, GradeParams, ReaderParams
from .settings import ARCHIVE_DISPLAY, GENERATOR_VERSION, PROFILES, CohortSettings, resolve_settings

__all__ = ["generate_cohort", "export_ra2", "joint_grade_gallery", "GradeParams", "ReaderParams", "DEFAULT_READERS",
           "CohortSettings", "PROFILES", "ARCHIVE_DISPLAY", "GENERATOR_VERSION", "resolve_settings"]
