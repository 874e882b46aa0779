"""Stage 5 (paper 003) end to end: :func:`run` trains every variant of the settings and evaluates it.

1. Targets and a patient-disjoint split from the cohort's folds (:mod:`.targets`).
2. Images cached once as squares; paper 003's augmentation; pixel and target statistics of the
   training split (:mod:`.data`).
3. Each variant trained with the smooth loss and paper 003's SGD (:mod:`.train`), plus the
   mean-score baseline and, when ``compare_delta`` is set, the main model with a second loss threshold.
4. Paper 003's criteria on the test split, the main model against the baseline (patient bootstrap),
   the readers' agreement (Table 2) and the sums of stage 4's joint grades (:mod:`.evaluate`; sites the
   cohort locates on no hand take their grade distribution among the training folds,
   :mod:`ra_lib.stages.grading.site_priors`), the calibrated sum against the main model by a paired
   patient bootstrap.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import pandas as pd
import torch

from ra_lib.core import artifacts as store
from ra_lib.core import bundles, contracts
from ra_lib.core.training import select_device
from ra_lib.evaluation import published
from ra_lib.evaluation.bootstrap import BootstrapDiffResult
from ra_lib.stages.grading.settings import sum_method
from ra_lib.stages.grading.site_priors import site_priors
from ra_lib.stages.overall_score import evaluate
from ra_lib.stages.overall_score.data import ScoreData, cache_size, preload_images
from ra_lib.stages.overall_score.models import VARIANT_LABELS
from ra_lib.stages.overall_score.settings import (MAIN_VARIANT, MIN_TEST_PATIENTS, PAPER_INPUT_SIZE, UNITS,
                                                  OverallScoreSettings)
from ra_lib.stages.overall_score.targets import scored_units
from ra_lib.stages.overall_score.train import (MEAN_BASELINE, PREDICTION_COLUMNS, VariantResult, complexity_table,
                                               make_loss, mean_baseline, model_kwargs, train_variant)

STAGE = contracts.OVERALL_SCORE
#: The trained variants and the baseline of the headline (``variant`` column, as in ``predictions.csv``).
DIRECT_VARIANTS = ("IRB", "DSC", "B", "tv_mobilenet_v2", "tv_resnet50", MEAN_BASELINE)
#: Headline name of the sum of the expected grades of stage 4's calibrated method (the result's
#: ``joint_sum_method``, :func:`ra_lib.stages.grading.settings.sum_method`).
JOINT_SUM = "joint_sum"
#: Headline name of each column of the test table.
HEADLINE_METRICS = {"mae": "mae", "rmse": "rmse", "pearson_r": "pearson_r", "p_t_test": "t_test_p"}
HEADLINE_NAMES = tuple(f"{metric}/{variant}" for metric in HEADLINE_METRICS.values()
                       for variant in (*DIRECT_VARIANTS, JOINT_SUM)) + (
    f"mae_difference_vs_baseline/{MAIN_VARIANT}", f"mae_difference_ci_low/{MAIN_VARIANT}",
    f"mae_difference_ci_high/{MAIN_VARIANT}", f"mae_difference_vs_{MAIN_VARIANT}/{JOINT_SUM}",
    f"mae_difference_vs_{MAIN_VARIANT}_ci_low/{JOINT_SUM}", f"mae_difference_vs_{MAIN_VARIANT}_ci_high/{JOINT_SUM}")
#: Input sizes of the full-size complexity table (the torchvision default and the paper's).
COMPLEXITY_SIZES = (224, PAPER_INPUT_SIZE)


@dataclass
class OverallScoreResult:
    """Everything stage 5's page shows; tables are ``None`` where the cohort lacks their data."""

    settings: OverallScoreSettings
    n_targets: int  # units in the cohort, graded completely or not
    data: ScoreData  # units with split, image cache, training statistics
    trained: list[VariantResult]
    predictions: pd.DataFrame  # predictions.csv: mean baseline and every variant, every split
    test_table: pd.DataFrame  # paper 003's criteria per variant on the test split, with network sizes
    versus_baseline: BootstrapDiffResult  # main variant's test MAE minus the baseline's
    complexity: pd.DataFrame  # full-size networks
    loss_table: pd.DataFrame | None  # main variant with two loss thresholds
    cohort_has_readers: bool
    readers_table: pd.DataFrame | None  # paper 003 Table 2
    main_on_readers_table: pd.DataFrame | None  # main variant on the re-graded test units
    joint_sum_table: pd.DataFrame | None  # main variant against stage 4's summed grades
    stage4_missing: bool
    joint_sum_filled: list[str]  # ``kind/site`` of the sites no hand had located, filled from the training folds
    joint_sum_method: str | None  # stage 4's method whose expected grades are the headline's ``joint_sum``
    joint_sum_versus_main: BootstrapDiffResult | None  # that sum's test MAE minus the main variant's

    @property
    def id_column(self) -> str:
        return self.data.id_column

    @property
    def enough_test_patients(self) -> bool:
        """Whether the test split has the patients for a bootstrap comparison with the baseline."""
        return self.versus_baseline.n_clusters >= MIN_TEST_PATIENTS

    @property
    def beats_baseline(self) -> bool:
        """The main variant's MAE is below the baseline's (interval below 0, enough test patients)."""
        return bool(self.enough_test_patients and self.versus_baseline.upper < 0)

    def main_test_predictions(self) -> pd.DataFrame:
        """The main variant's rows on the test split."""
        return _main_test(self.predictions)

    def headline(self) -> dict[str, float | None]:
        """Test-split MAE, RMSE, Pearson r and t-test p per variant; the main variant's MAE gain on the baseline."""
        rows = self.test_table
        if self.joint_sum_table is not None:
            sums = self.joint_sum_table["variant"].str.startswith(evaluate.JOINT_SUM_PREFIX)
            rows = pd.concat([rows, self.joint_sum_table[sums]])
        rows = rows.set_index("variant")
        summed = evaluate.joint_sum_variant(self.joint_sum_method) if self.joint_sum_method else JOINT_SUM
        values = {}
        for variant, name in [*zip(DIRECT_VARIANTS, DIRECT_VARIANTS), (summed, JOINT_SUM)]:
            for column, metric in HEADLINE_METRICS.items():
                values[f"{metric}/{name}"] = rows.at[variant, column] if variant in rows.index else None
        versus, interval = self.versus_baseline, self.enough_test_patients
        values[f"mae_difference_vs_baseline/{MAIN_VARIANT}"] = versus.diff
        values[f"mae_difference_ci_low/{MAIN_VARIANT}"] = versus.lower if interval else None
        values[f"mae_difference_ci_high/{MAIN_VARIANT}"] = versus.upper if interval else None
        versus = self.joint_sum_versus_main
        interval = versus is not None and versus.n_clusters >= MIN_TEST_PATIENTS
        values[f"mae_difference_vs_{MAIN_VARIANT}/{JOINT_SUM}"] = None if versus is None else versus.diff
        values[f"mae_difference_vs_{MAIN_VARIANT}_ci_low/{JOINT_SUM}"] = versus.lower if interval else None
        values[f"mae_difference_vs_{MAIN_VARIANT}_ci_high/{JOINT_SUM}"] = versus.upper if interval else None
        return contracts.headline(HEADLINE_NAMES, values)

    def verdict(self, profile: str) -> str:
        """Markdown: the main variant against the baseline, and why it may not beat it."""
        versus, settings, paper = self.versus_baseline, self.settings, published.OVERALL_RESULTS
        if not self.enough_test_patients:
            verdict = f"With {versus.n_clusters} test patient(s) this comparison says nothing."
        elif self.beats_baseline:
            verdict = "ResNet-Dwise50 beats the baseline."
        else:
            mm_per_pixel = 200 / settings.input_size  # a hand is some 20 cm long
            verdict = (
                "ResNet-Dwise50 does **not** beat the baseline. Why not: the score is made of local damage: joint "
                "spaces 1-2 mm wide, each JSN grade narrowing them by a quarter, erosions a few millimetres across. "
                f"At {settings.input_size} px a hand gets about {mm_per_pixel:.1f} mm per pixel"
                f"{', so most of that damage is at or below the resolution' if mm_per_pixel > 0.5 else ''}; and the "
                f"networks learn from scratch on {len(self.data.indices('train'))} training {settings.unit}s for "
                f"{settings.epochs} epochs, against the paper's {paper['n_train']:,} training images at 1024 px."
                + ("" if profile == "paper" else " The `paper` profile (1024 px, a GPU run) is the test of the "
                   "method; this profile shows that the pipeline runs end to end."))
        interval = (f" (95 % paired patient-bootstrap interval {versus.lower:.2f} to {versus.upper:.2f})"
                    if self.enough_test_patients else "")
        return (f"Test split: ResNet-Dwise50 (IRB) MAE {versus.estimate_a:.2f} against the mean-score baseline's "
                f"{versus.estimate_b:.2f}, difference {versus.diff:.2f}{interval}. {verdict} For scale, the paper "
                f"reports MAE {paper['mae']:.2f} and RMSE {paper['rmse']:.2f} on 0-280 scores of "
                f"{paper['n_patients']:,} patients' bilateral radiographs at 1024 px (different data).")

    def model_table(self) -> pd.DataFrame:
        """The test table with the book's model names (the page's headline table)."""
        table = self.test_table
        labels = {**VARIANT_LABELS, MEAN_BASELINE: "training mean (baseline)"}
        return table.assign(model=table["variant"].map(labels).fillna(table["variant"]))[
            ["model", "n", "mae", "rmse", "pearson_r", "p_t_test", "parameters", "gmacs_input", "train_seconds"]]

    def write_tables(self, folder) -> None:
        """The stage's CSV artifacts: ``predictions.csv``, ``test_metrics.csv``, ``complexity_full_size.csv``."""
        store.write_table(self.predictions[[self.id_column, *PREDICTION_COLUMNS]], f"{folder}/predictions.csv")
        store.write_table(self.test_table, f"{folder}/test_metrics.csv")
        store.write_table(self.complexity, f"{folder}/complexity_full_size.csv")

    def joint_sum_note(self) -> str | None:
        """Markdown: which sum is the headline's ``joint_sum`` and its MAE against the main variant's, with the
        paired patient-bootstrap interval (``None`` without a headline sum)."""
        summed = self.joint_sum_versus_main
        if summed is None:
            return None
        interval = (f", 95 % paired patient-bootstrap interval {summed.lower:.2f} to {summed.upper:.2f} (p = "
                    f"{summed.p:.3g})" if summed.n_clusters >= MIN_TEST_PATIENTS else
                    f"; with {summed.n_clusters} test patient(s) there is no interval")
        return (f"The headline's `joint_sum` adds up the expected grades of `{self.joint_sum_method}`: test MAE "
                f"{summed.estimate_a:.2f} against {MAIN_VARIANT}'s {summed.estimate_b:.2f} on the same "
                f"{self.settings.unit}s, difference {summed.diff:.2f}{interval}.")

    def filled_sites_note(self) -> str | None:
        """One sentence naming the sites the joint sum took from the training folds (``None`` when none)."""
        if not self.joint_sum_filled:
            return None
        return (f"{len(self.joint_sum_filled)} site(s) were located on no hand and add their training-fold mean "
                f"grade: {', '.join(self.joint_sum_filled)}.")

    def details(self) -> dict:
        """The tables of ``metrics.json`` beside the headline (for readers of the file)."""
        loss, versus = make_loss(self.settings), self.versus_baseline
        return {
            "n_units": self.data.units["split"].value_counts().to_dict(),
            "target_zscore": {"mean": self.data.zscore.mean, "sd": self.data.zscore.sd},
            "loss": {"delta": loss.delta, "alpha": loss.alpha, "bias": loss.bias},
            "main_variant": MAIN_VARIANT, "main_beats_baseline": self.beats_baseline,
            "main_minus_baseline_mae": {"diff": versus.diff, "lower": versus.lower, "upper": versus.upper,
                                        "p": versus.p, "test_patients": versus.n_clusters},
            "test": _records(self.test_table, "variant"),
            "loss_comparison": _records(self.loss_table, "variant"),
            "readers": _records(self.readers_table),
            "joint_sum_comparison": _records(self.joint_sum_table, "variant"),
            "joint_sum_method": self.joint_sum_method,
            "joint_sum_filled_sites": self.joint_sum_filled,
        }


