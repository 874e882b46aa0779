"""Stage 4 end to end: grade every joint crop with each imbalance remedy, regress the eroded surface and the
grades as distributions, and report the headline (papers 002 and 004).

:func:`run` joins the stage-2 crop store with the cohort's scores, splits patients by the cohort's folds
(:func:`ra_lib.stages.grading.data.split_patients`), trains every remedy of ``settings.methods`` per
kind, the eroded-surface regressions of ``settings.regression_methods`` when the cohort has
percentages, and (``settings.grade_cdf``) a CDF head on each kind's grades.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ra_lib.cohort.sites import EROSION, KINDS
from ra_lib.core import artifacts as store
from ra_lib.core import bundles, contracts
from ra_lib.stages.detection.crops import crop_geometry
from ra_lib.stages.grading import evaluate
from ra_lib.stages.grading.bundle import bundle_method, distribution_method, write_bundle
from ra_lib.stages.grading.site_priors import site_priors
from ra_lib.stages.grading.classify import RemedyRuns, run_grading
from ra_lib.stages.grading.data import GradingData, prepare_data
from ra_lib.stages.grading.regression import PERCENT, CdfResult, grade_target, run_cdf
from ra_lib.stages.grading.settings import CDF, CDF_GRADES, MAJORITY, METHODS, ONE_OUTPUT, GradingSettings

#: ``<criterion>/<method>/<kind>`` of the classifiers and the majority baseline; ``{mse,mae}_pct/<method>``
#: and ``crps/<method>/erosion`` of the eroded-surface regressions; ``{crps,rmse}/cdf_grades/<kind>`` of the
#: grade CDF heads. Every value is of the test split.
HEADLINE_NAMES = (
    *(f"{criterion}/{method}/{kind}" for criterion in evaluate.GRADING_CRITERIA
      for method in (*METHODS, MAJORITY) for kind in KINDS),
    *(f"{name}/{method}" for name in ("mse_pct", "mae_pct") for method in (CDF, ONE_OUTPUT)),
    *(f"crps/{method}/{EROSION}" for method in (CDF, ONE_OUTPUT)),
    *(f"{name}/{CDF_GRADES}/{kind}" for name in ("crps", "rmse") for kind in KINDS),
)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The non-empty ``frames`` stacked (an empty table when there are none)."""
    frames = [frame for frame in frames if len(frame)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


@dataclass
class GradingResult:
    """Everything stage 4 computed: the data, the remedies' grade predictions, the eroded-surface
    regression (``None`` without percentages) and the grade CDF heads per kind."""

    settings: GradingSettings
    data: GradingData
    remedies: RemedyRuns
    regression: CdfResult | None
    grade_cdf: dict[str, CdfResult] = field(default_factory=dict)

    @property
    def predictions(self) -> pd.DataFrame:
        """``grade_predictions.csv``: every remedy's and the baseline's grade distribution for every row."""
        return self.remedies.predictions

    def grading_table(self) -> pd.DataFrame:
        """Test-split criteria per kind and method (:func:`ra_lib.stages.grading.evaluate.grading_metrics`)."""
        return evaluate.grading_metrics(self.predictions)

    def regression_table(self) -> pd.DataFrame:
        """Test-split metrics of the eroded-surface regressions (empty without percentages)."""
        return evaluate.cdf_metrics(self.regression) if self.regression is not None else pd.DataFrame()

    def grade_cdf_table(self) -> pd.DataFrame:
        """Test-split metrics of the grade CDF heads, one row per kind."""
        return _concat([evaluate.cdf_metrics(result) for result in self.grade_cdf.values()])

    def grade_cdf_predictions(self) -> pd.DataFrame | None:
        """``grade_cdf_predictions.csv``: both kinds' grade distributions (``None`` when not fitted)."""
        return _concat([result.predictions for result in self.grade_cdf.values()]) if self.grade_cdf else None

    def write_tables(self, folder) -> None:
        """The stage's prediction tables: ``grade_predictions.csv``, and ``cdf_predictions.csv`` and
        ``grade_cdf_predictions.csv`` where fitted (removed where not, so no earlier run's table stays)."""
        folder = Path(folder)
        store.write_table(self.predictions, folder / "grade_predictions.csv")
        for name, table in (("cdf_predictions.csv", None if self.regression is None else self.regression.predictions),
                            ("grade_cdf_predictions.csv", self.grade_cdf_predictions())):
            if table is None:
                (folder / name).unlink(missing_ok=True)
            else:
                store.write_table(table, folder / name)

    def histories(self) -> pd.DataFrame:
        """Loss per epoch of every network (column ``kind`` and ``method``)."""
        return _concat([self.remedies.histories, *(r.histories for r in self._cdf_results())])

    def timings(self) -> pd.DataFrame:
        """Training time and samples of every network."""
        return _concat([self.remedies.timings, *(r.timings for r in self._cdf_results())])

    def _cdf_results(self) -> list[CdfResult]:
        return ([self.regression] if self.regression is not None else []) + list(self.grade_cdf.values())

    def headline(self) -> dict[str, float | None]:
        """The flat headline (:data:`HEADLINE_NAMES`) of the test split; ``None`` where not measured."""
        values = dict.fromkeys(HEADLINE_NAMES)
        for row in self.grading_table().itertuples():
            for criterion in evaluate.GRADING_CRITERIA:
                values[f"{criterion}/{row.method}/{row.kind}"] = getattr(row, criterion)
        for row in self.regression_table().itertuples():
            values[f"mse_pct/{row.method}"], values[f"mae_pct/{row.method}"] = row.mse, row.mae
            values[f"crps/{row.method}/{EROSION}"] = row.crps
        for row in self.grade_cdf_table().itertuples():
            values[f"crps/{CDF_GRADES}/{row.kind}"], values[f"rmse/{CDF_GRADES}/{row.kind}"] = row.crps, row.rmse
        return contracts.headline(HEADLINE_NAMES, values)

    def details(self) -> dict:
        """Detail tables for ``metrics.json`` (for readers; other stages read only the headline)."""
        grading, timings = self.grading_table(), self.timings()
        seconds = timings.groupby("method", sort=False)["seconds"].sum() if len(timings) else pd.Series(dtype=float)
        return {"counts": self.data.counts, "grading_test": grading.to_dict("records"),
                "learning_check": evaluate.learning_check(grading).to_dict("records"),
                "regression_test": self.regression_table().to_dict("records"),
                "grade_cdf_test": self.grade_cdf_table().to_dict("records"),
                "train_seconds": seconds.to_dict()}


def run(cohort, settings: GradingSettings, *, seed: int = 0, device="cpu", crop_store,
        progress: bool = True, bundle_dir: str | Path | None = None) -> GradingResult:
    """Train and evaluate every stage-4 model on ``cohort`` (``.scores``, ``.folds``) and the stage-2
    ``crop_store`` (:func:`ra_lib.stages.detection.crops.load_crop_store`).

    A kind without usable training crops is skipped (its headline values are ``None``), as is the
    eroded-surface regression on a cohort without percentages. With ``bundle_dir`` the graders of
    :func:`.bundle.bundle_method` and the distributions of :func:`.bundle.distribution_method` are written
    there as a model bundle (an old one is removed when no grader was trained).
    """
    data = prepare_data(crop_store, cohort.scores, cohort.folds, settings.crop_size, settings.test_fold)
    kinds = [kind for kind in KINDS if len(data.select(kind, "train"))]
    keep = {bundle_method(settings), distribution_method(settings)}
    remedies = run_grading(data, settings, seed, device, progress, kinds=kinds, keep=keep)
    regression = run_cdf(data, PERCENT, settings.regression_methods, settings, seed, device, progress) \
        if data.has_percentages() and settings.regression_methods else None
    grade_cdf = {kind: run_cdf(data, grade_target(kind), (CDF_GRADES,), settings, seed, device, progress)
                 for kind in kinds} if settings.grade_cdf else {}
    result = GradingResult(settings, data, remedies, regression, grade_cdf)
    if bundle_dir is not None and remedies.models.get(bundle_method(settings)):
        write_bundle(result, cohort.images, crop_geometry(crop_store), bundle_dir,
                     site_priors(cohort.scores, cohort.folds, settings.test_fold))
    elif bundle_dir is not None:
        bundles.remove_bundle(bundle_dir)
    return result

