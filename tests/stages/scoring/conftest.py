"""Scoring test data: a tiny build (untrained smoke-sized bundles) and a folder of toy PNGs."""
import pytest

from fixtures.scoring_builds import write_png_folder, write_tiny_bundles


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory):
    """A build's artifacts root with stage 1 and stage 5 bundles."""
    return write_tiny_bundles(tmp_path_factory.mktemp("build") / "artifacts")


@pytest.fixture
def png_folder(tmp_path):
    """Six toy radiographs under ``inputs/sub`` and one truncated PNG ``inputs/broken.png``."""
    return write_png_folder(tmp_path / "inputs")
