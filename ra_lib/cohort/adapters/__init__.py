"""Format adapters: read one cohort layout into the manifest-table contracts of :mod:`ra_lib.cohort.schema`.

Each adapter's ``read(manifest, data_root)`` returns :class:`~ra_lib.cohort.adapters.tables.RawTables`:
string-valued tables with the manifest columns (real patient ids still in them) plus ``_file`` /
``_row`` (where each row came from) and the problems found while reading. Checking the values,
pseudonymising and building the per-hand tables is the same for every layout
(:mod:`ra_lib.cohort.validation`, :mod:`ra_lib.cohort.cohort`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ra_lib.cohort.adapters import dicom_folder, native, ra2
from ra_lib.cohort.adapters.tables import RawTables
from ra_lib.cohort.manifest import Manifest

#: Format name -> adapter (the formats are those of :data:`ra_lib.cohort.manifest.FORMAT_TABLES`).
ADAPTERS: dict[str, Callable[[Manifest, Path], RawTables]] = {
    "native": native.read, "ra2": ra2.read, "dicom_folder": dicom_folder.read}


def read_tables(manifest: Manifest, data_root: Path) -> RawTables:
    """Run the adapter of the manifest's format."""
    return ADAPTERS[manifest.format](manifest, data_root)
