"""The ``native`` layout: the CSV tables named in the manifest, as the synthetic generator writes them."""
from __future__ import annotations

from pathlib import Path

from ra_lib.cohort.adapters.tables import RawTables, read_csv_table, read_optional_tables, table_or_empty
from ra_lib.cohort.manifest import Manifest
from ra_lib.core.errors import Problem

#: Tables of the layout besides ``images``, all optional.
OPTIONAL_TABLES = ("joint_scores", "landmarks", "readers", "folds")


def read(manifest: Manifest, data_root: Path) -> RawTables:
    """Images, joint_scores, landmarks, readers and folds CSVs under the data root."""
    problems: list[Problem] = []
    images = read_csv_table(data_root / manifest.tables["images"], "images", manifest.ignore_columns, problems)
    other = read_optional_tables(manifest, data_root, problems, OPTIONAL_TABLES)
    return RawTables(images=table_or_empty(images, "images"), scores=table_or_empty(other["joint_scores"], "joint_scores"),
                     landmarks=table_or_empty(other["landmarks"], "landmarks"),
                     readers=table_or_empty(other["readers"], "readers"), folds=other["folds"], problems=problems)
