"""Scoring test data: a tiny build (untrained smoke-sized bundles) and a folder of toy PNGs."""
import pytest

from fixtures.builders import make_native_cohort
from fixtures.scoring_builds import write_joint_bundles, write_png_folder, write_tiny_bundles
from ra_lib.cohort import load_cohort


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory):
    """A build's artifacts root with stage 1 and stage 5 bundles."""
    return write_tiny_bundles(tmp_path_factory.mktemp("build") / "artifacts")


@pytest.fixture
def png_folder(tmp_path):
    """Six toy radiographs under ``inputs/sub`` and one truncated PNG ``inputs/broken.png``."""
    return write_png_folder(tmp_path / "inputs")


@pytest.fixture(scope="session")
def joint_build(tmp_path_factory):
    """``(artifacts, cohort)``: a tiny native cohort and a build with all five bundles, stages 2-4 trained on
    it for one epoch; stage 1 calls every image a hand and has an (untrained) orientation model."""
    root = tmp_path_factory.mktemp("joint_build")
    cohort = load_cohort(make_native_cohort(root / "cohort", n_patients=3))
    artifacts = write_tiny_bundles(root / "artifacts", threshold=1e-6, with_orientation=True)
    return write_joint_bundles(artifacts, cohort), cohort
