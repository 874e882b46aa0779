import pytest

from fixtures.builders import make_native_cohort, make_ra2_cohort
from fixtures.classification_stores import store_for_cohort
from ra_lib.cohort import load_cohort
from ra_lib.core import contracts
from ra_lib.core.profiles import resolve
from ra_lib.stages import classification
from ra_lib.stages.classification import HEADLINE_NAMES, PROFILES, ClassificationResult, run

EXPECTED = (
    [f"{metric}/{model}/{kind}" for metric in ("roc_auc", "pr_auc", "f_measure", "sensitivity", "specificity")
     for model in ("siso", "mimo_local", "mimo_one_hand", "mimo_both_hands") for kind in ("erosion", "jsn")]
    + [f"{metric}/readers_mean/{kind}" for metric in ("f_measure", "pr_auc") for kind in ("erosion", "jsn")]
    + ["prevalence/erosion", "prevalence/jsn", "contralateral_pairs"]
)


def tiny_settings(**overrides):
    return resolve(PROFILES, "smoke", **{"crop_size": 16, "batch_crops": 32, "test_folds": (0,), **overrides})


def test_public_api():
    assert classification.STAGE == contracts.CLASSIFICATION
    assert sorted(HEADLINE_NAMES) == sorted(EXPECTED) and len(set(HEADLINE_NAMES)) == len(HEADLINE_NAMES)


@pytest.fixture(scope="module")
def ra2_result(tmp_path_factory):
    root = tmp_path_factory.mktemp("ra2")
    cohort = load_cohort(make_ra2_cohort(root, [f"RA2P{i:02d}" for i in range(6)], feet=False))
    store = store_for_cohort(cohort, signal=0.5)
    return run(cohort, tiny_settings(groups=("MCP", "wrist")), seed=0, device="cpu", crop_store=store,
               progress=False), store


def test_ra2_cohort_pairs_every_hand_and_trains_the_two_hand_models(ra2_result):
    result, store = ra2_result
    assert isinstance(result, ClassificationResult)
    pairing = result.pairing().set_index("pairing")
    assert pairing.loc["patient", "hand_pairs"] == 6 and pairing.loc["unpaired", "hands"] == 0
    assert result.contralateral_pairs == len(store.index) // 2
    counts = result.cv.sample_counts
    assert set(counts["model"]) == set(PROFILES["smoke"].models)
    assert counts["samples_missing_hand"].sum() == 0 and counts["masked_inputs"].sum() == 0
    assert result.cv.skipped.empty


def test_headline_of_a_cohort_without_readers(ra2_result):
    result, _ = ra2_result
    headline = result.headline()
    assert list(headline) == list(HEADLINE_NAMES)
    assert all(headline[f"{m}/readers_mean/{k}"] is None for m in ("f_measure", "pr_auc") for k in ("erosion", "jsn"))
    assert headline["contralateral_pairs"] == result.contralateral_pairs > 0
    for model in ("siso", "mimo_local", "mimo_one_hand", "mimo_both_hands"):
        assert headline[f"specificity/{model}/erosion"] is not None
    assert 0 < headline["prevalence/erosion"] < 1
    assert "no readers" in result.cohort_notes()
    details = result.details()
    assert details["test_folds"] == [0] and details["trainings"] == len(result.cv.runs)
    assert {"joint_counts", "sample_counts", "pairing", "skipped"} <= set(details)


def test_readers_are_scored_and_missing_wrist_joints_are_named(tmp_path):
    cohort = load_cohort(make_native_cohort(tmp_path, n_patients=6, both_hands=False))
    store = store_for_cohort(cohort)
    store.index = store.index[store.index["group"] != "wrist"].reset_index(drop=True)
    result = run(cohort, tiny_settings(kinds=("erosion",), groups=("MCP", "wrist"), models=("siso",)), seed=0,
                 device="cpu", crop_store=store, progress=False)
    headline = result.headline()
    assert headline["f_measure/readers_mean/erosion"] is not None and headline["pr_auc/readers_mean/jsn"] is None
    assert headline["roc_auc/mimo_local/erosion"] is None
    assert set(result.readers["model"]) == {"reader reader2"}
    notes = result.cohort_notes()
    assert "wrist landmarks" in notes and "no readers" not in notes
    assert result.pairing().set_index("pairing").loc["study_date", "hand_pairs"] == 6
