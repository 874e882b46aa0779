"""ra_lib.evaluation.bootstrap: patient-clustered intervals and paired differences, and model vs reader."""
import math

import numpy as np
import pandas as pd
import pytest

from ra_lib.evaluation import bootstrap, metrics, stats

SEEDS = (0, 1, 2)


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
    first = bootstrap.bootstrap_ci(table, metrics.average_precision, model="A", n_boot=200, seed=3)
    shuffled = table.sample(frac=1, random_state=1)
    again = bootstrap.bootstrap_ci(shuffled, metrics.average_precision, model="A", n_boot=200, seed=3)
    other = bootstrap.bootstrap_ci(table, metrics.average_precision, model="A", n_boot=200, seed=4)
    assert first == again
    assert (first.lower, first.upper) != (other.lower, other.upper)
    assert first.lower < first.estimate < first.upper
    model_a = table[table.model == "A"]
    assert first.estimate == metrics.average_precision(model_a.label, model_a.probability)
    assert (first.n_valid, first.n_boot, first.n_clusters) == (200, 200, 60)


def test_bootstrap_ci_refuses_a_table_of_several_models():
    with pytest.raises(ValueError, match="pass model="):
        bootstrap.bootstrap_ci(_long_table(), metrics.average_precision, n_boot=10)
    with pytest.raises(ValueError, match="no rows with model == 'C'"):
        bootstrap.bootstrap_ci(_long_table(), metrics.average_precision, model="C", n_boot=10)
    with pytest.raises(ValueError, match="cluster column 'subject'"):
        bootstrap.bootstrap_ci(_long_table(), metrics.average_precision, model="A", cluster="subject", n_boot=10)
    with pytest.raises(ValueError, match="no rows"):
        bootstrap.bootstrap_ci(_long_table().iloc[:0], metrics.average_precision, n_boot=10)
    with pytest.raises(ValueError, match="cluster column has 1 missing"):
        unknown_patient = _long_table().assign(patient=lambda t: t.patient.mask(t.index == 3))
        bootstrap.bootstrap_ci(unknown_patient, metrics.average_precision, model="A", n_boot=10)


def test_bootstrap_resamples_whole_clusters():
    # One cluster: every resample is the whole table, so the interval collapses.
    one = pd.DataFrame({"patient": "P-1", "label": [0, 1, 1, 0, 1], "probability": [0.2, 0.9, 0.4, 0.5, 0.7]})
    result = bootstrap.bootstrap_ci(one, metrics.roc_auc, n_boot=50)
    assert result.lower == result.upper == result.estimate and result.n_clusters == 1
    # A huge cluster of zeros and a small one of ones: only three resample means exist.
    seen = []

    def mean_score(labels, scores):
        seen.append(scores.mean())
        return scores.mean()

    two = pd.DataFrame(
        {"patient": ["big"] * 900 + ["small"] * 100, "label": 0, "probability": [0.0] * 900 + [1.0] * 100}
    )
    bootstrap.bootstrap_ci(two, mean_score, n_boot=200)
    assert set(np.round(seen, 12)) <= {0.0, 0.1, 1.0}
    assert {0.0, 1.0} <= set(np.round(seen[1:], 12))  # row-level resampling would never give these


def test_bootstrap_ci_coverage_on_simulated_clustered_data():
    rng = np.random.default_rng(11)
    covered, n_sim = 0, 120
    for sim in range(n_sim):
        patient_effect = rng.normal(0, 1, 40)
        values = np.repeat(patient_effect, 4) + rng.normal(0, 0.5, 160)
        table = pd.DataFrame({"patient": np.repeat(np.arange(40), 4), "label": 0, "probability": values})
        result = bootstrap.bootstrap_ci(table, lambda y, s: s.mean(), n_boot=150, seed=sim)
        covered += result.lower <= 0.0 <= result.upper
    assert 0.85 <= covered / n_sim <= 0.99


def test_bootstrap_drops_and_counts_undefined_resamples():
    table = pd.DataFrame(
        {"patient": np.repeat(np.arange(20), 3), "label": 0, "probability": np.linspace(0, 1, 60)}
    )
    table.loc[0, "label"] = 1  # positives only in patient 0: absent from ~36 % of resamples
    result = bootstrap.bootstrap_ci(table, metrics.average_precision, n_boot=300)
    assert 100 < result.n_valid < 250
    empty = bootstrap.bootstrap_ci(table.assign(label=0), metrics.average_precision, n_boot=20)
    assert empty.n_valid == 0 and math.isnan(empty.lower) and math.isnan(empty.estimate)


