"""Stage 2, paper 001's detector: DeepLabCut 3 (PyTorch engine) trained on a few labelled hands.

Paper 001 labelled 20 radiographs resized to 256 x 256 and trained two DeepLabCut models, one for
the 16 erosion joints and one for the 15 JSN joints. Here the unit is one hand (both-hands
radiographs are split by the cohort), left hands are mirrored to right-hand orientation, and the
models are either the paper's two (``models="paper"``) or one over the union of the 22 hand
landmarks (``models="union"``). Only landmarks the cohort has labelled become body parts.

Offline recipe (no pretrained backbone can be downloaded): DeepLabCut's config has no working
"pretrained" switch, so the model is built with ``PoseModel.build(cfg["model"],
pretrained_backbone=False)``, saved as ``{"model": state_dict}`` and passed to
``deeplabcut.train_network(snapshot_path=...)``, which then skips the download. A local weights
file (a DeepLabCut snapshot or a bare backbone state dict) replaces the random backbone.

DeepLabCut prints, logs and warns a lot; every call goes through :func:`quiet`, which writes all of
it to ``dlc.log`` in the project folder. Every call also runs :func:`offline` (Hugging Face hub
offline), which restores the environment afterwards; importing this module changes nothing.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from tqdm import tqdm

from ra_lib.cohort import sites
from ra_lib.core import training
from ra_lib.stages.detection.inputs import predictions_to_table

#: Body-part sets (:data:`ra_lib.stages.detection.settings.DLC_MODEL_SETS`): the paper's two models,
#: or one model over all 22 hand landmarks.
MODEL_SETS = {
    "paper": {kind: tuple(s.landmark for s in sites.hand_sites(kind)) for kind in sites.KINDS},
    "union": {"hand": sites.HAND_LANDMARKS},
}
OFFLINE_VARIABLE = "HF_HUB_OFFLINE"
SCORER = "ra"
LABELLED_SET = "hands"
#: Training augmentations (``DetectionSettings.dlc_augmentation``). ``upright``: hands arrive upright and in one
#: display convention (left hands mirrored to right-hand orientation), so DeepLabCut's default is narrowed to
#: what radiographs of such hands vary by: rotation up to 10 deg, scale 0.9-1.1, noise, and histogram
#: equalisation of half the images (exposure and detector processing differ between archives: on the real
#: samples it lifts the synthetic-trained detector from 86 % to 91 %, ``bench/detection_real_samples.py``).
#: ``archive``: as archives
#: vary without that normalisation: half of the hands mirrored (thumb on either side; the landmark names stay
#: with the joints), rotation up to 15 deg, scale 0.75-1.25, histogram equalisation.
AUGMENTATIONS = {
    "upright": {
        "data.train.affine": {"p": 0.7, "rotation": 10, "scaling": [0.9, 1.1], "translation": 0},
        "data.train.crop_sampling": None,
        "data.train.motion_blur": False,
        "data.train.gaussian_noise": 12.75,
        "data.train.hflip": None,
        "data.train.hist_eq": True,
    },
    "archive": {
        "data.train.affine": {"p": 0.8, "rotation": 15, "scaling": [0.75, 1.25], "translation": 0},
        "data.train.crop_sampling": None,
        "data.train.motion_blur": False,
        "data.train.gaussian_noise": 12.75,
        "data.train.hflip": {"p": 0.5},
        "data.train.hist_eq": True,
    },
}


@contextlib.contextmanager
def offline():
    """Run DeepLabCut with the Hugging Face hub offline (``HF_HUB_OFFLINE=1`` unless already set).

    The variable is restored on exit. The hub reads it when first imported, so DeepLabCut is first
    imported inside this block (:func:`_import_deeplabcut`).
    """
    before = os.environ.get(OFFLINE_VARIABLE)
    os.environ.setdefault(OFFLINE_VARIABLE, "1")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(OFFLINE_VARIABLE, None)
        else:
            os.environ[OFFLINE_VARIABLE] = before


@contextlib.contextmanager
def quiet(log_path: str | Path):
    """Send DeepLabCut's prints, log records, progress bars and warnings to ``log_path``.

    DeepLabCut reconfigures the root logger during training; its handlers and level are restored.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for warning in caught:
                log.write(f"{warning.category.__name__}: {warning.message}\n")
            for handler in root.handlers[:]:
                if handler not in handlers:
                    root.removeHandler(handler)
            for handler in handlers:
                if handler not in root.handlers:
                    root.addHandler(handler)
            root.setLevel(level)


