"""Stage 3's model bundle: the SISO intact-vs-damaged models, for joints of new radiographs.

The stage trains one SISO model per kind, joint group and predicted (test) fold and no model on all
folds, so the bundle keeps every fold model and :class:`DamageModel` averages their probabilities
(one model when the profile predicts one fold). It also keeps how stage 2's crop store cut the crops
(:func:`ra_lib.stages.detection.crops.crop_geometry`), so new crops are cut the same way.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd
import torch

from ra_lib.core import bundles, contracts
from ra_lib.core.training import predict
from ra_lib.stages.classification.settings import ClassificationSettings
from ra_lib.stages.classification.train import crop_model, prepare_images

if TYPE_CHECKING:
    from ra_lib.stages.classification.stage import ClassificationResult

STAGE = contracts.CLASSIFICATION


def model_name(kind: str, group: str, fold: int) -> str:
    """The bundle's name of one SISO fold model."""
    return f"siso_{kind}_{group}_fold{fold}"


def write_bundle(result: "ClassificationResult", images: pd.DataFrame, crop_geometry: dict,
                 folder: str | Path) -> Path:
    """The SISO fold models of ``result`` as a model bundle in ``folder``; ``images``: the cohort's image
    table (its fingerprint), ``crop_geometry``: how the crop store cut its crops."""
    trained = result.cv.siso_models
    if not trained:
        raise ValueError("no SISO model was trained, so there is no bundle to write")
    models = {model_name(*key): model.state_dict() for key, model in trained.items()}
    extra = {"models": [{"name": model_name(*key), "kind": key[0], "group": key[1], "fold": key[2]}
                        for key in trained],
             "crop_geometry": dict(crop_geometry)}
    return bundles.write_bundle(folder, STAGE, asdict(result.settings), models,
                                cohort_fingerprint=bundles.cohort_fingerprint(images), headline=result.headline(),
                                extra=extra)


class DamageModel:
    """Stage 3's SISO models from the bundle: P(damaged), grade >= 1, of a joint crop, the mean over the fold
    models of its kind and group. ``crop_geometry``: how its crops must be cut.

    With ``held_out_fold`` only the models of that test fold are kept: they never trained on its patients,
    so the cohort's own patients of that fold are scored out of sample. A bundle without them raises
    :class:`ra_lib.core.bundles.BundleError`.
    """

    def __init__(self, bundle: bundles.Bundle, held_out_fold: int | None = None):
        settings = bundle.settings
        self.input_size = int(settings["crop_size"])
        self.crop_geometry = bundle.extra["crop_geometry"]
        self.models: dict[tuple[str, str], dict[int, torch.nn.Module]] = {}
        specs = [spec for spec in bundle.extra["models"] if held_out_fold in (None, int(spec["fold"]))]
        if not specs:
            folds = sorted({int(spec["fold"]) for spec in bundle.extra["models"]})
            raise bundles.BundleError(f"stage 3's bundle has no model that held out fold {held_out_fold} "
                                      f"(its models held out folds {folds})")
        for spec in specs:
            network = crop_model(ClassificationSettings(**{**settings, "weights_path": None}), 1)
            network.load_state_dict(bundle.state_dict(spec["name"]))
            self.models.setdefault((spec["kind"], spec["group"]), {})[int(spec["fold"])] = network.eval()

    @torch.no_grad()
    def fold_probabilities(self, crops: np.ndarray, kind: str, group: str) -> dict[int, np.ndarray]:
        """P(damaged) of crop-store crops ``(N, S, S)`` of one kind and joint group by each fold model."""
        batch = [(prepare_images(crops, self.input_size)[:, None],)]
        return {fold: predict(model, batch, transform=torch.sigmoid)[:, 0]
                for fold, model in self.models.get((kind, group), {}).items()}

    def predict(self, crops: np.ndarray, kind: str, groups: Sequence[str]) -> np.ndarray:
        """P(damaged) of each crop (crop-store crops ``(N, S, S)`` of ``kind``, in joint group ``groups[i]``),
        averaged over the fold models; NaN for a group the stage trained no model for."""
        out = np.full(len(crops), np.nan)
        groups = np.asarray(groups, dtype=object)
        for group in dict.fromkeys(groups):
            rows = np.flatnonzero(groups == group)
            by_fold = self.fold_probabilities(crops[rows], kind, group)
            if by_fold:
                out[rows] = np.mean(list(by_fold.values()), axis=0)
        return out
