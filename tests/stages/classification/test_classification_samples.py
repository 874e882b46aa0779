import numpy as np
import pandas as pd
import pytest

from fixtures.builders import make_ra2_cohort
from fixtures.classification_stores import fake_store, store_for_cohort
from ra_lib.cohort import load_cohort
from ra_lib.stages.classification.models import MODEL_TYPES
from ra_lib.stages.classification.samples import (balance, build_samples, contralateral_pairs, group_summary,
                                                  hand_pairs, joint_table, pairing_summary)


def test_joint_table_excludes_and_counts_flagged_and_ungraded_crops():
    store, folds = fake_store()
    index = store.index
    index.loc[[0, 1], "flagged"] = True
    index.loc[2, "grade"] = np.nan
    joints, counts = joint_table(index, folds, "erosion")
    n_erosion = int((index["kind"] == "erosion").sum())
    assert counts["flagged"] == 2 and counts["ungraded"] == 1 and counts["used"] == n_erosion - 3
    assert not joints["crop_idx"].isin([0, 1, 2]).any()
    assert set(joints["label"]) <= {0.0, 1.0}


def test_joint_table_names_bad_input():
    store, folds = fake_store()
    with pytest.raises(ValueError, match="grade"):
        joint_table(store.index.drop(columns="grade"), folds, "erosion")
    with pytest.raises(ValueError, match="no fold"):
        joint_table(store.index, folds.iloc[1:], "erosion")


@pytest.mark.parametrize("model_type,group,k", [("siso", "MCP", 1), ("mimo_local", "MCP", 2),
                                                ("mimo_one_hand", "wrist", 4), ("mimo_both_hands", "CMC-M", 4)])
def test_samples_cover_every_joint_once(model_type, group, k):
    store, folds = fake_store(n_patients=3)
    joints, _ = joint_table(store.index, folds, "erosion")
    samples = build_samples(joints, "erosion", group, model_type)
    assert samples.rows.shape[1] == k
    present = samples.rows[samples.rows >= 0]
    assert len(present) == len(set(present)) == int((joints["group"] == group).sum())
    filled = np.where(samples.rows >= 0, samples.rows, samples.rows.max(1, keepdims=True))
    patients = joints["patient"].to_numpy()[filled]
    assert (patients == patients[:, :1]).all()  # a sample never mixes patients


def test_missing_contralateral_hand_is_masked_and_counted():
    store, folds = fake_store(n_patients=4, one_hand_patients=(2,))
    joints, counts = joint_table(store.index, folds, "jsn")
    local = build_samples(joints, "jsn", "MCP", "mimo_local").counts()
    both = build_samples(joints, "jsn", "MCP", "mimo_both_hands")
    assert (local["samples"], local["masked_inputs"], local["samples_missing_hand"]) == (20, 5, 5)
    counted = both.counts()
    assert (counted["samples"], counted["masked_inputs"], counted["samples_missing_hand"]) == (4, 5, 1)
    lonely = both.rows[(both.rows < 0).any(1)][0]
    assert (lonely[5:] == -1).all() and (lonely[:5] >= 0).all()  # left present, right missing
    assert np.isnan(both.labels[both.rows < 0]).all() and (both.crop_idx[both.rows < 0] == -1).all()
    assert counts["contralateral_pairs"] == contralateral_pairs(joints) == 3 * 15


def _split_images(index: pd.DataFrame, n_patients: int) -> pd.DataFrame:
    """Each patient's right hand on its own radiograph."""
    index = index.copy()
    right = index["hand"] == "R"
    index.loc[right, "image_id"] = index.loc[right, "image_id"] + "-right"
    index.loc[right, "hand_id"] = index.loc[right, "image_id"] + ":R"
    return index


def _images(dates: dict[str, str], visits: dict[str, str] | None = None) -> pd.DataFrame:
    images = pd.DataFrame({"image_id": list(dates), "study_date": list(dates.values())})
    return images.assign(visit=images["image_id"].map(visits)) if visits else images


def test_hands_pair_by_study_date_and_visit_across_images():
    store, folds = fake_store(n_patients=2)
    index = _split_images(store.index, 2)
    dates = {"img0": "2020-01-01", "img0-right": "2020-01-01", "img1": "2020-01-01", "img1-right": "2021-05-05"}
    pairs = hand_pairs(index, _images(dates))
    assert pairs.set_index("hand_id")["pairing"].to_dict() == {"img0:L": "study_date", "img0-right:R": "study_date",
                                                                "img1:L": "unpaired", "img1-right:R": "unpaired"}
    visits = hand_pairs(index, _images(dict.fromkeys(dates, ""), {"img1": "v1", "img1-right": "v1"}))
    assert set(visits.loc[visits["patient"] == "P-0000000001", "pairing"]) == {"visit"}
    joints, counts = joint_table(index, folds, "erosion", pairs)
    assert build_samples(joints, "erosion", "wrist", "mimo_local").counts()["samples_missing_hand"] == 8
    assert counts["contralateral_pairs"] == 16  # patient 0's erosion sites


