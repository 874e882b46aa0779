import dataclasses

import numpy as np
import pytest

from ra_lib.stages.detection import dlc, pretrain
from ra_lib.stages.detection.settings import PROFILES

SETTINGS = dataclasses.replace(PROFILES["smoke"], pretrain_hands=3, pretrain_epochs=1, pretrain_generator="smoke")
BODYPARTS = ("pip2", "mcp2", "radius")


def test_cache_key_follows_generator_settings_bodyparts_and_seed(monkeypatch):
    key = pretrain.cache_key(SETTINGS, BODYPARTS, 0)
    assert key == pretrain.cache_key(SETTINGS, BODYPARTS, 0)
    assert key != pretrain.cache_key(SETTINGS, BODYPARTS, 1)
    assert key != pretrain.cache_key(SETTINGS, BODYPARTS[:2], 0)
    assert key != pretrain.cache_key(dataclasses.replace(SETTINGS, pretrain_epochs=2), BODYPARTS, 0)
    assert key == pretrain.cache_key(dataclasses.replace(SETTINGS, n_train=7, frcnn_epochs=9), BODYPARTS, 0)
    monkeypatch.setattr("ra_lib.synthetic.settings.GENERATOR_VERSION", "next")
    assert key != pretrain.cache_key(SETTINGS, BODYPARTS, 0)


@pytest.fixture
def fake_fit(monkeypatch):
    """dlc.fit replaced by a recorder that writes a snapshot per model."""
    calls = []

    class Project:
        def __init__(self, folder):
            self.folder = folder

    def fit(images, points, train_idx, test_idx, folder, settings, seed=0, device="cpu", weights=None):
        calls.append({"images": images, "points": points, "train": list(train_idx), "test": list(test_idx),
                      "epochs": settings.dlc_epochs})
        projects = {}
        for name in dlc.model_bodyparts(settings.dlc_models, set(BODYPARTS)):
            (folder / name).mkdir(parents=True)
            (folder / name / "snapshot.pt").write_bytes(b"weights")
            projects[name] = Project(folder / name)
        return dlc.DlcDetector(projects, images.shape[-1]), None

    monkeypatch.setattr(dlc, "fit", fit)
    monkeypatch.setattr(dlc, "snapshot_path", lambda project: project.folder / "snapshot.pt")
    return calls


def test_pretraining_trains_on_generated_hands_once_then_reads_the_cache(tmp_path, fake_fit):
    weights = pretrain.pretrained_weights(SETTINGS, BODYPARTS, tmp_path, seed=0, progress=False)
    assert set(weights) == {"hand"} and weights["hand"].read_bytes() == b"weights"
    assert weights["hand"].parent.parent.name == pretrain.cache_key(SETTINGS, BODYPARTS, 0)
    (call,) = fake_fit
    assert len(call["train"]) == SETTINGS.pretrain_hands and len(call["test"]) == pretrain.HELD_OUT
    assert call["epochs"] == SETTINGS.pretrain_epochs and call["images"].shape[1:] == (64, 64)
    labelled = np.isfinite(call["points"][..., 0]).any(axis=0)
    from ra_lib.cohort import sites
    assert {sites.HAND_LANDMARKS[k] for k in np.flatnonzero(labelled)} == set(BODYPARTS)  # only the cohort's
    assert not (tmp_path / weights["hand"].parent.parent.name / "data").exists()  # generated images removed
    assert pretrain.pretrained_weights(SETTINGS, BODYPARTS, tmp_path, seed=0, progress=False) == weights
    assert len(fake_fit) == 1  # cached
