"""Stage 4's model bundle: per kind, the grader trained with the main remedy and the calibrated grade
distribution, for joints of new radiographs.

The bundle keeps one grader per kind, of :func:`bundle_method` (:data:`~.settings.MAIN_METHOD`, paper 004's
oversampling with augmentation, when the profile trains it), which gives a joint's most likely grade; and,
where the stage trained one, the network of :func:`distribution_method` (:data:`~.settings.SUM_METHODS`: the
CDF head on the grades, else the plain classifier), whose grade distribution gives the expected grade, its
interval and the hand's sum, unbiased where the remedy's would overstate damage. With them it keeps how stage
2's crop store cut the crops (:func:`ra_lib.stages.detection.crops.crop_geometry`) and the training patients'
grade shares per site. :class:`GradeModel` gives each crop's most likely grade and grade distribution.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
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
from ra_lib.stages.grading.settings import CDF_GRADES, MAIN_METHOD, GradingSettings, sum_method
from ra_lib.stages.grading.site_priors import SitePriors
from ra_lib.stages.grading.train import predict_outputs

if TYPE_CHECKING:
    from ra_lib.stages.grading.pipeline import GradingResult

STAGE = contracts.GRADING


def bundle_method(settings: GradingSettings) -> str | None:
    """The remedy a bundle keeps: the main one when trained, else the first trained (``None``: none)."""
    return MAIN_METHOD if MAIN_METHOD in settings.methods else next(iter(settings.methods), None)


def distribution_method(settings: GradingSettings) -> str | None:
    """The method whose grade distributions a bundle serves: the first of :data:`~.settings.SUM_METHODS`
    the profile trains, else the graders' own (:func:`bundle_method`)."""
    trained = (*settings.methods, *((CDF_GRADES,) if settings.grade_cdf else ()))
    return sum_method(trained) or bundle_method(settings)


def write_bundle(result: "GradingResult", images: pd.DataFrame, crop_geometry: dict, folder: str | Path,
                 priors: SitePriors | None = None) -> Path:
    """The kept networks of ``result`` as a model bundle in ``folder``: the graders as ``<kind>``, the
    distribution networks (when another method's) as ``distribution_<kind>``; ``images``: the cohort's image
    table (its fingerprint), ``crop_geometry``: how the crop store cut its crops, ``priors``: the training
    patients' grade shares per site (:func:`~.site_priors.site_priors`), for sites no detector locates."""
    settings = result.settings
    method, distributions = bundle_method(settings), distribution_method(settings)
    graders = result.remedies.models.get(method, {})
    if not graders:
        raise ValueError("no grader was trained, so there is no bundle to write")
    networks = {kind: model.state_dict() for kind, model in graders.items()}
    if distributions != method:
        trained = ({kind: run.models[CDF_GRADES] for kind, run in result.grade_cdf.items()}
                   if distributions == CDF_GRADES else result.remedies.models.get(distributions, {}))
        networks.update({f"distribution_{kind}": model.state_dict() for kind, model in trained.items()})
    extra = {"method": method, "distribution_method": distributions,
             "kinds": {kind: N_CLASSES[kind] for kind in graders}, "crop_geometry": dict(crop_geometry),
             "site_priors": priors or {}}
    return bundles.write_bundle(folder, STAGE, asdict(settings), networks,
                                cohort_fingerprint=bundles.cohort_fingerprint(images), headline=result.headline(),
                                extra=extra)


def grade_summary(probabilities: np.ndarray) -> dict[str, np.ndarray]:
    """Of ``(N, T)`` grade probabilities: the expected grade and the ends of the
    :data:`~.regression.INTERVAL` interval (its 10 % and 90 % quantiles)."""
    survival = crps.survival_from_probabilities(probabilities)
    low, high = crps.quantiles(survival, INTERVAL).T
    return {"grade_expected": crps.expected_value(survival), "grade_q10": low, "grade_q90": high}


@dataclass
class JointGrades:
    """The grades of ``N`` crops of one kind: the grader's most likely grade and the grade distribution."""

    grade_pred: np.ndarray  # (N,) ints
    probabilities: np.ndarray  # (N, grades of the kind)


class GradeModel:
    """Stage 4's networks from the bundle: per kind, a joint crop's most likely grade and grade distribution.

    ``method``: the graders' remedy; ``distribution_method``: the method of the distributions (the graders'
    own in bundles written without another); ``crop_geometry``: how crops must be cut; ``site_priors``: the
    training patients' grade shares per site (empty in bundles written without them).
    """

    def __init__(self, bundle: bundles.Bundle):
        settings, extra = bundle.settings, bundle.extra
        self.input_size, self.threads = int(settings["crop_size"]), settings["threads"]
        self.crop_geometry, self.method = extra["crop_geometry"], extra["method"]
        self.distribution_method = extra.get("distribution_method") or self.method
        self.site_priors: SitePriors = extra.get("site_priors", {})
        self.graders, self.distributions = {}, {}
        for kind, n_classes in extra["kinds"].items():
            self.graders[kind] = self._network(bundle, kind, int(n_classes))
            if f"distribution_{kind}" in bundle.models:
                self.distributions[kind] = self._network(bundle, f"distribution_{kind}", int(n_classes))

    @staticmethod
    def _network(bundle: bundles.Bundle, name: str, outputs: int) -> torch.nn.Module:
        settings = bundle.settings
        network = build_model(settings["arch"], outputs, int(settings["width"]))
        network.load_state_dict(bundle.state_dict(name))
        return network.eval()

    def predict(self, crops: np.ndarray, kind: str) -> JointGrades | None:
        """The :class:`JointGrades` of crop-store crops ``(N, S, S)``; ``None`` without a grader of ``kind``."""
        grader = self.graders.get(kind)
        if grader is None:
            return None
        n_classes = N_CLASSES[kind]
        if not len(crops):
            return JointGrades(np.empty(0, dtype=int), np.empty((0, n_classes)))
        images = preprocess_crops(crops, self.input_size)
        softmax = partial(torch.softmax, dim=1)
        graded = predict_outputs(grader, images, "cpu", softmax, self.threads)
        distribution = self.distributions.get(kind)
        if distribution is None:
            probabilities = graded
        elif self.distribution_method == CDF_GRADES:
            survival = predict_outputs(distribution, images, "cpu", torch.sigmoid, self.threads)
            probabilities = crps.probabilities(crps.monotone_survival(survival))
        else:
            probabilities = predict_outputs(distribution, images, "cpu", softmax, self.threads)
        return JointGrades(np.argmax(graded, axis=1), probabilities)
