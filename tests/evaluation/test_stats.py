"""ra_lib.evaluation.stats against scipy / statsmodels / scikit-learn, and the clustered bootstrap."""
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

from ra_lib.evaluation import metrics, stats

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


# --- bootstrap ---------------------------------------------------------------------
def _long_table(seed=0, n_patients=60, joints=8, effect_a=1.5, effect_b=0.8):
    """(patient, hand, site, kind, model, probability, label) for two models on the same joints."""
    rng = np.random.default_rng(seed)
    patient_risk = rng.normal(-1.2, 1.0, n_patients)
    rows = pd.DataFrame(
        {
            "patient": np.repeat([f"P-{i:03d}" for i in range(n_patients)], joints),
            "hand": np.tile(np.repeat(["L", "R"], joints // 2), n_patients),
            "site": np.tile([f"mcp{i % (joints // 2) + 1}" for i in range(joints)], n_patients),
            "kind": "erosion",
        }
    )
    rows["label"] = (rng.random(len(rows)) < 1 / (1 + np.exp(-np.repeat(patient_risk, joints)))).astype(int)
    noise = rng.normal(size=(2, len(rows)))
    model_a = rows.assign(model="A", probability=1 / (1 + np.exp(-(effect_a * rows.label + noise[0]))))
    model_b = rows.assign(model="SISO", probability=1 / (1 + np.exp(-(effect_b * rows.label + noise[1]))))
    return pd.concat([model_a, model_b], ignore_index=True)


def test_bootstrap_ci_is_deterministic_and_brackets_the_estimate():
    table = _long_table()
    first = stats.bootstrap_ci(table, metrics.average_precision, model="A", n_boot=200, seed=3)
    shuffled = table.sample(frac=1, random_state=1)
    again = stats.bootstrap_ci(shuffled, metrics.average_precision, model="A", n_boot=200, seed=3)
    other = stats.bootstrap_ci(table, metrics.average_precision, model="A", n_boot=200, seed=4)
    assert first == again
    assert (first.lower, first.upper) != (other.lower, other.upper)
    assert first.lower < first.estimate < first.upper
    model_a = table[table.model == "A"]
    assert first.estimate == metrics.average_precision(model_a.label, model_a.probability)
    assert (first.n_valid, first.n_boot, first.n_clusters) == (200, 200, 60)


def test_bootstrap_ci_refuses_a_table_of_several_models():
    with pytest.raises(ValueError, match="pass model="):
        stats.bootstrap_ci(_long_table(), metrics.average_precision, n_boot=10)
    with pytest.raises(ValueError, match="no rows with model == 'C'"):
        stats.bootstrap_ci(_long_table(), metrics.average_precision, model="C", n_boot=10)
    with pytest.raises(ValueError, match="cluster column 'subject'"):
        stats.bootstrap_ci(_long_table(), metrics.average_precision, model="A", cluster="subject", n_boot=10)
    with pytest.raises(ValueError, match="no rows"):
        stats.bootstrap_ci(_long_table().iloc[:0], metrics.average_precision, n_boot=10)
    with pytest.raises(ValueError, match="cluster column has 1 missing"):
        unknown_patient = _long_table().assign(patient=lambda t: t.patient.mask(t.index == 3))
        stats.bootstrap_ci(unknown_patient, metrics.average_precision, model="A", n_boot=10)


def test_bootstrap_resamples_whole_clusters():
    # One cluster: every resample is the whole table, so the interval collapses.
    one = pd.DataFrame({"patient": "P-1", "label": [0, 1, 1, 0, 1], "probability": [0.2, 0.9, 0.4, 0.5, 0.7]})
    result = stats.bootstrap_ci(one, metrics.roc_auc, n_boot=50)
    assert result.lower == result.upper == result.estimate and result.n_clusters == 1
    # A huge cluster of zeros and a small one of ones: only three resample means exist.
    seen = []

    def mean_score(labels, scores):
        seen.append(scores.mean())
        return scores.mean()

    two = pd.DataFrame(
        {"patient": ["big"] * 900 + ["small"] * 100, "label": 0, "probability": [0.0] * 900 + [1.0] * 100}
    )
    stats.bootstrap_ci(two, mean_score, n_boot=200)
    assert set(np.round(seen, 12)) <= {0.0, 0.1, 1.0}
    assert {0.0, 1.0} <= set(np.round(seen[1:], 12))  # row-level resampling would never give these


def test_bootstrap_ci_coverage_on_simulated_clustered_data():
    rng = np.random.default_rng(11)
    covered, n_sim = 0, 120
    for sim in range(n_sim):
        patient_effect = rng.normal(0, 1, 40)
        values = np.repeat(patient_effect, 4) + rng.normal(0, 0.5, 160)
        table = pd.DataFrame({"patient": np.repeat(np.arange(40), 4), "label": 0, "probability": values})
        result = stats.bootstrap_ci(table, lambda y, s: s.mean(), n_boot=150, seed=sim)
        covered += result.lower <= 0.0 <= result.upper
    assert 0.85 <= covered / n_sim <= 0.99


def test_bootstrap_drops_and_counts_undefined_resamples():
    table = pd.DataFrame(
        {"patient": np.repeat(np.arange(20), 3), "label": 0, "probability": np.linspace(0, 1, 60)}
    )
    table.loc[0, "label"] = 1  # positives only in patient 0: absent from ~36 % of resamples
    result = stats.bootstrap_ci(table, metrics.average_precision, n_boot=300)
    assert 100 < result.n_valid < 250
    empty = stats.bootstrap_ci(table.assign(label=0), metrics.average_precision, n_boot=20)
    assert empty.n_valid == 0 and math.isnan(empty.lower) and math.isnan(empty.estimate)


def test_bootstrap_diff_long_and_wide_forms_agree():
    table = _long_table(seed=5)
    long_form = stats.bootstrap_diff(table, metrics.average_precision, "A", "SISO", n_boot=200, seed=1)
    wide = table[table.model == "A"].reset_index(drop=True)
    wide["siso"] = table.probability[table.model == "SISO"].to_numpy()
    wide_form = stats.bootstrap_diff(
        wide, metrics.average_precision, "probability", "siso", model_col=None, n_boot=200, seed=1
    )
    assert long_form == wide_form
    a = stats.bootstrap_ci(table, metrics.average_precision, model="A", n_boot=10)
    b = stats.bootstrap_ci(table, metrics.average_precision, model="SISO", n_boot=10)
    assert long_form.diff == pytest.approx(a.estimate - b.estimate)
    assert long_form.lower < long_form.diff < long_form.upper
    assert long_form.p < 0.05 and long_form.lower > 0


def test_bootstrap_diff_of_identical_models_is_zero():
    table = _long_table(seed=6)
    same = pd.concat([table[table.model == "A"], table[table.model == "A"].assign(model="copy")])
    result = stats.bootstrap_diff(same, metrics.average_precision, "A", "copy", n_boot=100)
    assert result.diff == result.lower == result.upper == 0.0 and result.p == 1.0


def test_bootstrap_diff_p_value_is_roughly_uniform_under_the_null():
    p_values = []
    for seed in range(40):
        table = _long_table(seed=seed, n_patients=30, effect_a=1.0, effect_b=1.0)
        p_values.append(stats.bootstrap_diff(table, metrics.roc_auc, "A", "SISO", n_boot=100, seed=seed).p)
    assert 0.0 <= np.mean(np.array(p_values) < 0.05) <= 0.2
    assert 0.3 < np.median(p_values) < 0.7


def test_bootstrap_diff_refuses_unpaired_tables():
    table = _long_table(seed=7)
    with pytest.raises(ValueError, match="not scored on the same items"):
        stats.bootstrap_diff(table.iloc[1:], metrics.average_precision, "A", "SISO", n_boot=10)
    relabelled = table.copy()
    relabelled.loc[relabelled.index[-1], "label"] = 1 - relabelled.label.iloc[-1]
    with pytest.raises(ValueError, match="differs between models"):
        stats.bootstrap_diff(relabelled, metrics.average_precision, "A", "SISO", n_boot=10)
    with pytest.raises(ValueError, match="repeating the keys"):
        stats.bootstrap_diff(table, metrics.average_precision, "A", "SISO", keys=["patient", "hand"], n_boot=10)
    with pytest.raises(ValueError, match="must be one of the pairing keys"):
        stats.bootstrap_diff(table, metrics.average_precision, "A", "SISO", keys=["hand", "site"], n_boot=10)


# --- model vs reader -----------------------------------------------------------------
def test_compare_to_reader():
    table = _long_table(seed=8)
    joints = table[table.model == "A"].reset_index(drop=True)
    rng = np.random.default_rng(0)
    joints["reader_1"] = np.where(rng.random(len(joints)) < 0.8, joints.label, 1 - joints.label)
    result = stats.compare_to_reader(joints, "reader_1", threshold=0.6, n_boot=100)
    call = joints.probability >= 0.6
    assert result.table.loc["model", "sensitivity"] == metrics.sensitivity(joints.label, call)
    assert result.table.loc["reader", "specificity"] == metrics.specificity(joints.label, joints.reader_1)
    assert result.table.loc["difference", "f_measure"] == pytest.approx(
        metrics.f_measure(joints.label, call) - metrics.f_measure(joints.label, joints.reader_1)
    )
    assert result.mcnemar == stats.mcnemar(call == joints.label, joints.reader_1 == joints.label)
    wide = joints.assign(model_call=call.astype(int))
    expected = stats.bootstrap_diff(wide, metrics.f_measure, "model_call", "reader_1", model_col=None, n_boot=100)
    assert result.f_diff == expected


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
