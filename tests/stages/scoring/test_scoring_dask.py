"""Scoring on a local dask.distributed cluster gives the tables of the single-process run."""
import dataclasses

import pandas as pd
import pytest

from ra_lib.stages.scoring import PROFILES, run
from ra_lib.stages.scoring.inputs import collect


@pytest.mark.parametrize("workers", [1, 2])
def test_local_cluster_tables_equal_single_process(artifacts, png_folder, tmp_path, workers):
    inputs = collect([png_folder])
    single = run(inputs, artifacts, tmp_path / "single", PROFILES["smoke"], progress=False)
    settings = dataclasses.replace(PROFILES["smoke"], workers=workers)
    cluster = run(inputs, artifacts, tmp_path / "cluster", settings, progress=False)
    pd.testing.assert_frame_equal(single.images, cluster.images)
    pd.testing.assert_frame_equal(single.hands, cluster.hands)
    assert len(cluster.worker_peak_rss_mib) == workers
    for picture in single.images["overlay"].dropna():
        assert (tmp_path / "single" / picture).read_bytes() == (tmp_path / "cluster" / picture).read_bytes()
