"""ra_lib.evaluation.stats against scipy / statsmodels / scikit-learn."""
import gc
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats as scipy_stats
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.anova import anova_lm
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests

from ra_lib.evaluation import stats

SEEDS = (0, 1, 2)


# --- paired tests ------------------------------------------------------------------
@pytest.mark.parametrize("n", (2, 10, 300))
@pytest.mark.parametrize("seed", SEEDS)
def test_paired_t_test_matches_scipy(seed, n):
    rng = np.random.default_rng(seed)
    true = rng.normal(40, 15, n)
    pred = true + rng.normal(0.5, 5, n)
    result = stats.paired_t_test(pred, true)
    reference = scipy_stats.ttest_rel(pred, true)
    assert result.statistic == pytest.approx(reference.statistic)
    assert result.p == pytest.approx(reference.pvalue)
    ci = reference.confidence_interval(0.95)
    assert (result.lower, result.upper) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert result.mean_diff == pytest.approx(np.mean(pred - true)) and result.n == n


@pytest.mark.filterwarnings("error")
def test_paired_t_test_degenerate_differences():
    zero = stats.paired_t_test([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert math.isnan(zero.statistic) and math.isnan(zero.p) and zero.mean_diff == 0.0
    shifted = stats.paired_t_test([2.0, 3.0, 4.0], [1.0, 2.0, 3.0])
    assert shifted.statistic == math.inf and shifted.p == 0.0
    single = stats.paired_t_test([2.0], [1.0])
    assert math.isnan(single.p) and single.mean_diff == 1.0 and single.n == 1


@pytest.mark.parametrize("n", (5, 30, 200))
@pytest.mark.parametrize("seed", SEEDS)
def test_wilcoxon_matches_scipy(seed, n):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 6, n).astype(float)
    b = np.clip(a + rng.integers(-1, 3, n), 0, 5)
    if not np.any(a != b):
        b[0] += 1
    result = stats.wilcoxon_signed_rank(a, b)
    with np.errstate(all="ignore"):
        reference = scipy_stats.wilcoxon(a, b)
    assert result.statistic == pytest.approx(reference.statistic)
    assert result.p == pytest.approx(reference.pvalue)
    assert result.n_nonzero == int(np.count_nonzero(a - b))


@pytest.mark.filterwarnings("error")
def test_wilcoxon_all_zero_differences():
    result = stats.wilcoxon_signed_rank([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert math.isnan(result.p) and math.isnan(result.statistic) and result.n_nonzero == 0


@pytest.mark.parametrize("discordant", (0, 3, 24, 25, 80))
@pytest.mark.parametrize("seed", SEEDS)
def test_mcnemar_matches_statsmodels(seed, discordant):
    rng = np.random.default_rng(seed)
    b = int(rng.integers(0, discordant + 1))
    c = discordant - b
    both, neither = int(rng.integers(0, 50)), int(rng.integers(0, 20))
    correct_a = np.r_[np.ones(both + b), np.zeros(c + neither)].astype(bool)
    correct_b = np.r_[np.ones(both), np.zeros(b), np.ones(c), np.zeros(neither)].astype(bool)
    result = stats.mcnemar(correct_a, correct_b)
    exact = discordant < 25
    reference = sm_mcnemar([[both, b], [c, neither]], exact=exact, correction=True)
    assert result.method == ("exact" if exact else "chi2")
    assert (result.b, result.c, result.n) == (b, c, len(correct_a))
    assert result.statistic == pytest.approx(reference.statistic)
    assert result.p == pytest.approx(reference.pvalue)


@pytest.mark.parametrize("method", ("holm", "bonferroni", "fdr_bh"))
def test_adjust_pvalues_matches_statsmodels(method):
    p = np.random.default_rng(0).random(12) ** 3
    np.testing.assert_allclose(stats.adjust_pvalues(p, method), multipletests(p, method=method)[1])


def test_adjust_pvalues_keeps_nan_and_index():
    p = pd.Series([0.01, np.nan, 0.04, 0.03], index=list("abcd"))
    adjusted = stats.adjust_pvalues(p)
    assert list(adjusted.index) == list("abcd") and math.isnan(adjusted["b"])
    np.testing.assert_allclose(adjusted.drop("b"), multipletests([0.01, 0.04, 0.03], method="holm")[1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        stats.adjust_pvalues([0.5, 1.5])


# --- agreement -----------------------------------------------------------------------
def test_bland_altman():
    rng = np.random.default_rng(0)
    true = rng.normal(30, 10, 50)
    pred = true + rng.normal(1, 3, 50)
    result = stats.bland_altman(pred, true)
    diff = pred - true
    assert result.mean_diff == pytest.approx(diff.mean())
    assert result.lower == pytest.approx(diff.mean() - 1.96 * diff.std(ddof=1))
    assert result.upper == pytest.approx(diff.mean() + 1.96 * diff.std(ddof=1))
    np.testing.assert_allclose(result.means, (pred + true) / 2)
    np.testing.assert_allclose(result.diffs, diff)


SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])


def test_icc_reproduces_shrout_fleiss_table():
    assert stats.icc(SHROUT_FLEISS, "2,1") == pytest.approx(0.29, abs=0.005)
    assert stats.icc(SHROUT_FLEISS, "3,1") == pytest.approx(0.71, abs=0.005)


@pytest.mark.parametrize("seed", SEEDS)
def test_icc_matches_statsmodels_two_way_anova(seed):
    rng = np.random.default_rng(seed)
    n, k = 25, 3
    ratings = rng.normal(0, 2, (n, 1)) + rng.normal(0, 0.5, (1, k)) + rng.normal(0, 1, (n, k))
    long = pd.DataFrame(
        {"y": ratings.ravel(), "subject": np.repeat(np.arange(n), k), "rater": np.tile(np.arange(k), n)}
    )
    anova = anova_lm(smf.ols("y ~ C(subject) + C(rater)", long).fit())
    ms = anova["mean_sq"]
    msr, msc, mse = ms["C(subject)"], ms["C(rater)"], ms["Residual"]
    assert stats.icc(ratings, "3,1") == pytest.approx((msr - mse) / (msr + (k - 1) * mse))
    assert stats.icc(ratings, "2,1") == pytest.approx((msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n))


@pytest.mark.filterwarnings("error")
def test_icc_undefined_and_bad_input():
    assert math.isnan(stats.icc(np.ones((4, 2))))
    assert math.isnan(stats.icc(np.ones((1, 3))))
    with pytest.raises(ValueError, match="missing"):
        stats.icc([[1.0, np.nan], [2.0, 3.0]])


@pytest.mark.parametrize("weights", (None, "linear", "quadratic"))
@pytest.mark.parametrize("seed", SEEDS)
def test_cohen_kappa_matches_sklearn(seed, weights):
    rng = np.random.default_rng(seed)
    a = rng.choice(6, 80, p=[0.4, 0.2, 0.15, 0.1, 0.1, 0.05])
    b = np.clip(a + rng.integers(-1, 2, 80), 0, 5)
    assert stats.cohen_kappa(a, b, weights) == pytest.approx(cohen_kappa_score(a, b, weights=weights))
    labels = list(range(8))
    reference = cohen_kappa_score(a, b, weights=weights, labels=labels)
    assert stats.cohen_kappa(a, b, weights, labels=labels) == pytest.approx(reference)


@pytest.mark.filterwarnings("error")
def test_cohen_kappa_undefined_when_both_raters_constant():
    assert math.isnan(stats.cohen_kappa([2, 2, 2], [2, 2, 2]))
    assert stats.cohen_kappa([0, 1, 2], [0, 1, 2], "quadratic") == 1.0


def test_holm_matches_statsmodels_and_keeps_nan():
    p = pd.Series([0.01, np.nan, 0.04, 0.03], index=list("abcd"))
    got = stats.adjust_pvalues(p, "holm")
    assert list(got.index) == list("abcd") and math.isnan(got["b"])
    assert got.dropna().tolist() == pytest.approx(multipletests([0.01, 0.04, 0.03], method="holm")[1].tolist())
    assert gc.get_freeze_count() == 0
