"""Tests of ra_lib.stages.grading.figures: every figure draws from real stage results."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from fixtures.crop_stores import tiny_settings  # noqa: E402
from ra_lib.cohort.sites import JSN  # noqa: E402
from ra_lib.stages.grading import evaluate, figures  # noqa: E402
from ra_lib.stages.grading.classify import run_grading  # noqa: E402
from ra_lib.stages.grading.regression import PERCENT, grade_target, run_cdf  # noqa: E402
from ra_lib.stages.grading.settings import CDF, CDF_GRADES, ONE_OUTPUT  # noqa: E402


@pytest.fixture(scope="module")
def results(toy_data):
    settings = tiny_settings()
    return (run_grading(toy_data, settings, progress=False),
            run_cdf(toy_data, PERCENT, (CDF, ONE_OUTPUT), settings, progress=False),
            run_cdf(toy_data, grade_target(JSN), (CDF_GRADES,), settings, progress=False))


def test_data_figures(toy_data):
    assert len(figures.plot_grade_counts(toy_data).axes) == 2
    assert len(figures.plot_example_crops(toy_data, JSN, per_grade=3).axes) == 5 * 3
    plt.close("all")


def test_grading_figures(results):
    remedies = results[0]
    assert len(figures.plot_learning_curves(remedies.histories).axes) == 2
    matrices = evaluate.confusion_matrices(remedies.predictions)
    assert len(figures.plot_confusion_matrices(matrices, JSN).axes) == 3
    plt.close("all")


def test_distribution_figures(results):
    _, percent, grades = results
    assert len(figures.plot_survival_examples(percent, CDF, n=4).axes) == 4
    assert len(figures.plot_survival_examples(grades, CDF_GRADES, n=3).axes) == 3
    assert len(figures.plot_predicted_vs_true(percent).axes) == 2
    assert len(figures.plot_pit(evaluate.pit(percent, CDF)).axes) == 1
    plt.close("all")