def test_bootstrap_diff_long_and_wide_forms_agree():
    table = _long_table(seed=5)
    long_form = bootstrap.bootstrap_diff(table, metrics.average_precision, "A", "SISO", n_boot=200, seed=1)
    wide = table[table.model == "A"].reset_index(drop=True)
    wide["siso"] = table.probability[table.model == "SISO"].to_numpy()
    wide_form = bootstrap.bootstrap_diff(
        wide, metrics.average_precision, "probability", "siso", model_col=None, n_boot=200, seed=1
    )
    assert long_form == wide_form
    a = bootstrap.bootstrap_ci(table, metrics.average_precision, model="A", n_boot=10)
    b = bootstrap.bootstrap_ci(table, metrics.average_precision, model="SISO", n_boot=10)
    assert long_form.diff == pytest.approx(a.estimate - b.estimate)
    assert long_form.lower < long_form.diff < long_form.upper
    assert long_form.p < 0.05 and long_form.lower > 0


def test_bootstrap_diff_of_identical_models_is_zero():
    table = _long_table(seed=6)
    same = pd.concat([table[table.model == "A"], table[table.model == "A"].assign(model="copy")])
    result = bootstrap.bootstrap_diff(same, metrics.average_precision, "A", "copy", n_boot=100)
    assert result.diff == result.lower == result.upper == 0.0 and result.p == 1.0


def test_bootstrap_diff_p_value_is_roughly_uniform_under_the_null():
    p_values = []
    for seed in range(40):
        table = _long_table(seed=seed, n_patients=30, effect_a=1.0, effect_b=1.0)
        p_values.append(bootstrap.bootstrap_diff(table, metrics.roc_auc, "A", "SISO", n_boot=100, seed=seed).p)
    assert 0.0 <= np.mean(np.array(p_values) < 0.05) <= 0.2
    assert 0.3 < np.median(p_values) < 0.7


def test_bootstrap_diff_refuses_unpaired_tables():
    table = _long_table(seed=7)
    with pytest.raises(ValueError, match="not scored on the same items"):
        bootstrap.bootstrap_diff(table.iloc[1:], metrics.average_precision, "A", "SISO", n_boot=10)
    relabelled = table.copy()
    relabelled.loc[relabelled.index[-1], "label"] = 1 - relabelled.label.iloc[-1]
    with pytest.raises(ValueError, match="differs between models"):
        bootstrap.bootstrap_diff(relabelled, metrics.average_precision, "A", "SISO", n_boot=10)
    with pytest.raises(ValueError, match="repeating the keys"):
        bootstrap.bootstrap_diff(table, metrics.average_precision, "A", "SISO", keys=["patient", "hand"], n_boot=10)
    with pytest.raises(ValueError, match="must be one of the pairing keys"):
        bootstrap.bootstrap_diff(table, metrics.average_precision, "A", "SISO", keys=["hand", "site"], n_boot=10)


# --- model vs reader -----------------------------------------------------------------
def test_compare_to_reader():
    table = _long_table(seed=8)
    joints = table[table.model == "A"].reset_index(drop=True)
    rng = np.random.default_rng(0)
    joints["reader_1"] = np.where(rng.random(len(joints)) < 0.8, joints.label, 1 - joints.label)
    result = bootstrap.compare_to_reader(joints, "reader_1", threshold=0.6, n_boot=100)
    call = joints.probability >= 0.6
    assert result.table.loc["model", "sensitivity"] == metrics.sensitivity(joints.label, call)
    assert result.table.loc["reader", "specificity"] == metrics.specificity(joints.label, joints.reader_1)
    assert result.table.loc["difference", "f_measure"] == pytest.approx(
        metrics.f_measure(joints.label, call) - metrics.f_measure(joints.label, joints.reader_1)
    )
    assert result.mcnemar == stats.mcnemar(call == joints.label, joints.reader_1 == joints.label)
    wide = joints.assign(model_call=call.astype(int))
    expected = bootstrap.bootstrap_diff(wide, metrics.f_measure, "model_call", "reader_1", model_col=None, n_boot=100)
    assert result.f_diff == expected