@contextlib.contextmanager
def session(log_path: str | Path):
    """:func:`offline` and :func:`quiet` together: the context of every DeepLabCut call."""
    with offline(), quiet(log_path):
        yield


def _import_deeplabcut():
    """Import DeepLabCut offline; its dependencies import ``tqdm.auto``, which warns on stderr in a kernel
    without ipywidgets (the book draws text bars), so that one warning is silenced here."""
    from tqdm import TqdmWarning

    with offline(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=TqdmWarning)
        import deeplabcut
    return deeplabcut


@dataclass
class DlcProject:
    """One DeepLabCut project (one model): its config and body parts."""

    config: Path
    bodyparts: tuple[str, ...]
    image_size: int
    shuffle: int = 1

    @property
    def folder(self) -> Path:
        return self.config.parent

    @property
    def log(self) -> Path:
        return self.folder / "dlc.log"

    @property
    def train_folder(self) -> Path:
        _import_deeplabcut()  # first import offline
        from deeplabcut.core.engine import Engine
        from deeplabcut.utils import auxiliaryfunctions

        cfg = auxiliaryfunctions.read_config(str(self.config))
        model = auxiliaryfunctions.get_model_folder(cfg["TrainingFraction"][0], self.shuffle, cfg,
                                                    engine=Engine.PYTORCH)
        return self.folder / model / "train"

    @property
    def pytorch_config(self) -> Path:
        return self.train_folder / "pytorch_config.yaml"

    def model(self) -> "DlcModel":
        """The trained model's files (after :func:`train`)."""
        return DlcModel(self.pytorch_config, snapshot_path(self), self.bodyparts, self.image_size, self.log)


@dataclass
class DlcModel:
    """One trained DeepLabCut model as the files inference reads (a project's, or a bundle's copies):
    its PyTorch config and snapshot, body parts and input side; the inference runner is built once per
    device and batch size. DeepLabCut's output goes to ``log``."""

    pytorch_config: Path
    snapshot: Path
    bodyparts: tuple[str, ...]
    image_size: int
    log: Path = Path(os.devnull)
    _runners: dict = field(default_factory=dict, repr=False, compare=False)

    def runner(self, device: str = "cpu", batch_size: int = 8):
        """DeepLabCut's pose inference runner for this model."""
        key = (str(device), int(batch_size))
        if key not in self._runners:
            _import_deeplabcut()  # first import offline
            from deeplabcut.pose_estimation_pytorch.apis.utils import get_pose_inference_runner

            with session(self.log):
                self._runners[key] = get_pose_inference_runner(
                    model_config=self.pytorch_config, snapshot_path=self.snapshot, batch_size=batch_size,
                    device=device, max_individuals=1)
        return self._runners[key]


