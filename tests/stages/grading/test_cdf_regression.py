"""Tests of ra_lib.stages.grading.cdf_regression: CRPS loss, monotonicity repair, quantiles, PIT, training."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy import stats

from ra_lib.stages.grading import cdf_regression as cdf
from ra_lib.stages.grading import pipeline as grading
from ra_lib.evaluation import metrics
from ra_lib.core.profiles import resolve


def brute_force_crps(prob: np.ndarray, pct: np.ndarray) -> float:
    """Paper 004's sum, term by term: 1 / (101 N) sum_n sum_k (P(y >= k) - 1[y_n >= k])^2."""
    total = 0.0
    for n in range(len(pct)):
        for k in range(101):
            total += (prob[n, k] - (1.0 if pct[n] >= k else 0.0)) ** 2
    return total / (101 * len(pct))


def test_crps_loss_is_zero_for_a_perfect_step():
    pct = torch.tensor([0.0, 37.0, 100.0])
    logits = torch.where(cdf.step_targets(pct) > 0, 50.0, -50.0)
    assert float(cdf.crps_loss(logits, pct)) == pytest.approx(0.0, abs=1e-12)


def test_crps_loss_matches_brute_force_and_ra_lib_metrics():
    rng = np.random.default_rng(0)
    logits = torch.tensor(rng.normal(0, 2, (6, 101)))
    pct = torch.tensor([0.0, 3.0, 20.5, 55.0, 99.0, 100.0], dtype=torch.float64)
    loss = float(cdf.crps_loss(logits, pct))
    prob = torch.sigmoid(logits).numpy()
    assert loss == pytest.approx(brute_force_crps(prob, pct.numpy()), rel=1e-12)
    assert loss == pytest.approx(metrics.crps_grid(prob, pct.numpy(), kind="survival"), rel=1e-12)


def test_crps_loss_rejects_wrong_width():
    with pytest.raises(ValueError, match="101 outputs"):
        cdf.crps_loss(torch.zeros(2, 100), torch.zeros(2))


def test_ratingen_stages_follow_table_1():
    np.testing.assert_array_equal(cdf.ratingen_stage([0, 1, 20, 21, 40, 41, 60, 61, 80, 81, 100]),
                                  [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    with pytest.raises(ValueError):
        cdf.ratingen_stage([101])


def test_monotone_repair():
    raw = np.linspace(1, 0, 101)[None, :].repeat(2, axis=0)
    raw[1, 10], raw[1, 0] = 0.99, 0.7  # a bump and a low S(0)
    for method in ("rearrange", "cummin"):
        fixed = cdf.monotone_survival(raw, method)
        assert fixed[:, 0].tolist() == [1.0, 1.0]
        assert np.all(np.diff(fixed, axis=1) <= 0)
        np.testing.assert_allclose(fixed[0], raw[0])  # already monotone: unchanged
    np.testing.assert_allclose(cdf.monotone_survival(raw, "rearrange")[1], -np.sort(-np.r_[1.0, raw[1, 1:]]))
    assert cdf.monotone_survival(raw, "cummin")[1, 10] == raw[1, 9]
    assert cdf.is_monotone(raw).tolist() == [True, False]
    with pytest.raises(ValueError, match="unknown monotonicity"):
        cdf.monotone_survival(raw, "isotonic")


def test_quantiles_and_mean_of_known_distributions():
    point = cdf.point_mass_survival([37.0])
    np.testing.assert_array_equal(cdf.quantiles(point), [[37, 37, 37]])
    assert cdf.expected_value(point)[0] == pytest.approx(37)
    uniform = cdf.survival_from_samples(np.arange(101))[None, :]  # uniform on 0..100
    np.testing.assert_array_equal(cdf.quantiles(uniform, (0.1, 0.5, 0.9)), [[10, 50, 90]])
    assert cdf.expected_value(uniform)[0] == pytest.approx(50)
    two_point = cdf.survival_from_samples([0, 0, 0, 80])[None, :]  # P(0) = 0.75, P(80) = 0.25
    np.testing.assert_array_equal(cdf.quantiles(two_point, (0.5, 0.75, 0.8)), [[0, 0, 80]])
    assert cdf.expected_value(two_point)[0] == pytest.approx(20)


def test_pit_is_uniform_for_calibrated_forecasts():
    rng = np.random.default_rng(1)
    centres = rng.integers(10, 90, 400)
    # predictive distribution: uniform on centre-10..centre+10; targets drawn from it
    support = np.arange(101)
    pmf = (np.abs(support[None, :] - centres[:, None]) <= 10) / 21.0
    survival = pmf[:, ::-1].cumsum(axis=1)[:, ::-1]
    targets = centres + rng.integers(-10, 11, 400)
    u = cdf.pit_values(survival, targets, rng)
    assert stats.kstest(u, "uniform").pvalue > 0.01
    assert (u >= 0).all() and (u <= 1).all()


@pytest.fixture(scope="module")
def data():
    store, scores = grading.toy_crop_store(n_patients=8, crop_size=24, seed=2)
    return grading.prepare_data(store, scores, crop_size=16, n_folds=4, seed=0)


def settings(**overrides):
    base = resolve(grading.PROFILES, "smoke", crop_size=16, batch_size=32, width=4)
    return SimpleNamespace(**{**vars(base), **overrides})


def test_tiny_cdf_training_reduces_crps(data):
    trained = cdf.train_regressor(data, cdf.CDF, settings(regression_epochs=4, regression_lr=0.01), seed=0,
                                  device="cpu", progress=False)
    losses = trained.history["train_loss"].to_numpy()
    assert losses[-1] < losses[0]


def test_run_cdf_regression_predicts_every_erosion_row(data):
    result = cdf.run_cdf_regression(data, settings(), seed=0, progress=False)
    preds = result.predictions
    assert list(preds.columns) == cdf.PREDICTION_COLUMNS
    n_rows = (data.rows["kind"] == "erosion").sum()
    for method in cdf.REGRESSION_METHODS:
        sub = preds[preds["method"] == method]
        assert len(sub) == n_rows == len(result.survival[method])
    curves = preds[preds["method"] == cdf.CDF]
    assert (curves["q10"] <= curves["median"]).all() and (curves["median"] <= curves["q90"]).all()
    table = cdf.regression_metrics(result).set_index("method")
    assert table.loc[cdf.CDF, "crps"] >= 0 and 0 <= table.loc[cdf.CDF, "coverage_80"] <= 1
    assert np.isnan(table.loc[cdf.ONE_OUTPUT, "coverage_80"])
    pit = cdf.pit(result)
    assert len(pit) == table.loc[cdf.CDF, "n"]


def test_stage_table_is_diagonal_for_consistent_scores(data):
    table = cdf.stage_table(data)
    assert table.to_numpy().sum() == (data.rows["kind"] == "erosion").sum()
    assert (table.to_numpy() == np.diag(np.diag(table.to_numpy()))).all()
