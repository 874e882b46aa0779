"""Scoring on dask.distributed (a local cluster it starts, or a user's scheduler) gives the single-process tables."""
import dataclasses
import logging

import pandas as pd

from ra_lib.stages.scoring import PROFILES, run
from ra_lib.stages.scoring.inputs import collect, from_cohort


def assert_same_outputs(single, other):
    pd.testing.assert_frame_equal(single.images, other.images)
    pd.testing.assert_frame_equal(single.hands, other.hands)
    pd.testing.assert_frame_equal(single.joints, other.joints)
    for picture in single.images["overlay"].dropna():
        assert (single.out_dir / picture).read_bytes() == (other.out_dir / picture).read_bytes()


def test_local_cluster_of_two_workers_equals_single_process(artifacts, png_folder, tmp_path):
    inputs = collect([png_folder])
    single = run(inputs, artifacts, tmp_path / "single", PROFILES["smoke"], progress=False)
    cluster = run(inputs, artifacts, tmp_path / "cluster", dataclasses.replace(PROFILES["smoke"], workers=2),
                  progress=False)
    assert_same_outputs(single, cluster)
    assert len(cluster.worker_peak_rss_mib) == 2


def test_a_users_scheduler_is_used(artifacts, png_folder, tmp_path):
    from distributed import LocalCluster

    inputs = collect([png_folder])
    single = run(inputs, artifacts, tmp_path / "single", PROFILES["smoke"], progress=False)
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None, silence_logs=logging.ERROR) as users:
        remote = run(inputs, artifacts, tmp_path / "remote", PROFILES["smoke"], scheduler=users.scheduler_address,
                     progress=False)
    assert_same_outputs(single, remote)
    assert len(remote.worker_peak_rss_mib) == 1


def test_joints_scored_on_a_local_cluster_equal_the_single_process_ones(joint_build, tmp_path):
    artifacts, cohort = joint_build
    inputs = from_cohort(cohort)[:4]
    single = run(inputs, artifacts, tmp_path / "single", PROFILES["smoke"], progress=False)
    cluster = run(inputs, artifacts, tmp_path / "cluster", dataclasses.replace(PROFILES["smoke"], workers=2),
                  progress=False)
    assert len(single.joints) and single.joints["detection"].eq("found").any()
    assert_same_outputs(single, cluster)
