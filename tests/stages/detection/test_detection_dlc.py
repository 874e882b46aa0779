import dataclasses
import logging
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from ra_lib.stages.detection import dlc as dlc_detector
from ra_lib.stages.detection.inputs import HandFrame
from ra_lib.stages.detection.settings import PROFILES
from ra_lib.cohort import sites

BODYPARTS = ("pip2", "mcp2", "radius")


def _blob_images(n: int, size: int = 64, seed: int = 0):
    """Images with one bright blob per body part at jittered template positions; points in model px."""
    rng = np.random.default_rng(seed)
    template = np.array([[20.0, 16.0], [24.0, 34.0], [40.0, 52.0]]) * size / 64
    yy, xx = np.mgrid[:size, :size]
    images, points = [], []
    for _ in range(n):
        pts = template + rng.normal(0, 1.5, template.shape)
        image = sum(np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * (1.5 + k) ** 2)) for k, (x, y) in enumerate(pts))
        images.append(np.clip(image, 0, 1).astype(np.float32))
        points.append(pts)
    return np.stack(images), np.stack(points)


def test_labelled_frame_has_deeplabcut_layout(tmp_path):
    points = np.arange(12, dtype=float).reshape(2, 3, 2)
    points[1, 2] = np.nan
    frame = dlc_detector.labelled_frame(["a.png", "b.png"], points, BODYPARTS)
    assert frame.index.tolist() == [("labeled-data", "hands", "a.png"), ("labeled-data", "hands", "b.png")]
    assert frame.columns.names == ["scorer", "bodyparts", "coords"]
    assert frame.columns.get_level_values("bodyparts").unique().tolist() == list(BODYPARTS)
    assert frame[("ra", "mcp2", "y")].tolist() == [3.0, 9.0]
    frame.to_hdf(tmp_path / "c.h5", key="df_with_missing", mode="w")
    back = pd.read_hdf(tmp_path / "c.h5", key="df_with_missing")
    pd.testing.assert_frame_equal(back, frame)
    with pytest.raises(ValueError, match="expected \\(2, 2, 2\\)"):
        dlc_detector.labelled_frame(["a.png", "b.png"], points, BODYPARTS[:2])


def test_quiet_captures_output_and_restores_logging(tmp_path, capsys):
    root = logging.getLogger()
    before = root.handlers[:]
    with dlc_detector.quiet(tmp_path / "dlc.log"):
        print("chatty")
        logging.basicConfig(filename=tmp_path / "other.log", force=True)  # as DeepLabCut's training does
        logging.getLogger().addHandler(logging.StreamHandler())
        import warnings
        warnings.warn("noisy")
    assert root.handlers == before
    assert capsys.readouterr().out == ""
    text = (tmp_path / "dlc.log").read_text()
    assert "chatty" in text and "UserWarning: noisy" in text


def test_importing_the_module_leaves_the_environment_alone():
    env = {k: v for k, v in os.environ.items() if k != dlc_detector.OFFLINE_VARIABLE}
    code = ("import os; import ra_lib.stages.detection.dlc; "
            f"assert {dlc_detector.OFFLINE_VARIABLE!r} not in os.environ, 'changed at import'")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)


def test_offline_sets_the_hub_offline_and_restores(monkeypatch):
    name = dlc_detector.OFFLINE_VARIABLE
    monkeypatch.delenv(name, raising=False)
    with dlc_detector.offline():
        assert os.environ[name] == "1"
    assert name not in os.environ
    monkeypatch.setenv(name, "0")
    with dlc_detector.offline():
        assert os.environ[name] == "0"  # a choice the user made is kept
    assert os.environ[name] == "0"
    monkeypatch.delenv(name)
    try:
        with dlc_detector.offline():
            raise RuntimeError("DeepLabCut failed")
    except RuntimeError:
        pass
    assert name not in os.environ


