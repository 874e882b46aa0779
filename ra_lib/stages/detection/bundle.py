"""Stage 2's model bundle: DeepLabCut, the joint refiner and how hands reach them, for new radiographs.

The bundle holds each DeepLabCut model's PyTorch config and snapshot (the files DeepLabCut wrote), the
refiner's weights and hand shape (:mod:`.shape`), the stage's settings, the labelled landmarks and the hand
sides mirrored to show the thumb on the right (:func:`.inputs.thumb_right_sides` of the training hands).
:class:`JointDetector` (:func:`load_detector`) finds the joints of one hand of a radiograph as the stage does:
white collimation blacked out, mirrored thumb-right, DeepLabCut on the resized hand, its centres refined at
full resolution and checked against the shape.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ra_lib.core import bundles, contracts
from ra_lib.core.collimation import black_out_collimation
from ra_lib.stages.detection import boxes, dlc, inputs, refine, shape as hand_shape

if TYPE_CHECKING:
    from ra_lib.stages.detection.pipeline import DetectionResult

STAGE = contracts.DETECTION
REFINER = "refiner"


def _dlc_files(name: str) -> tuple[str, str]:
    return f"dlc/{name}/pytorch_config.yaml", f"dlc/{name}/snapshot.pt"


def write_bundle(result: "DetectionResult", images: pd.DataFrame, folder: str | Path) -> Path:
    """DeepLabCut and the refiner of ``result`` as a model bundle in ``folder``; ``images``: the cohort's
    image table (its fingerprint)."""
    if result.dlc_detector is None:
        raise ValueError(f"no detector was trained ({result.skipped}), so there is no bundle to write")
    files, models = {}, {}
    for name, project in result.dlc_detector.projects.items():
        config, snapshot = _dlc_files(name)
        trained = project.model() if isinstance(project, dlc.DlcProject) else project
        files[config], files[snapshot] = trained.pytorch_config, trained.snapshot
    refined, shape = None, None
    if result.refiner is not None:
        models[REFINER] = result.refiner.model.state_dict()
        refined = list(result.refiner.landmarks)
        shape = result.refiner.shape.to_dict() if result.refiner.shape is not None else None
    extra = {"dlc_models": {name: list(p.bodyparts) for name, p in result.dlc_detector.projects.items()},
             "landmarks": list(result.landmarks), "mirrored_sides": sorted(result.mirrored_sides),
             "detector": "dlc_refined" if refined else "dlc", "refiner_landmarks": refined, "hand_shape": shape}
    return bundles.write_bundle(folder, STAGE, asdict(result.settings), models,
                                cohort_fingerprint=bundles.cohort_fingerprint(images), headline=result.headline(),
                                extra=extra, files=files)


@dataclass
class JointDetector:
    """Stage 2's detector from its bundle: DeepLabCut's centres, refined when the bundle has a refiner.

    ``p_cutoff``: the likelihood below which stage 2 flags a detection; ``detector``: ``dlc_refined`` or
    ``dlc``, the detector whose centres these are.
    """

    dlc: dlc.DlcDetector
    refiner: refine.JointRefiner | None
    landmarks: tuple[str, ...]
    mirrored_sides: frozenset[str]
    p_cutoff: float
    detector: str

    def detect(self, image: np.ndarray, x0: int, x1: int, mirrored: bool, hand_id: str = "hand",
               device: str = "cpu") -> pd.DataFrame:
        """Joints of the hand in columns ``x0:x1`` of ``image`` (float grey in [0, 1]): hand_id, landmark, x, y
        (full-image pixels), likelihood, detector. ``mirrored``: mirror it to show its thumb on the right."""
        hand = black_out_collimation(np.ascontiguousarray(image[:, x0:x1], dtype=np.float32))
        model_input, frame = inputs.model_input(hand, hand_id, x0, self.dlc.image_size, mirrored)
        found = self.dlc.detect(model_input[None], [frame], device=device, progress=False)
        if self.refiner is not None:
            known = found["landmark"].isin(self.refiner.landmarks).to_numpy()
            phalanx = float(boxes.hand_phalanx(found, [hand_id])[0])
            xy, moved = self.refiner.refine_hand(
                hand, x0, found.loc[known, "landmark"], found.loc[known, ["x", "y"]].to_numpy(dtype=float),
                phalanx, device)
            found = found.assign(shape_moved=False)
            found.loc[known, ["x", "y"]], found.loc[known, "shape_moved"] = xy, moved
        return found.assign(detector=self.detector)


def load_detector(bundle: bundles.Bundle) -> JointDetector:
    """The :class:`JointDetector` of a loaded stage-2 bundle."""
    settings, extra = bundle.settings, bundle.extra
    models = {}
    for name, bodyparts in extra["dlc_models"].items():
        config, snapshot = (bundle.path / f for f in _dlc_files(name))
        models[name] = dlc.DlcModel(config, snapshot, tuple(bodyparts), int(settings["dlc_image_size"]))
    refiner = None
    if extra["refiner_landmarks"]:
        network = refine.RefineNet(len(extra["refiner_landmarks"]), int(settings["refine_width"]))
        network.load_state_dict(bundle.state_dict(REFINER))
        shape = extra.get("hand_shape")
        refiner = refine.JointRefiner(network.eval(), tuple(extra["refiner_landmarks"]),
                                      int(settings["refine_patch_size"]), float(settings["refine_field"]),
                                      int(settings["refine_steps"]),
                                      hand_shape.HandShape.from_dict(shape) if shape else None,
                                      int(settings.get("refine_shape_rounds", 0)))
    return JointDetector(dlc.DlcDetector(models, int(settings["dlc_image_size"])), refiner,
                         tuple(extra["landmarks"]), frozenset(extra["mirrored_sides"]),
                         float(settings["dlc_p_cutoff"]), extra["detector"])