def _main_test(predictions: pd.DataFrame) -> pd.DataFrame:
    return predictions[(predictions["variant"] == MAIN_VARIANT) & (predictions["split"] == "test")]


def _records(table: pd.DataFrame | None, key: str | None = None) -> dict | list | None:
    """Rows for ``metrics.json`` (``{row[key]: {column: value}}``, or a list); ``None`` for no table."""
    if table is None:
        return None
    return table.set_index(key).to_dict("index") if key else table.to_dict("records")


def run(cohort, settings: OverallScoreSettings, *, seed: int = 0, device: torch.device | str = "auto",
        artifacts_root=store.DEFAULT_ROOT, progress: bool = True,
        bundle_dir: str | Path | None = None) -> OverallScoreResult:
    """Train and evaluate every variant of ``settings`` on ``cohort``; stage 4's grades from ``artifacts_root``.

    With ``bundle_dir`` the scoring model (:func:`write_bundle`) is written there as a model bundle.
    """
    device = select_device(device) if isinstance(device, str) else device
    id_column = UNITS[settings.unit]
    units, n_targets = scored_units(cohort.hands, cohort.scores, cohort.images, cohort.folds, settings.unit,
                                    settings.test_fold)
    load = partial(cohort.load_hand, mirror_to_right=True) if settings.unit == "hand" else cohort.load_image
    images = preload_images(load, units[id_column].tolist(), cache_size(settings.input_size), progress)
    data = ScoreData.build(units, images, settings.input_size, settings.unit)

    trained = [train_variant(v, data, settings, device=device, seed=seed, progress=progress)
               for v in settings.variants]
    predictions = pd.concat([mean_baseline(data)] + [r.predictions for r in trained], ignore_index=True)
    sizes = pd.DataFrame([r.size_row() for r in trained])
    test_table = evaluate.agreement_table(predictions).merge(sizes, on="variant", how="left")
    versus = evaluate.mae_versus_baseline(predictions, id_column=id_column, seed=seed)
    main_test = _main_test(predictions)

    loss_table = None
    if settings.compare_delta and MAIN_VARIANT in settings.variants:
        label = f"{MAIN_VARIANT}, delta={settings.compare_delta:g}"
        alternative = train_variant(MAIN_VARIANT, data, settings, make_loss(settings, settings.compare_delta),
                                    device, seed, label=label, progress=progress)
        reference = predictions[predictions["variant"] == MAIN_VARIANT].assign(
            variant=f"{MAIN_VARIANT}, delta={settings.loss_delta:g}")
        loss_table = evaluate.agreement_table(pd.concat([reference, alternative.predictions]))

    totals = evaluate.reader_totals(cohort.readers, data.units, id_column)
    readers_table = evaluate.reader_agreement(totals, id_column) if len(totals) >= 2 else None
    readers_table = readers_table if readers_table is not None and len(readers_table) else None
    graded = main_test[main_test[id_column].isin(totals[id_column])]
    main_on_readers = evaluate.agreement_table(graded) if readers_table is not None and len(graded) else None

    grades = read_stage4_grades(artifacts_root)
    priors = site_priors(cohort.scores, cohort.folds, settings.test_fold)
    joint_sum_table, summed, versus_main, filled = None, None, None, []
    if grades is not None:
        sums = evaluate.joint_sum_predictions(grades, data.units, id_column, priors)
        joint_sum_table = evaluate.joint_sum_comparison(sums, predictions, id_column)
        filled = [f"{site.kind}/{site.site}" for site in evaluate.filled_sites(grades, priors)]
        summed = None if joint_sum_table is None else sum_method(set(grades["method"]))
        if summed is not None and MAIN_VARIANT in settings.variants:
            versus_main = evaluate.mae_difference(pd.concat([predictions, sums]), evaluate.joint_sum_variant(summed),
                                                  MAIN_VARIANT, id_column=id_column, seed=seed)
    result = OverallScoreResult(
        settings=settings, n_targets=n_targets, data=data, trained=trained, predictions=predictions,
        test_table=test_table, versus_baseline=versus,
        complexity=complexity_table(list(VARIANT_LABELS), COMPLEXITY_SIZES), loss_table=loss_table,
        cohort_has_readers=len(cohort.readers) > 0, readers_table=readers_table,
        main_on_readers_table=main_on_readers, joint_sum_table=joint_sum_table, stage4_missing=grades is None,
        joint_sum_filled=filled, joint_sum_method=summed, joint_sum_versus_main=versus_main)
    if bundle_dir is not None:
        write_bundle(result, cohort.images, bundle_dir)
    return result