def to_uint8_rgb(image: np.ndarray) -> np.ndarray:
    """A float [0, 1] grey image as the uint8 RGB array DeepLabCut reads."""
    grey = np.clip(np.rint(np.asarray(image, dtype=np.float32) * 255), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def labelled_frame(names, points: np.ndarray, bodyparts, scorer: str = SCORER,
                   labelled_set: str = LABELLED_SET) -> pd.DataFrame:
    """DeepLabCut's ``CollectedData`` table: rows ``("labeled-data", set, image)``, columns scorer/bodyparts/coords."""
    points = np.asarray(points, dtype=float)
    if points.shape != (len(names), len(bodyparts), 2):
        raise ValueError(f"points have shape {points.shape}, expected ({len(names)}, {len(bodyparts)}, 2)")
    columns = pd.MultiIndex.from_product([[scorer], list(bodyparts), ["x", "y"]],
                                         names=["scorer", "bodyparts", "coords"])
    index = pd.MultiIndex.from_tuples([("labeled-data", labelled_set, name) for name in names])
    return pd.DataFrame(points.reshape(len(names), -1), index=index, columns=columns)


def write_project(folder: str | Path, images: np.ndarray, points: np.ndarray, bodyparts, train_idx, test_idx,
                  net_type: str) -> DlcProject:
    """Write a DeepLabCut project for the labelled hands and create its training dataset (shuffle 1).

    ``images``: (N, S, S) float in [0, 1]; ``points``: (N, K, 2) model coordinates, NaN = unlabelled;
    ``train_idx`` / ``test_idx``: positions in ``images`` of the training and held-out hands. A project
    this function wrote before in ``folder`` is replaced (its old snapshots would otherwise be reused);
    any other non-empty folder is refused.
    """
    deeplabcut = _import_deeplabcut()
    from deeplabcut.core.config.project_config import ProjectConfig

    folder = Path(folder).resolve()
    if (folder / "config.yaml").exists() and (folder / "labeled-data" / LABELLED_SET).exists():
        shutil.rmtree(folder)
    elif folder.exists() and any(folder.iterdir()):
        raise ValueError(f"{folder} is not empty and holds no earlier stage-2 DeepLabCut project")
    images = np.asarray(images)
    size = images.shape[-1]
    if images.ndim != 3 or images.shape[1] != size:
        raise ValueError(f"images must be (N, S, S), got {images.shape}")
    train_idx, test_idx = list(map(int, train_idx)), list(map(int, test_idx))
    if not train_idx or not test_idx or set(train_idx) & set(test_idx):
        raise ValueError(f"need disjoint, non-empty train and test hands; got {len(train_idx)} train, "
                         f"{len(test_idx)} test, {len(set(train_idx) & set(test_idx))} in both")
    labelled = folder / "labeled-data" / LABELLED_SET
    labelled.mkdir(parents=True, exist_ok=True)
    used = train_idx + test_idx
    names = [f"{'train' if n < len(train_idx) else 'test'}{n:04d}.png" for n in range(len(used))]
    for name, i in zip(names, used):
        Image.fromarray(to_uint8_rgb(images[i])).save(labelled / name)
    frame = labelled_frame(names, points[used], bodyparts)
    frame.to_hdf(labelled / f"CollectedData_{SCORER}.h5", key="df_with_missing", mode="w")

    # DeepLabCut sorts the merged labels by image name; "test..." sorts before "train...".
    order = sorted(range(len(names)), key=lambda n: names[n])
    train_rows = [r for r, n in enumerate(order) if n < len(train_idx)]
    test_rows = [r for r, n in enumerate(order) if n >= len(train_idx)]
    fraction = round(len(train_rows) / len(names), 2)  # how DeepLabCut names the split
    # DeepLabCut finds labelled-data/<set> through a (never opened) video named after the set
    video = str(folder / "videos" / f"{LABELLED_SET}.avi")
    config = ProjectConfig(Task="ra-joints", scorer=SCORER, date="stage2", project_path=folder,
                           bodyparts=list(bodyparts), TrainingFraction=[fraction], iteration=0,
                           default_net_type=net_type, snapshotindex=-1,
                           video_sets={video: {"crop": f"0, {size}, 0, {size}"}})
    config_path = folder / "config.yaml"
    config.to_yaml(config_path)
    project = DlcProject(config_path, tuple(bodyparts), size)
    with session(project.log):
        deeplabcut.create_training_dataset(str(config_path), num_shuffles=1, Shuffles=[1], trainIndices=[train_rows],
                                           testIndices=[test_rows], net_type=net_type, userfeedback=False,
                                           engine=deeplabcut.Engine.PYTORCH)
    if not project.pytorch_config.exists():
        raise RuntimeError(f"DeepLabCut did not create {project.pytorch_config}; see {project.log}")
    return project


def _initial_snapshot(project: DlcProject, weights_path: str | Path | None, seed: int) -> Path:
    """The snapshot training starts from: a randomly initialised model (no download), with every tensor of
    ``weights_path`` whose name and shape match loaded into it.

    ``weights_path`` is a DeepLabCut snapshot (``{"model": ...}``: all of a model with the same body parts,
    backbone and neck of any other) or a bare backbone state dict. A file of which nothing matches is refused.
    """
    _import_deeplabcut()  # first import offline
    from deeplabcut.pose_estimation_pytorch.config import read_config_as_dict
    from deeplabcut.pose_estimation_pytorch.models import PoseModel

    training.seed_everything(seed)
    cfg = read_config_as_dict(project.pytorch_config)
    with offline():
        model = PoseModel.build(cfg["model"], pretrained_backbone=False)
    path = project.folder / "initial-weights.pt"
    if weights_path is not None:
        weights_path = Path(weights_path)
        if not weights_path.exists():
            raise FileNotFoundError(f"weights_path {weights_path} does not exist")
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
        state = state["model"] if isinstance(state, dict) and "model" in state else \
            {f"backbone.{k}": v for k, v in (state.items() if isinstance(state, dict) else ())}
        own = model.state_dict()
        matching = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        if not any(k.startswith("backbone.") for k in matching):
            raise ValueError(f"{weights_path}: not a {cfg['net_type']} backbone state dict or DeepLabCut snapshot "
                             f"(no backbone tensor of {len(state)} matches)")
        model.load_state_dict(matching, strict=False)
    torch.save({"model": model.state_dict()}, path)
    return path


def train(project: DlcProject, epochs: int, batch_size: int, lr: float, seed: int = 0, device: str = "cpu",
          weights_path: str | Path | None = None, augmentation: str = "upright") -> pd.DataFrame:
    """Train shuffle 1 of ``project`` from scratch (or a local backbone); return DeepLabCut's learning stats.

    The last epoch's snapshot is kept (no "best" snapshot: DeepLabCut would pick it on the test hands).
    ``augmentation``: a key of :data:`AUGMENTATIONS`.
    """
    if augmentation not in AUGMENTATIONS:
        raise ValueError(f"augmentation must be one of {sorted(AUGMENTATIONS)}, got {augmentation!r}")
    deeplabcut = _import_deeplabcut()

    snapshot = _initial_snapshot(project, weights_path, seed)
    milestones = [max(1, round(0.45 * epochs)), max(2, round(0.6 * epochs))]  # DeepLabCut's 90 / 120 of 200
    updates = {
        **AUGMENTATIONS[augmentation],
        "train_settings.seed": seed,
        "runner.optimizer.params.lr": lr,
        "runner.scheduler.params.milestones": milestones,
        "runner.scheduler.params.lr_list": [[lr / 5], [lr / 50]],
        "runner.key_metric": "disabled",  # a metric DeepLabCut never computes: no "best" snapshot
        "runner.eval_interval": epochs,
        "runner.snapshots.max_snapshots": 1,
    }
    with session(project.log):
        deeplabcut.train_network(str(project.config), shuffle=project.shuffle, device=device,
                                 snapshot_path=str(snapshot), keepdeconvweights=True, epochs=epochs,
                                 batch_size=batch_size, save_epochs=epochs, display_iters=10_000,
                                 pytorch_cfg_updates=updates)
    snapshot.unlink()  # the trained snapshot holds everything now
    stats = project.train_folder / "learning_stats.csv"
    return pd.read_csv(stats) if stats.exists() else pd.DataFrame()


def evaluate(project: DlcProject, p_cutoff: float = 0.6, device: str = "cpu") -> dict:
    """DeepLabCut's own train / test RMSE (model-input pixels), all points and those above ``p_cutoff``."""
    deeplabcut = _import_deeplabcut()

    with session(project.log):
        deeplabcut.evaluate_network(str(project.config), shuffles=[project.shuffle], pcutoff=p_cutoff,
                                    device=device)
    results = sorted((project.folder / "evaluation-results-pytorch").rglob("*-results.csv"),
                     key=lambda p: p.stat().st_mtime)
    if not results:
        raise RuntimeError(f"DeepLabCut wrote no evaluation results; see {project.log}")
    row = pd.read_csv(results[-1]).iloc[-1]
    return {f"{split}_rmse{suffix}": float(row[f"{split} rmse{suffix}"])
            for split in ("train", "test") for suffix in ("", "_pcutoff")}


def snapshot_path(project: DlcProject) -> Path:
    """The trained snapshot of ``project`` (the last one)."""
    _import_deeplabcut()  # first import offline
    from deeplabcut.pose_estimation_pytorch.apis.utils import get_model_snapshots
    from deeplabcut.pose_estimation_pytorch.task import Task

    return get_model_snapshots(-1, project.train_folder, Task.BOTTOM_UP)[0].path


def predict(model: DlcProject | DlcModel, images: np.ndarray, device: str = "cpu", batch_size: int = 8,
            progress: bool = True) -> np.ndarray:
    """(N, K, 3) predictions (x, y, likelihood) in model-input coordinates for (N, S, S) images, by a
    trained project's model or a :class:`DlcModel`.

    Points are clipped to the input (an untrained offset head can place them outside it).
    """
    model = model.model() if isinstance(model, DlcProject) else model
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (model.image_size, model.image_size):
        raise ValueError(f"images must be (N, {model.image_size}, {model.image_size}), got {images.shape}")
    out = np.full((len(images), len(model.bodyparts), 3), np.nan)
    runner = model.runner(device, batch_size)
    chunk = 4 * batch_size
    with tqdm(total=len(images), desc="DeepLabCut inference", unit="hand", leave=False, disable=not progress) as bar:
        for start in range(0, len(images), chunk):
            batch = [to_uint8_rgb(image) for image in images[start:start + chunk]]
            with session(model.log):
                results = runner.inference(batch)
            for n, result in enumerate(results, start):
                out[n] = result["bodyparts"][0, :, :3]
            bar.update(len(batch))
    # location refinement can push a point off the input; keep it on the hand
    out[..., :2] = np.clip(out[..., :2], -0.5, model.image_size - 0.5)
    return out


@dataclass
class DlcDetector:
    """The trained DeepLabCut model(s) of stage 2: projects, or their :class:`DlcModel` files."""

    projects: dict[str, DlcProject | DlcModel]
    image_size: int

    def detect(self, images: np.ndarray, frames: list, device: str = "cpu", progress: bool = True) -> pd.DataFrame:
        """Detections table (full-image pixels) for hands given as model inputs and their frames.

        With two models, a landmark both detect (MCP, PIP) keeps the more confident detection.
        """
        tables = [predictions_to_table(predict(p, images, device, progress=progress), frames, p.bodyparts, "dlc")
                  for p in self.projects.values()]
        merged = pd.concat(tables, ignore_index=True)
        merged = merged.sort_values("likelihood", ascending=False, kind="stable", na_position="last")
        merged = merged.drop_duplicates(["hand_id", "landmark"])
        order = {lm: i for i, lm in enumerate(sites.HAND_LANDMARKS)}
        hand_order = {f.hand_id: i for i, f in enumerate(frames)}
        key = merged["hand_id"].map(hand_order) * len(order) + merged["landmark"].map(order)
        return merged.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)


