"""Stage 4's bundle: written by ``run(bundle_dir=...)``, loaded, it gives the main remedy's grades and the
calibrated grade distributions."""
import dataclasses
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from fixtures.crop_stores import tiny_settings
from ra_lib.core import bundles, contracts
from ra_lib.stages import grading
from ra_lib.stages.grading.bundle import GradeModel, bundle_method, distribution_method, grade_summary
from ra_lib.stages.grading.data import PROBA_COLUMNS
from ra_lib.stages.grading.settings import CDF_GRADES, CLASS_WEIGHTS, MAIN_METHOD, OVERSAMPLE, PLAIN
from ra_lib.stages.grading.site_priors import site_priors


def with_images(cohort):
    return SimpleNamespace(**vars(cohort), images=pd.DataFrame({"image_id": ["img000"], "view": ["both_hands"]}))


@pytest.fixture(scope="module")
def trained(toy, tmp_path_factory):
    store, cohort = toy
    folder = tmp_path_factory.mktemp("grading") / "bundle"
    settings = tiny_settings(methods=(OVERSAMPLE, MAIN_METHOD), regression_methods=(), grade_cdf=False)
    result = grading.run(with_images(cohort), settings, seed=0, crop_store=store, progress=False, bundle_dir=folder)
    return result, store, folder


def test_the_bundle_reproduces_the_main_remedys_grade_distributions(trained, toy):
    result, store, folder = trained
    model = GradeModel(bundles.load_bundle(folder, contracts.GRADING))
    assert model.method == MAIN_METHOD and model.crop_geometry == {"crop_size": 24, "field_of_view": 1.0}
    _, cohort = toy
    assert model.site_priors == site_priors(cohort.scores, cohort.folds, result.settings.test_fold)
    assert model.site_priors and all(sum(p) == pytest.approx(1) for by_site in model.site_priors.values()
                                     for p in by_site.values())
    index = store.index.set_index(["hand_id", "kind", "site"])["crop_idx"]
    predictions = result.predictions
    for kind, n_grades in (("erosion", 6), ("jsn", 5)):
        rows = predictions[(predictions["method"] == MAIN_METHOD) & (predictions["kind"] == kind) &
                           ~predictions["imputed"]].head(20)
        crops = store.images[index.loc[list(zip(rows["hand_id"], rows["kind"], rows["site"]))].to_numpy()]
        grades = model.predict(crops, kind)
        assert grades.probabilities.shape == (len(rows), n_grades)
        expected = rows[PROBA_COLUMNS[:n_grades]].to_numpy(dtype=float)
        np.testing.assert_allclose(grades.probabilities, expected, atol=1e-5)
        assert (grades.grade_pred == rows["grade_pred"].to_numpy()).all()
    assert model.distribution_method == MAIN_METHOD and not model.distributions  # no calibrated method trained


def _crops_of(store, rows):
    index = store.index.set_index(["hand_id", "kind", "site"])["crop_idx"]
    return store.images[index.loc[list(zip(rows["hand_id"], rows["kind"], rows["site"]))].to_numpy()]


@pytest.mark.parametrize("methods, grade_cdf, served", [((OVERSAMPLE,), True, CDF_GRADES),
                                                         ((PLAIN, OVERSAMPLE), False, PLAIN)])
def test_the_bundle_serves_the_calibrated_distributions_beside_the_remedys_grades(toy, tmp_path, methods,
                                                                                 grade_cdf, served):
    store, cohort = toy
    settings = tiny_settings(methods=methods, regression_methods=(), grade_cdf=grade_cdf)
    assert distribution_method(settings) == served
    result = grading.run(with_images(cohort), settings, seed=0, crop_store=store, progress=False,
                         bundle_dir=tmp_path / "bundle")
    model = GradeModel(bundles.load_bundle(tmp_path / "bundle", contracts.GRADING))
    assert model.method == OVERSAMPLE and model.distribution_method == served
    table = result.grade_cdf_predictions() if served == CDF_GRADES else result.predictions
    for kind, n_grades in (("erosion", 6), ("jsn", 5)):
        served_rows = table[(table["method"] == served) & (table["kind"] == kind) & ~table["imputed"]].head(20)
        grades = model.predict(_crops_of(store, served_rows), kind)
        np.testing.assert_allclose(grades.probabilities, served_rows[PROBA_COLUMNS[:n_grades]].to_numpy(dtype=float),
                                   atol=1e-5)
        remedy = result.predictions.set_index(["hand_id", "site", "kind", "method"]).loc[
            [(h, s, kind, OVERSAMPLE) for h, s in zip(served_rows["hand_id"], served_rows["site"])]]
        assert (grades.grade_pred == remedy["grade_pred"].to_numpy()).all()


def test_grade_summary_reads_the_distribution():
    summary = grade_summary(np.array([[0.05, 0.1, 0.7, 0.15], [1.0, 0, 0, 0]]))
    assert list(summary["grade_q10"]) == [1, 0]
    assert list(summary["grade_q90"]) == [3, 0]
    np.testing.assert_allclose(summary["grade_expected"], [0.1 + 1.4 + 0.45, 0.0])


def test_the_bundle_keeps_the_first_remedy_without_the_main_one(toy, tmp_path):
    settings = tiny_settings(methods=(CLASS_WEIGHTS,), regression_methods=(), grade_cdf=False)
    assert bundle_method(settings) == CLASS_WEIGHTS and bundle_method(dataclasses.replace(settings, methods=())) is None
    store, cohort = toy
    (tmp_path / "bundle").mkdir()
    grading.run(with_images(cohort), dataclasses.replace(settings, methods=()), seed=0, crop_store=store,
                progress=False, bundle_dir=tmp_path / "bundle")
    assert not (tmp_path / "bundle").exists()
