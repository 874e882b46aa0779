"""The trained models scoring uses, loaded from the bundles of a build's artifacts.

Stage 1's bundle gives the selection (Model 1 and Model 2, fused as in paper 000) and, when trained, the
orientation (SHS_NET's 12 classes); stage 2's the joint detector, stage 3's P(damaged) per joint, stage
4's grade distribution per joint and stage 5's the overall score per hand (or per both-hands radiograph).
A bundle that is missing or does not load is not an error here: its reason is kept and every image it
would have scored says so.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ra_lib.core import bundles, contracts, geometry
from ra_lib.stages.classification.bundle import DamageModel
from ra_lib.stages.detection.bundle import JointDetector, load_detector
from ra_lib.stages.grading.bundle import GradeModel
from ra_lib.stages.overall_score.data import ScoreDataset, cached_image
from ra_lib.stages.overall_score.models import build_model
from ra_lib.stages.selection.data import network_input
from ra_lib.stages.selection.evaluate import fuse
from ra_lib.stages.selection.model import SelectionCNN
from ra_lib.stages.selection.orientation import decode
from ra_lib.stages.selection.orientation_model import OrientationCNN, predict_orientation
from ra_lib.stages.selection.stage import ORIENTATION_MODEL
from ra_lib.stages.selection.train import predict_proba

#: The two binary selection models of paper 000, in the order their probabilities are reported.
SELECTION_TASKS = ("model1", "model2")


def bundle_folder(artifacts_root: str | Path, stage: str) -> Path:
    """Where a stage's bundle lies in a build's artifacts."""
    return Path(artifacts_root) / stage / bundles.BUNDLE_DIR


@dataclass(frozen=True)
class ModelSource:
    """Where the bundles are and the fingerprint they must have: cheap to send to every dask worker."""

    artifacts_root: str
    fingerprint: str
    held_out_fold: int | None = None

    def load(self) -> "ScoringModels":
        """The models, checked against the fingerprint the run started with."""
        models = ScoringModels.load(self.artifacts_root, self.held_out_fold)
        if models.fingerprint != self.fingerprint:
            raise RuntimeError(f"the model bundles under {self.artifacts_root} changed during the run; score again")
        return models


class SelectionModel:
    """Paper 000's Model 1 and Model 2 from stage 1's bundle, fused into one of three classes, and the
    orientation model when the bundle has one (``orientation`` is ``None`` otherwise). A bundle trained on a
    cohort of one hand class has no selection models: every image is taken to be of that class (``assumed``)."""

    def __init__(self, bundle: bundles.Bundle):
        settings = bundle.settings
        self.input_size, self.threshold = int(settings["input_size"]), float(settings["threshold"])
        self.equalize = bool(settings.get("equalize", False))  # bundles before equalisation have none
        self.assumed = bundle.extra.get("assumed_class")
        self.networks = {}
        for task in SELECTION_TASKS if self.assumed is None else ():
            network = SelectionCNN(self.input_size, len(bundle.extra["tasks"][task]),
                                   dropout_conv=settings["dropout_conv"], dropout_fc=settings["dropout_fc"])
            network.load_state_dict(bundle.state_dict(task))
            self.networks[task] = network.eval()
        self.orientation, self.orientation_size = None, int(settings["orientation_input_size"])
        if ORIENTATION_MODEL in bundle.models:
            self.orientation = OrientationCNN(int(settings["orientation_width"]))
            self.orientation.load_state_dict(bundle.state_dict(ORIENTATION_MODEL))
            self.orientation.eval()

    def orient(self, image: np.ndarray) -> dict | None:
        """The predicted orientation of one grey image (:func:`ra_lib.stages.selection.orientation.decode`'s
        columns), as stage 1 predicts it on the image padded to a square; ``None`` without the model."""
        if self.orientation is None:
            return None
        square = geometry.pad_to_square(torch.from_numpy(np.asarray(image, dtype=np.float32))).numpy()
        batch = torch.from_numpy(geometry.resize(square, self.orientation_size))[None, None]
        return decode(predict_orientation(self.orientation, batch)).iloc[0].to_dict()

    def predict(self, image: np.ndarray) -> dict:
        """``selection``, ``p_one_hand`` and ``p_both_hands`` of one grey image in [0, 1] (no probabilities
        when the class is assumed)."""
        if self.assumed is not None:
            return {"selection": self.assumed, "p_one_hand": None, "p_both_hands": None}
        batch = torch.from_numpy(network_input(image, self.input_size, self.equalize))[None, None]
        p_one, p_both = (float(predict_proba(self.networks[t], batch)[0, 1]) for t in SELECTION_TASKS)
        return {"selection": str(fuse([p_one], [p_both], self.threshold)[0]), "p_one_hand": p_one,
                "p_both_hands": p_both}

    def uncertain(self, p_one_hand: float, p_both_hands: float, margin: float) -> bool:
        """Whether the deciding probability lies within ``margin`` of the threshold (never for an assumed class)."""
        if self.assumed is not None:
            return False
        return abs(max(p_one_hand, p_both_hands) - self.threshold) < margin


class ScoreModel:
    """Stage 5's scoring variant from its bundle: the overall SvdH score of one hand or one radiograph."""

    def __init__(self, bundle: bundles.Bundle):
        extra = bundle.extra
        self.variant, self.unit = extra["variant"], extra["unit"]
        self.input_size, self.cache_size = int(extra["input_size"]), int(extra["cache_size"])
        self.pixel_mean, self.pixel_sd = float(extra["pixel_mean"]), float(extra["pixel_sd"])
        self.target_mean, self.target_sd = float(extra["target_mean"]), float(extra["target_sd"])
        self.network = build_model(self.variant, **extra["model_kwargs"])
        self.network.load_state_dict(bundle.state_dict(self.variant))
        self.network.eval()

    @torch.no_grad()
    def predict(self, image: np.ndarray) -> float:
        """The score of one hand (right-hand orientation) or radiograph, as stage 5 evaluates its test units."""
        unit = ScoreDataset(cached_image(image, self.cache_size)[None], np.zeros(1), self.input_size,
                            self.pixel_mean, self.pixel_sd)
        z = self.network(unit[0][0][None]).reshape(-1)
        return float(z[0]) * self.target_sd + self.target_mean