def model_bodyparts(models: str, labelled: set[str]) -> dict[str, tuple[str, ...]]:
    """Body parts of each model: the model set's landmarks the cohort has labelled."""
    if models not in MODEL_SETS:
        raise ValueError(f"models must be one of {sorted(MODEL_SETS)}, got {models!r}")
    out = {name: tuple(lm for lm in landmarks if lm in labelled) for name, landmarks in MODEL_SETS[models].items()}
    out = {name: parts for name, parts in out.items() if parts}
    if not out:
        raise ValueError(f"the cohort labels none of the {models!r} model landmarks")
    return out


def fit(images: np.ndarray, points: np.ndarray, train_idx, test_idx, folder: str | Path, settings,
        seed: int = 0, device: str = "cpu", weights: dict[str, Path] | None = None) -> tuple[DlcDetector, pd.DataFrame]:
    """Build, train and evaluate the DeepLabCut model(s) for labelled hands.

    ``points``: (N, 22, 2) model coordinates in :data:`ra_lib.cohort.sites.HAND_LANDMARKS` order (NaN =
    unlabelled). ``settings``: a :class:`ra_lib.stages.detection.settings.DetectionSettings` (its
    ``dlc_*`` knobs). Returns the detector and one row per model: body parts, training seconds and
    DeepLabCut's train / test RMSE. ``weights``: a starting snapshot per model name (the synthetic pretraining,
    :mod:`ra_lib.stages.detection.pretrain`) in place of ``settings.dlc_weights_path``.
    """
    import time

    labelled = {lm for k, lm in enumerate(sites.HAND_LANDMARKS)
                if np.isfinite(points[list(train_idx), k, 0]).any()}
    projects, rows = {}, []
    for name, bodyparts in model_bodyparts(settings.dlc_models, labelled).items():
        columns = [sites.HAND_LANDMARKS.index(b) for b in bodyparts]
        project = write_project(Path(folder) / name, images, points[:, columns], bodyparts, train_idx, test_idx,
                                settings.dlc_net_type)
        start = time.perf_counter()
        start_from = (weights or {}).get(name, settings.dlc_weights_path)
        history = train(project, settings.dlc_epochs, settings.dlc_batch_size, settings.dlc_lr, seed, device,
                        start_from, settings.dlc_augmentation)
        seconds = time.perf_counter() - start
        scores = evaluate(project, settings.dlc_p_cutoff, device)
        projects[name] = project
        loss = "losses/train.total_loss"
        final_loss = float(history[loss].iloc[-1]) if loss in history else np.nan
        rows.append({"model": name, "bodyparts": len(bodyparts), "epochs": settings.dlc_epochs,
                     "train_seconds": seconds, "final_train_loss": final_loss, **scores})
    return DlcDetector(projects, images.shape[-1]), pd.DataFrame(rows)
