"""Tests of ra_lib.stages.grading.crps: CRPS loss, monotonicity repair, quantiles, means, PIT."""
import numpy as np
import pytest
import torch
from scipy import stats

from ra_lib.evaluation import metrics
from ra_lib.stages.grading import crps


def brute_force_crps(prob: np.ndarray, target: np.ndarray) -> float:
    """Paper 004's sum, term by term: 1 / (T N) sum_n sum_k (P(y >= k) - 1[y_n >= k])^2."""
    n_thresholds = prob.shape[1]
    total = 0.0
    for n in range(len(target)):
        for k in range(n_thresholds):
            total += (prob[n, k] - (1.0 if target[n] >= k else 0.0)) ** 2
    return total / (n_thresholds * len(target))


def test_crps_loss_is_zero_for_a_perfect_step():
    pct = torch.tensor([0.0, 37.0, 100.0])
    logits = torch.where(crps.step_targets(pct) > 0, 50.0, -50.0)
    assert float(crps.crps_loss(logits, pct)) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("n_thresholds, target", [(101, [0.0, 3.0, 20.5, 55.0, 99.0, 100.0]),
                                                  (6, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0])])
def test_crps_loss_matches_brute_force_and_ra_lib_metrics(n_thresholds, target):
    rng = np.random.default_rng(0)
    logits = torch.tensor(rng.normal(0, 2, (len(target), n_thresholds)))
    target = torch.tensor(target, dtype=torch.float64)
    loss = float(crps.crps_loss(logits, target, n_thresholds))
    prob = torch.sigmoid(logits).numpy()
    assert loss == pytest.approx(brute_force_crps(prob, target.numpy()), rel=1e-12)
    assert loss == pytest.approx(metrics.crps_grid(prob, target.numpy(), kind="survival"), rel=1e-12)


def test_crps_loss_rejects_wrong_width_and_weights_samples():
    with pytest.raises(ValueError, match="101 outputs"):
        crps.crps_loss(torch.zeros(2, 100), torch.zeros(2))
    logits, target = torch.zeros(2, 5), torch.tensor([0.0, 4.0])
    per_sample = [float(crps.crps_loss(logits[i:i + 1], target[i:i + 1], 5)) for i in range(2)]
    weighted = float(crps.crps_loss(logits, target, 5, sample_weight=torch.tensor([3.0, 1.0])))
    assert weighted == pytest.approx((3 * per_sample[0] + per_sample[1]) / 4)


def test_monotone_repair():
    raw = np.linspace(1, 0, 101)[None, :].repeat(2, axis=0)
    raw[1, 10], raw[1, 0] = 0.99, 0.7  # a bump and a low S(0)
    for method in ("rearrange", "cummin"):
        fixed = crps.monotone_survival(raw, method)
        assert fixed[:, 0].tolist() == [1.0, 1.0]
        assert np.all(np.diff(fixed, axis=1) <= 0)
        np.testing.assert_allclose(fixed[0], raw[0])  # already monotone: unchanged
    np.testing.assert_allclose(crps.monotone_survival(raw, "rearrange")[1], -np.sort(-np.r_[1.0, raw[1, 1:]]))
    assert crps.monotone_survival(raw, "cummin")[1, 10] == raw[1, 9]
    assert crps.is_monotone(raw).tolist() == [True, False]
    np.testing.assert_allclose(crps.largest_rise(raw), [0.0, raw[1, 1] - raw[1, 0]])  # the low S(0)
    with pytest.raises(ValueError, match="unknown monotonicity"):
        crps.monotone_survival(raw, "isotonic")


def test_quantiles_and_mean_of_known_distributions():
    point = crps.point_mass_survival([37.0])
    np.testing.assert_array_equal(crps.quantiles(point), [[37, 37, 37]])
    assert crps.expected_value(point)[0] == pytest.approx(37)
    uniform = crps.survival_from_samples(np.arange(101))[None, :]  # uniform on 0..100
    np.testing.assert_array_equal(crps.quantiles(uniform, (0.1, 0.5, 0.9)), [[10, 50, 90]])
    assert crps.expected_value(uniform)[0] == pytest.approx(50)
    two_point = crps.survival_from_samples([0, 0, 0, 80])[None, :]  # P(0) = 0.75, P(80) = 0.25
    np.testing.assert_array_equal(crps.quantiles(two_point, (0.5, 0.75, 0.8)), [[0, 0, 80]])
    assert crps.expected_value(two_point)[0] == pytest.approx(20)
    with pytest.raises(ValueError, match="strictly between"):
        crps.quantiles(point, (0.0,))


def test_grade_distributions_on_a_short_grid():
    survival = crps.survival_from_samples([0, 1, 1, 3], n_thresholds=5)[None, :]
    np.testing.assert_allclose(crps.probabilities(survival), [[0.25, 0.5, 0.0, 0.25, 0.0]])
    assert crps.expected_value(survival)[0] == pytest.approx(1.25)
    np.testing.assert_array_equal(crps.quantiles(survival, (0.5,)), [[1]])
    np.testing.assert_array_equal(crps.point_mass_survival([9.0], n_thresholds=5), [[1, 1, 1, 1, 1]])


def test_pit_is_uniform_for_calibrated_forecasts():
    rng = np.random.default_rng(1)
    centres = rng.integers(10, 90, 400)
    # predictive distribution: uniform on centre-10..centre+10; targets drawn from it
    support = np.arange(101)
    pmf = (np.abs(support[None, :] - centres[:, None]) <= 10) / 21.0
    survival = pmf[:, ::-1].cumsum(axis=1)[:, ::-1]
    targets = centres + rng.integers(-10, 11, 400)
    u = crps.pit_values(survival, targets, rng)
    assert stats.kstest(u, "uniform").pvalue > 0.01
    assert (u >= 0).all() and (u <= 1).all()