def describe(bundle: bundles.Bundle) -> str:
    """One line naming a bundle: its fingerprint, training cohort and versions."""
    line = (f"bundle {bundle.fingerprint[:12]}, trained on cohort {bundle.cohort_fingerprint[:12]} "
            f"(ra_lib {bundle.versions.get('ra_lib')}, torch {bundle.versions.get('torch')})")
    if bundle.extra.get("assumed_class"):
        line += (f"; no selection model: its cohort held {bundle.extra['assumed_class']} images alone, so every "
                 "image is taken to be one")
    return line


#: The bundle of each stage and how its model is built from it.
BUILDERS = {contracts.SELECTION: SelectionModel, contracts.DETECTION: load_detector,
            contracts.CLASSIFICATION: DamageModel, contracts.GRADING: GradeModel,
            contracts.OVERALL_SCORE: ScoreModel}


@dataclass
class ScoringModels:
    """The loaded models (``None`` where a bundle is missing), a line per stage on its bundle or why there is
    none, and the fingerprint of them all."""

    selection: SelectionModel | None
    detection: JointDetector | None
    damage: DamageModel | None
    grades: GradeModel | None
    score: ScoreModel | None
    missing: dict  # stage -> reason
    described: dict  # stage -> the bundle used, or "none: <reason>"
    fingerprint: str

    @classmethod
    def load(cls, artifacts_root: str | Path, held_out_fold: int | None = None) -> "ScoringModels":
        """The bundles of stages 1 to 5 under ``artifacts_root``; reasons name files relative to it. With
        ``held_out_fold``, stage 3's P(damaged) comes from that fold's model alone (:class:`DamageModel`)."""
        loaded, missing, described, prints = {}, {}, {}, {}
        options = {contracts.CLASSIFICATION: {"held_out_fold": held_out_fold}}
        for stage, build in BUILDERS.items():
            try:
                bundle = bundles.load_bundle(bundle_folder(artifacts_root, stage), stage)
                loaded[stage] = build(bundle, **options.get(stage, {}))
                prints[stage], described[stage] = bundle.fingerprint, describe(bundle)
            except bundles.BundleError as error:
                reason = str(error).replace(f"{Path(artifacts_root)}{os.sep}", "")  # the same wherever it loads
                loaded[stage], missing[stage], prints[stage] = None, reason, "missing"
                described[stage] = f"none: {reason}"
        fingerprint = hashlib.sha256(json.dumps(prints, sort_keys=True).encode()).hexdigest()
        return cls(*(loaded[stage] for stage in BUILDERS), missing, described, fingerprint)