def test_undated_hands_pair_when_the_patient_has_one_left_and_one_right():
    store, folds = fake_store(n_patients=3)
    index = _split_images(store.index, 3)
    extra = index[(index["patient"] == "P-0000000002") & (index["hand"] == "L")].assign(
        hand_id="img2-again:L", image_id="img2-again")
    index = pd.concat([index, extra], ignore_index=True).assign(crop_idx=lambda t: np.arange(len(t)))
    pairs = hand_pairs(index, _images(dict.fromkeys(index["image_id"].unique(), "")))
    by_patient = pairs.groupby("patient")["pairing"].agg(set).to_dict()
    assert by_patient == {"P-0000000000": {"patient"}, "P-0000000001": {"patient"}, "P-0000000002": {"unpaired"}}
    summary = pairing_summary(pairs).set_index("pairing")
    assert summary.loc["patient", "hand_pairs"] == 2 and summary.loc["unpaired", "hands"] == 3


def test_hands_of_one_both_hands_image_pair_by_image():
    store, _ = fake_store(n_patients=2)
    pairs = hand_pairs(store.index, _images({"img0": "2020-01-01", "img1": ""}))
    assert set(pairs["pairing"]) == {"image"} and pairs["pair"].nunique() == 2


def test_every_hand_of_an_ra2_cohort_pairs(tmp_path):
    """RA2 images carry no study date: a patient's LH and RH images are still one visit."""
    patients = ["RA2P01", "RA2P02", "RA2P03", "RA2P04"]
    cohort = load_cohort(make_ra2_cohort(tmp_path, patients))
    store = store_for_cohort(cohort)
    pairs = hand_pairs(store.index, cohort.images)
    assert len(pairs) == 2 * len(patients) and set(pairs["pairing"]) == {"patient"}
    for kind in ("erosion", "jsn"):
        joints, counts = joint_table(store.index, cohort.folds, kind, pairs)
        assert counts["contralateral_pairs"] == counts["used"] // 2 > 0
        for model in ("mimo_local", "mimo_both_hands"):
            for group in joints["group"].unique():
                assert build_samples(joints, kind, group, model).counts()["samples_missing_hand"] == 0


def test_group_summary_counts_joints_and_prevalence():
    store, folds = fake_store(n_patients=4)
    joints, _ = joint_table(store.index, folds, "erosion")
    table = group_summary(joints, "erosion").set_index("group")
    assert table["joints"].sum() == len(joints) and table["non_intact"].sum() == joints["label"].sum()
    assert table.loc["wrist", "prevalence"] == pytest.approx(joints.loc[joints["group"] == "wrist", "label"].mean())


@pytest.mark.parametrize("train_size", [None, 200])
def test_balancing_gives_equal_class_counts_and_keeps_every_original(train_size):
    positive = np.r_[np.ones(7, bool), np.zeros(30, bool)]
    picked, augmented = balance(positive, train_size, np.random.default_rng(0))
    per_class = np.bincount(positive[picked].astype(int), minlength=2)
    assert per_class[0] == per_class[1] == max(30, (train_size or 0) // 2)
    assert set(picked[~augmented]) == set(range(37)) and (~augmented).sum() == 37
    assert positive[picked[augmented]].sum() == augmented.sum() - max(0, (train_size or 0) // 2 - 30)


def test_balancing_with_one_class_keeps_it_alone():
    picked, augmented = balance(np.zeros(5, bool), None, np.random.default_rng(0))
    assert sorted(picked) == list(range(5)) and not augmented.any()


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_a_group_without_usable_joints_gives_no_samples(model_type):
    """E.g. every wrist crop flagged by the detector: zero samples of the right width, no crash."""
    store, folds = fake_store(n_patients=3)
    joints, _ = joint_table(store.index, folds, "erosion")
    joints = joints[joints["group"] != "wrist"]
    samples = build_samples(joints, "erosion", "wrist", model_type)
    assert samples.rows.shape[0] == 0 and samples.counts()["samples"] == 0
