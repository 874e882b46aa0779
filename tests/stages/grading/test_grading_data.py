"""Tests of ra_lib.stages.grading.data: the split by cohort folds, the join with the scores, preprocessing."""
import numpy as np
import pandas as pd
import pytest
import torch

from ra_lib.cohort.sites import EROSION, JSN
from ra_lib.core.geometry import resize_batch
from ra_lib.stages.detection.crops import CropStore
from ra_lib.stages.grading.data import prepare_data, preprocess_crops, ratingen_stage, split_patients


def test_split_rotates_the_given_folds():
    patients = [f"P{i}" for i in range(12)]
    folds = pd.DataFrame({"patient": patients, "fold": np.arange(12) % 4})
    split = split_patients(patients * 2, folds, test_fold=3)
    assert split == split_patients(reversed(patients), folds, test_fold=3)
    assert {p for p, s in split.items() if s == "test"} == set(folds.loc[folds["fold"] == 3, "patient"])
    assert {p for p, s in split.items() if s == "val"} == set(folds.loc[folds["fold"] == 0, "patient"])
    with pytest.raises(ValueError, match="no fold"):
        split_patients(patients, folds.iloc[1:], 1)
    with pytest.raises(ValueError, match="not one of the folds"):
        split_patients(patients, folds, 7)
    with pytest.raises(ValueError, match="has no folds"):
        split_patients(patients, folds.iloc[:0], 0)


def test_prepare_data_splits_by_the_cohort_folds(toy):
    store, cohort = toy
    data = prepare_data(store, cohort.scores, cohort.folds, 16, test_fold=1)
    by_split = data.rows.groupby("split")["patient"].unique()
    folds = cohort.folds
    assert set(by_split["test"]) == set(folds.loc[folds["fold"] == 1, "patient"])
    assert set(by_split["val"]) == set(folds.loc[folds["fold"] == 2, "patient"])
    assert (data.rows.groupby("patient")["split"].nunique() == 1).all()


def test_prepare_data_counts_flagged_and_keeps_every_scored_site(toy, toy_data):
    store, cohort = toy
    n_flagged = int(store.index["flagged"].sum())
    assert toy_data.counts["flagged"] == n_flagged > 0
    assert len(toy_data.rows) == len(cohort.scores) == toy_data.counts["rows"]
    assert (toy_data.rows["status"] == "flagged").sum() == n_flagged
    assert len(toy_data.images) == (toy_data.rows["image_row"] >= 0).sum() == len(cohort.scores) - n_flagged
    assert toy_data.rows.loc[toy_data.rows["kind"] == EROSION, "eroded_pct"].notna().all()
    assert toy_data.rows.loc[toy_data.rows["kind"] == JSN, "eroded_pct"].isna().all()
    assert toy_data.has_percentages()
    table = toy_data.split_table()
    assert list(table.columns) == ["ok", "flagged", "no_crop"] and table.to_numpy().sum() == len(toy_data.rows)


def test_prepare_data_keeps_scored_sites_without_a_crop(toy):
    store, cohort = toy
    partial = CropStore(store.images, store.index.iloc[10:])
    data = prepare_data(partial, cohort.scores, cohort.folds, crop_size=16)
    assert data.counts["no_crop"] == 10 and len(data.rows) == len(cohort.scores)


def test_prepare_data_without_scores_uses_the_store_grades(toy):
    store, cohort = toy
    data = prepare_data(store, None, cohort.folds, crop_size=16)
    assert len(data.rows) == len(store.index) and not data.has_percentages()


def test_prepare_data_rejects_bad_input(toy):
    store, cohort = toy
    with pytest.raises(ValueError, match="lacks column"):
        prepare_data(CropStore(store.images, store.index.drop(columns="flagged")), cohort.scores, cohort.folds, 16)
    bad = cohort.scores.copy()
    bad.loc[bad.index[bad["kind"] == JSN][0], "grade"] = 5
    with pytest.raises(ValueError, match="jsn grade"):
        prepare_data(store, bad, cohort.folds, 16)
    bad = cohort.scores.copy()
    bad.loc[bad.index[bad["kind"] == EROSION][0], "eroded_pct"] = 120
    with pytest.raises(ValueError, match="eroded_pct"):
        prepare_data(store, bad, cohort.folds, 16)
    with pytest.raises(ValueError, match="repeat"):
        prepare_data(store, pd.concat([cohort.scores, cohort.scores.iloc[:1]]), cohort.folds, 16)


def test_preprocess_resizes_through_geometry_and_standardises():
    images = np.random.default_rng(0).uniform(size=(3, 32, 32)).astype(np.float32)
    out = preprocess_crops(images, 16)
    assert out.shape == (3, 1, 16, 16)
    resized = resize_batch(torch.from_numpy(images).unsqueeze(1), 16)
    expected = (resized - resized.mean(dim=(1, 2, 3), keepdim=True)) / resized.std(dim=(1, 2, 3), keepdim=True)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(out.mean(dim=(1, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="shape"):
        preprocess_crops(images[0], 16)


def test_ratingen_stages_follow_table_1():
    np.testing.assert_array_equal(ratingen_stage([0, 1, 20, 21, 40, 41, 60, 61, 80, 81, 100]),
                                  [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    with pytest.raises(ValueError):
        ratingen_stage([101])