def test_model_bodyparts_keep_labelled_landmarks():
    union = dlc_detector.model_bodyparts("union", {"radius", "pip2", "cmc3"})
    assert union == {"hand": ("pip2", "radius", "cmc3")}  # sites.HAND_LANDMARKS order
    paper = dlc_detector.model_bodyparts("paper", {"radius", "pip2", "cmc3"})
    assert paper == {"erosion": ("pip2", "radius"), "jsn": ("pip2", "cmc3")}
    assert len(dlc_detector.MODEL_SETS["paper"]["erosion"]) == 16 and len(dlc_detector.MODEL_SETS["paper"]["jsn"]) == 15
    assert len(dlc_detector.model_bodyparts("union", set(sites.HAND_LANDMARKS))["hand"]) == 22
    with pytest.raises(ValueError, match="labels none"):
        dlc_detector.model_bodyparts("paper", {"elbow"})


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    images, points = _blob_images(6)
    folder = tmp_path_factory.mktemp("dlc")
    return dlc_detector.write_project(folder / "hand", images, points, BODYPARTS, [0, 1, 2, 3], [4, 5], "cspnext_s")


def test_project_files_have_deeplabcut_structure(project):
    from deeplabcut.pose_estimation_pytorch.data import DLCLoader
    from deeplabcut.utils import auxiliaryfunctions

    cfg = auxiliaryfunctions.read_config(str(project.config))
    assert cfg["bodyparts"] == list(BODYPARTS) and cfg["scorer"] == "ra"
    labels = pd.read_hdf(project.folder / "labeled-data" / "hands" / "CollectedData_ra.h5", key="df_with_missing")
    assert labels.shape == (6, 6) and labels.index.nlevels == 3
    assert (project.folder / "labeled-data" / "hands" / "train0000.png").exists()
    loader = DLCLoader(str(project.config), shuffle=1, trainset_index=0)
    assert sorted(p.split("/")[-1][:4] for p in loader.df_train.index.map("/".join)) == ["trai"] * 4
    assert sorted(p.split("/")[-1][:4] for p in loader.df_test.index.map("/".join)) == ["test"] * 2
    assert project.pytorch_config.exists()


def test_upright_hands_train_with_exposure_but_not_mirror_augmentation():
    import albumentations as A
    from deeplabcut.pose_estimation_pytorch.data.transforms import build_transforms

    prefix = "data.train."
    upright = {key[len(prefix):]: value for key, value in dlc_detector.AUGMENTATIONS["upright"].items()
               if key.startswith(prefix)}
    names = {type(t).__name__ for t in build_transforms(upright).transforms}
    assert A.Equalize.__name__ in names and A.HorizontalFlip.__name__ not in names  # exposure varies, side not


