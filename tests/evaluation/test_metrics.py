"""ra_lib.evaluation.metrics against scikit-learn / scipy references and on undefined cases."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from sklearn import metrics as skm

from ra_lib.evaluation import metrics

SIZES = (2, 7, 60, 500)
SEEDS = (0, 1, 2)


def _binary_data(seed, n, ties=False):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    score = rng.random(n) + 0.4 * y
    if ties:
        score = np.round(score, 1)
    return y, score


def _both_classes(y):
    return 0 < y.sum() < len(y)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("seed", SEEDS)
def test_ranking_metrics_match_sklearn(seed, n, ties):
    y, score = _binary_data(seed, n, ties)
    if not y.any():
        y[0] = 1
    assert metrics.average_precision(y, score) == pytest.approx(skm.average_precision_score(y, score), abs=1e-12)
    precision, recall, _ = skm.precision_recall_curve(y, score)
    assert metrics.pr_auc_trapezoid(y, score) == pytest.approx(skm.auc(recall, precision), abs=1e-12)
    assert metrics.pr_auc(y, score) == metrics.average_precision(y, score)
    assert metrics.pr_auc(y, score, method="trapezoid") == metrics.pr_auc_trapezoid(y, score)
    curve = metrics.pr_curve(y, score)
    np.testing.assert_allclose(curve.precision, precision[:-1][::-1])
    np.testing.assert_allclose(curve.recall, recall[:-1][::-1])
    if _both_classes(y):
        assert metrics.roc_auc(y, score) == pytest.approx(skm.roc_auc_score(y, score), abs=1e-12)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("seed", SEEDS)
def test_decision_metrics_match_sklearn(seed, n):
    y, score = _binary_data(seed, n)
    pred = score >= 0.7
    nan = np.nan
    ref_sens = skm.recall_score(y, pred, zero_division=nan)
    ref_spec = skm.recall_score(1 - y, ~pred, zero_division=nan)
    np.testing.assert_allclose(metrics.sensitivity(y, pred), ref_sens)
    np.testing.assert_allclose(metrics.specificity(y, pred), ref_spec)
    np.testing.assert_allclose(metrics.precision(y, pred), skm.precision_score(y, pred, zero_division=nan))
    for beta in (0.5, 1.0, 2.0):
        ref = skm.fbeta_score(y, pred, beta=beta, zero_division=nan)
        np.testing.assert_allclose(metrics.f_measure(y, pred, beta=beta), ref)


def test_binary_report_collects_the_metrics():
    y, score = _binary_data(3, 200)
    report = metrics.binary_report(y, score, threshold=0.6)
    pred = score >= 0.6
    assert report["sensitivity"] == metrics.sensitivity(y, pred)
    assert report["specificity"] == metrics.specificity(y, pred)
    assert report["precision"] == metrics.precision(y, pred)
    assert report["f_measure"] == metrics.f_measure(y, pred)
    assert report["average_precision"] == metrics.average_precision(y, score)
    assert report["pr_auc_trapezoid"] == metrics.pr_auc_trapezoid(y, score)
    assert report["roc_auc"] == metrics.roc_auc(y, score)
    assert (report["n"], report["n_pos"], report["threshold"]) == (200, int(y.sum()), 0.6)


def test_trapezoid_is_optimistic_for_coarse_scores_and_close_for_fine_ones():
    y, score = _binary_data(4, 500)
    gap = lambda s: metrics.pr_auc_trapezoid(y, s) - metrics.average_precision(y, s)  # noqa: E731
    assert abs(gap(score)) < 0.005
    assert gap(np.round(score, 1)) > 0.01
    assert gap((score >= 0.7).astype(float)) > 0.1


@pytest.mark.filterwarnings("error")
class TestUndefinedCases:
    def test_no_positives(self):
        y, score = np.zeros(5, int), np.linspace(0, 1, 5)
        assert math.isnan(metrics.sensitivity(y, score > 0.5))
        assert math.isnan(metrics.average_precision(y, score))
        assert math.isnan(metrics.pr_auc_trapezoid(y, score))
        assert math.isnan(metrics.roc_auc(y, score))
        assert metrics.specificity(y, score > 0.5) == 0.6
        assert metrics.pr_curve(y, score).empty
        report = metrics.binary_report(y, score)
        assert report["n_pos"] == 0 and math.isnan(report["average_precision"])

    def test_no_negatives(self):
        y, score = np.ones(4, int), np.array([0.1, 0.2, 0.8, 0.9])
        assert math.isnan(metrics.specificity(y, score > 0.5))
        assert math.isnan(metrics.roc_auc(y, score))
        assert metrics.average_precision(y, score) == 1.0

    def test_no_predicted_positives(self):
        y = np.array([0, 1, 0, 1])
        pred = np.zeros(4, bool)
        assert math.isnan(metrics.precision(y, pred))
        assert metrics.f_measure(y, pred) == 0.0
        assert math.isnan(metrics.f_measure(np.zeros(4), pred))

    def test_all_ties(self):
        y = np.array([0, 1, 0, 0, 1])
        score = np.full(5, 0.3)
        assert metrics.average_precision(y, score) == pytest.approx(0.4)
        assert metrics.average_precision(y, score) == pytest.approx(skm.average_precision_score(y, score))
        assert metrics.roc_auc(y, score) == 0.5

    def test_n_equals_one_and_empty(self):
        assert metrics.sensitivity([1], [1]) == 1.0
        assert math.isnan(metrics.roc_auc([1], [0.4]))
        assert metrics.average_precision([1], [0.4]) == 1.0
        for fn in (metrics.accuracy, metrics.mae, metrics.rmse, metrics.class_normalised_accuracy):
            assert math.isnan(fn([], []))
        assert math.isnan(metrics.average_precision([], []))
        assert math.isnan(metrics.pearson_r([1.0], [2.0]).r)

    def test_constant_inputs_to_pearson(self):
        result = metrics.pearson_r([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])
        assert math.isnan(result.r) and math.isnan(result.p) and result.n == 3


class TestBadInput:
    def test_nan_scores(self):
        with pytest.raises(ValueError, match="y_score has 1 missing"):
            metrics.average_precision([0, 1], [0.1, np.nan])

    def test_non_binary_labels(self):
        with pytest.raises(ValueError, match="y_true must hold only 0/1"):
            metrics.sensitivity([0, 2], [0, 1])

    def test_length_mismatch(self):
        with pytest.raises(ValueError, match="differ in length"):
            metrics.roc_auc([0, 1, 1], [0.1, 0.2])

    def test_two_dimensional(self):
        with pytest.raises(ValueError, match="one-dimensional"):
            metrics.mae(np.zeros((2, 2)), np.zeros((2, 2)))

    def test_unknown_pr_auc_method(self):
        with pytest.raises(ValueError, match="method"):
            metrics.pr_auc([0, 1], [0.1, 0.2], method="interpolated")


@pytest.mark.filterwarnings("ignore:A single label was found")
@pytest.mark.parametrize("n", (1, 9, 300))
@pytest.mark.parametrize("seed", SEEDS)
def test_grade_metrics_match_sklearn(seed, n):
    rng = np.random.default_rng(seed)
    y = rng.choice(6, n, p=[0.5, 0.2, 0.1, 0.1, 0.05, 0.05])
    pred = np.clip(y + rng.integers(-2, 3, n), 0, 5)
    assert metrics.accuracy(y, pred) == pytest.approx(skm.accuracy_score(y, pred))
    if set(pred) <= set(y):  # otherwise sklearn warns; covered by the next test
        assert metrics.balanced_accuracy(y, pred) == pytest.approx(skm.balanced_accuracy_score(y, pred))
    reference_cna = np.mean([np.mean(pred[y == c] == c) for c in np.unique(y)])
    assert metrics.class_normalised_accuracy(y, pred) == pytest.approx(reference_cna)
    reference_w1 = np.mean([np.mean(np.abs(pred[y == c] - c) <= 1) for c in np.unique(y)])
    assert metrics.within_one_accuracy(y, pred) == pytest.approx(reference_w1)
    plain = metrics.within_one_accuracy(y, pred, class_normalised=False)
    assert plain == pytest.approx(np.mean(np.abs(pred - y) <= 1))
    labels = list(range(6))
    cm = metrics.confusion_matrix(y, pred, labels=labels)
    with np.errstate(all="ignore"):
        counts = skm.confusion_matrix(y, pred, labels=labels)
        reference_cm = counts / counts.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(cm.to_numpy(), reference_cm)
    np.testing.assert_array_equal(metrics.confusion_matrix(y, pred, labels=labels, normalise=False), counts)


def test_balanced_accuracy_matches_sklearn_when_prediction_has_extra_class():
    y = np.array([0, 0, 1, 1, 1])
    pred = np.array([0, 2, 1, 1, 0])
    with pytest.warns(UserWarning):
        reference = skm.balanced_accuracy_score(y, pred)
    assert metrics.balanced_accuracy(y, pred) == pytest.approx(reference)


def test_confusion_matrix_labels_and_string_classes():
    cm = metrics.confusion_matrix(["a", "b", "b"], ["a", "a", "b"])
    assert list(cm.index) == ["a", "b"] and cm.loc["b", "a"] == 0.5
    assert cm.index.name == "true" and cm.columns.name == "predicted"
    with pytest.raises(ValueError, match="not in labels"):
        metrics.confusion_matrix([0, 1], [0, 3], labels=[0, 1])


def test_per_class_accuracy_is_indexed_by_true_class():
    per_class = metrics.per_class_accuracy([0, 0, 2, 2], [0, 1, 2, 0])
    assert per_class.to_dict() == {0: 0.5, 2: 0.5}


@pytest.mark.parametrize("n", (2, 30, 400))
@pytest.mark.parametrize("seed", SEEDS)
def test_regression_metrics_match_references(seed, n):
    rng = np.random.default_rng(seed)
    true = rng.normal(50, 20, n)
    pred = true + rng.normal(2, 10, n)
    assert metrics.mae(true, pred) == pytest.approx(skm.mean_absolute_error(true, pred))
    assert metrics.rmse(true, pred) == pytest.approx(skm.root_mean_squared_error(true, pred))
    result = metrics.pearson_r(pred, true)
    reference = stats.pearsonr(pred, true)
    assert result.r == pytest.approx(reference.statistic)
    assert result.p == pytest.approx(reference.pvalue)
    assert result.n == n


def _crps_loop(prob, y, grid, kind):
    total = 0.0
    for row, observed in zip(prob, y):
        for p, t in zip(row, grid):
            step = (t >= observed) if kind == "cdf" else (observed >= t)
            total += (p - step) ** 2
    return total / (len(y) * len(grid))


@pytest.mark.parametrize("kind", ["cdf", "survival"])
def test_crps_grid_matches_the_paper_sum(kind):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 101, 7).astype(float)
    logits = np.cumsum(rng.random((7, 101)), axis=1) - 50
    cdf = 1 / (1 + np.exp(-logits / 5))
    prob = cdf if kind == "cdf" else 1 - cdf
    expected = _crps_loop(prob, y, np.arange(101), kind)
    assert metrics.crps_grid(prob, y, kind=kind) == pytest.approx(expected)
    per_obs = metrics.crps_grid(prob, y, kind=kind, reduce=False)
    assert per_obs.shape == (7,) and per_obs.mean() == pytest.approx(expected)


def test_crps_grid_perfect_and_worst_forecasts():
    grid = np.arange(101)
    y = np.array([0.0, 37.0, 100.0])
    perfect_cdf = (grid[None, :] >= y[:, None]).astype(float)
    assert metrics.crps_grid(perfect_cdf, y) == 0.0
    perfect_survival = (y[:, None] >= grid[None, :]).astype(float)
    assert metrics.crps_grid(perfect_survival, y, kind="survival") == 0.0
    assert metrics.crps_grid(1 - perfect_cdf, y) == 1.0


def test_crps_integral_approximates_gaussian_closed_form():
    mu, sigma, y = np.array([40.0, 55.0]), np.array([8.0, 3.0]), np.array([47.0, 55.0])
    grid = np.linspace(-20, 120, 14001)
    cdf = stats.norm.cdf(grid[None, :], mu[:, None], sigma[:, None])
    approx = metrics.crps_grid(cdf, y, thresholds=grid, integral=True, reduce=False)
    np.testing.assert_allclose(approx, metrics.crps_gaussian(mu, sigma, y, reduce=False), atol=2e-2)


def test_crps_gaussian_matches_numerical_integral():
    mu, sigma, y = 1.5, 2.0, 0.3
    integrand = lambda t: (stats.norm.cdf(t, mu, sigma) - (t >= y)) ** 2  # noqa: E731
    reference = integrate.quad(integrand, -30, y)[0] + integrate.quad(integrand, y, 30)[0]
    assert metrics.crps_gaussian(mu, sigma, [y]) == pytest.approx(reference, rel=1e-6)


def test_crps_grid_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.crps_grid(np.full((1, 3), 1.5), [1.0])
    with pytest.raises(ValueError, match="rows"):
        metrics.crps_grid(np.zeros((2, 3)), [1.0])
    with pytest.raises(ValueError, match="kind"):
        metrics.crps_grid(np.zeros((1, 3)), [1.0], kind="pdf")
    with pytest.raises(ValueError, match="sigma"):
        metrics.crps_gaussian(0.0, 0.0, [1.0])


def test_accepts_pandas_and_bool_inputs():
    y = pd.Series([True, False, True, True])
    score = pd.Series([0.9, 0.1, 0.4, 0.8])
    assert metrics.roc_auc(y, score) == skm.roc_auc_score(y, score)