def read_stage4_grades(artifacts_root) -> pd.DataFrame | None:
    """Stage 4's grade distributions (:func:`.evaluate.stage4_grades`: ``grade_predictions.csv`` and, when
    fitted, ``grade_cdf_predictions.csv``); ``None`` when stage 4 has not run."""
    try:
        grades = store.read_table(contracts.GRADING, "grade_predictions.csv", artifacts_root)
    except store.MissingArtifactError:
        return None
    try:
        cdf = store.read_table(contracts.GRADING, "grade_cdf_predictions.csv", artifacts_root)
    except store.MissingArtifactError:
        cdf = None
    return evaluate.stage4_grades(grades, cdf)


def scoring_variant(settings: OverallScoreSettings) -> str:
    """The variant a bundle keeps for scoring new radiographs: the main one when trained, else the first."""
    return MAIN_VARIANT if MAIN_VARIANT in settings.variants else settings.variants[0]


def write_bundle(result: OverallScoreResult, images: pd.DataFrame, folder: str | Path) -> Path:
    """The scoring variant of ``result`` with its input and target statistics as a model bundle in ``folder``.

    ``images`` is the cohort's image table (for the training cohort's fingerprint).
    """
    settings, data = result.settings, result.data
    variant = scoring_variant(settings)
    model = next(r.model for r in result.trained if r.variant == variant)
    extra = {"variant": variant, "unit": settings.unit, "input_size": settings.input_size,
             "cache_size": cache_size(settings.input_size), "pixel_mean": data.pixel_mean,
             "pixel_sd": data.pixel_sd, "target_mean": data.zscore.mean, "target_sd": data.zscore.sd,
             "model_kwargs": {**model_kwargs(variant, settings), "weights_path": None}}
    return bundles.write_bundle(folder, STAGE, asdict(settings), {variant: model.state_dict()},
                                cohort_fingerprint=bundles.cohort_fingerprint(images),
                                headline=result.headline(), extra=extra)