def test_project_folder_is_replaced_but_foreign_folders_refused(tmp_path):
    images, points = _blob_images(3)
    first = dlc_detector.write_project(tmp_path / "p", images, points, BODYPARTS, [0, 1], [2], "cspnext_s")
    (first.train_folder / "snapshot-040.pt").write_bytes(b"stale")
    second = dlc_detector.write_project(tmp_path / "p", images, points, BODYPARTS, [0], [1, 2], "cspnext_s")
    assert not list(second.folder.rglob("snapshot-040.pt"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        dlc_detector.write_project(tmp_path / "other", images, points, BODYPARTS, [0, 1], [2], "cspnext_s")


def test_local_backbone_weights_are_used_and_checked(project, tmp_path):
    from deeplabcut.pose_estimation_pytorch.config import read_config_as_dict
    from deeplabcut.pose_estimation_pytorch.models import PoseModel

    model = PoseModel.build(read_config_as_dict(project.pytorch_config)["model"], pretrained_backbone=False)
    for tensor in model.backbone.state_dict().values():
        tensor.fill_(0.25)
    torch.save(model.backbone.state_dict(), tmp_path / "backbone.pt")
    path = dlc_detector._initial_snapshot(project, tmp_path / "backbone.pt", seed=0)
    saved = torch.load(path, weights_only=True)["model"]
    assert set(saved) == set(model.state_dict())  # the whole model: backbone loaded, head from the seed
    key = next(k for k, v in model.backbone.state_dict().items() if v.is_floating_point())
    assert torch.equal(saved[f"backbone.{key}"], model.backbone.state_dict()[key])
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "wrong.pt")
    with pytest.raises(ValueError, match="wrong.pt: not a cspnext_s backbone"):
        dlc_detector._initial_snapshot(project, tmp_path / "wrong.pt", seed=0)


def test_a_snapshot_of_the_same_model_starts_training_whole(project, tmp_path):
    """Fine-tuning from a pretrained snapshot keeps its head too (same body parts)."""
    from deeplabcut.pose_estimation_pytorch.config import read_config_as_dict
    from deeplabcut.pose_estimation_pytorch.models import PoseModel

    model = PoseModel.build(read_config_as_dict(project.pytorch_config)["model"], pretrained_backbone=False)
    state = {k: torch.full_like(v, 0.5) if v.is_floating_point() else v for k, v in model.state_dict().items()}
    torch.save({"model": state}, tmp_path / "pretrained.pt")
    saved = torch.load(dlc_detector._initial_snapshot(project, tmp_path / "pretrained.pt", seed=0),
                       weights_only=True)["model"]
    head = [k for k in state if k.startswith("heads.") and state[k].is_floating_point()]
    assert head and all(torch.equal(saved[k], state[k]) for k in head)


def test_train_predict_and_map_back_to_the_image(project):
    """One epoch end to end: DeepLabCut trains offline, evaluates, predicts; tables are in image pixels."""
    history = dlc_detector.train(project, epochs=1, batch_size=2, lr=1e-3)
    assert len(history) == 1
    scores = dlc_detector.evaluate(project)
    assert set(scores) == {"train_rmse", "train_rmse_pcutoff", "test_rmse", "test_rmse_pcutoff"}
    assert np.isfinite(scores["test_rmse"])
    images, _ = _blob_images(3, seed=1)
    preds = dlc_detector.predict(project, images, progress=False)
    assert preds.shape == (3, 3, 3) and np.isfinite(preds).all()
    assert (preds[..., :2] >= -0.5).all() and (preds[..., :2] <= 63.5).all()
    frames = [HandFrame(f"img{i}:L", x0=100, width=128, height=256, size=64, mirrored=True)
              for i in range(3)]
    detector = dlc_detector.DlcDetector({"hand": project}, 64)
    table = detector.detect(images, frames)
    assert len(table) == 9 and set(table.detector) == {"dlc"}
    assert table.x.between(99, 229).all() and table.y.between(-3, 259).all()
    expected_x, _ = frames[0].to_image(preds[0, 0, 0], preds[0, 0, 1])
    assert table.iloc[0].x == pytest.approx(float(expected_x))
    with pytest.raises(ValueError, match="images must be \\(N, 64, 64\\)"):
        dlc_detector.predict(project, images[:, :32, :32])


def test_fit_trains_one_model_per_set(tmp_path):
    images, points = _blob_images(5)
    full = np.full((5, len(sites.HAND_LANDMARKS), 2), np.nan)
    for k, landmark in enumerate(BODYPARTS):
        full[:, sites.HAND_LANDMARKS.index(landmark)] = points[:, k]
    settings = dataclasses.replace(PROFILES["smoke"], dlc_models="paper", dlc_batch_size=2)
    detector, summary = dlc_detector.fit(images, full, [0, 1, 2, 3], [4], tmp_path, settings)
    assert summary.model.tolist() == ["erosion", "jsn"]
    assert detector.projects["erosion"].bodyparts == ("pip2", "mcp2", "radius")
    assert detector.projects["jsn"].bodyparts == ("pip2", "mcp2")
    frames = [HandFrame(f"h{i}:R", 0, 64, 64, 64, False) for i in range(2)]
    table = detector.detect(images[:2], frames)
    assert len(table) == 6 and not table.duplicated(["hand_id", "landmark"]).any()
