"""Stage 4's model bundle: the grader of each kind trained with the main remedy, for joints of new radiographs.

The bundle keeps one network per kind, of :func:`bundle_method` (:data:`~.settings.MAIN_METHOD`, paper 004's
oversampling with augmentation, when the profile trains it), and how stage 2's crop store cut the crops
(:func:`ra_lib.stages.detection.crops.crop_geometry`) with the training patients' grade shares per site.
:class:`GradeModel` gives each crop's grade distribution, its expected grade and its 10-90 % interval
(:data:`~.regression.INTERVAL`).
"""
from __future__ import annotations

from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from ra_lib.core import bundles, contracts
from ra_lib.stages.grading import crps
from ra_lib.stages.grading.data import N_CLASSES, preprocess_crops
from ra_lib.stages.grading.models import build_model
from ra_lib.stages.grading.regression import INTERVAL
from ra_lib.stages.grading.settings import MAIN_METHOD, GradingSettings
from ra_lib.stages.grading.site_priors import SitePriors
from ra_lib.stages.grading.train import predict_outputs

if TYPE_CHECKING:
    from ra_lib.stages.grading.pipeline import GradingResult

STAGE = contracts.GRADING


def bundle_method(settings: GradingSettings) -> str | None:
    """The remedy a bundle keeps: the main one when trained, else the first trained (``None``: none)."""
    return MAIN_METHOD if MAIN_METHOD in settings.methods else next(iter(settings.methods), None)


def write_bundle(result: "GradingResult", images: pd.DataFrame, crop_geometry: dict, folder: str | Path,
                 priors: SitePriors | None = None) -> Path:
    """The kept graders of ``result`` as a model bundle in ``folder``; ``images``: the cohort's image table
    (its fingerprint), ``crop_geometry``: how the crop store cut its crops, ``priors``: the training
    patients' grade shares per site (:func:`~.site_priors.site_priors`), for sites no detector locates."""
    trained = result.remedies.models
    if not trained:
        raise ValueError("no grader was trained, so there is no bundle to write")
    extra = {"method": bundle_method(result.settings), "kinds": {kind: N_CLASSES[kind] for kind in trained},
             "crop_geometry": dict(crop_geometry), "site_priors": priors or {}}
    return bundles.write_bundle(folder, STAGE, asdict(result.settings),
                                {kind: model.state_dict() for kind, model in trained.items()},
                                cohort_fingerprint=bundles.cohort_fingerprint(images), headline=result.headline(),
                                extra=extra)


def grade_summary(probabilities: np.ndarray) -> dict[str, np.ndarray]:
    """Of ``(N, T)`` grade probabilities: the most likely grade, the expected grade and the ends of the
    :data:`~.regression.INTERVAL` interval (its 10 % and 90 % quantiles)."""
    survival = crps.survival_from_probabilities(probabilities)
    low, high = crps.quantiles(survival, INTERVAL).T
    return {"grade_pred": np.argmax(probabilities, axis=1), "grade_expected": crps.expected_value(survival),
            "grade_q10": low, "grade_q90": high}


class GradeModel:
    """Stage 4's graders from the bundle: the grade distribution of a joint crop per kind.

    ``crop_geometry``: how its crops must be cut; ``method``: the remedy the graders were trained with;
    ``site_priors``: the training patients' grade shares per site (empty in bundles written without them).
    """

    def __init__(self, bundle: bundles.Bundle):
        settings = bundle.settings
        self.input_size, self.threads = int(settings["crop_size"]), settings["threads"]
        self.crop_geometry, self.method = bundle.extra["crop_geometry"], bundle.extra["method"]
        self.site_priors: SitePriors = bundle.extra.get("site_priors", {})
        self.models = {}
        for kind, n_classes in bundle.extra["kinds"].items():
            network = build_model(settings["arch"], int(n_classes), int(settings["width"]))
            network.load_state_dict(bundle.state_dict(kind))
            self.models[kind] = network.eval()

    def predict(self, crops: np.ndarray, kind: str) -> np.ndarray | None:
        """``(N, grades of kind)`` probabilities of crop-store crops ``(N, S, S)``; ``None`` without a grader."""
        model = self.models.get(kind)
        if model is None:
            return None
        if not len(crops):
            return np.empty((0, N_CLASSES[kind]))
        return predict_outputs(model, preprocess_crops(crops, self.input_size), "cpu",
                               partial(torch.softmax, dim=1), self.threads)
