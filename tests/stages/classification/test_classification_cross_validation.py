import numpy as np
import pandas as pd
import torch

from fixtures.classification_stores import fake_store
from ra_lib.core.profiles import resolve
from ra_lib.evaluation.readers import OOF_COLUMNS
from ra_lib.stages.classification import PROFILES
from ra_lib.stages.classification.cross_validation import run_cv
from ra_lib.stages.classification.train import prepare_images


def tiny_settings(**overrides):
    return resolve(PROFILES, "smoke", **{"crop_size": 16, "batch_crops": 32, **overrides})


def test_end_to_end_cv_on_a_fake_store_is_complete_and_deterministic():
    store, folds = fake_store(n_patients=8, one_hand_patients=(3,))
    settings = tiny_settings(test_folds=(0, 3), groups=("MCP", "wrist"))
    first = run_cv(store.images, store.index, folds, settings, seed=1, progress=False)
    second = run_cv(store.images, store.index, folds, settings, seed=1, progress=False)
    oof = first.oof
    assert tuple(oof.columns) == OOF_COLUMNS
    assert set(oof["model"]) == set(settings.models)
    assert oof["probability"].between(0, 1).all()
    per_model = oof.groupby("model").size()  # every model predicts every usable joint of the test patients once
    assert per_model.nunique() == 1 and not oof.duplicated(["hand_id", "kind", "site", "model"]).any()
    assert per_model.iloc[0] == 2 * (5 + 4) + 1 * (5 + 4) + 2 * (5 + 3) + 1 * (5 + 3)  # patient 3: left hand only
    pd.testing.assert_frame_equal(first.oof, second.oof)
    counts = first.sample_counts.set_index(["kind", "group", "model"])
    assert counts.loc[("erosion", "MCP", "mimo_local"), "samples_missing_hand"] == 5
    assert (first.runs["status"] == "trained").all() and first.skipped.empty
    assert list(first.joint_counts["kind"]) == ["erosion", "jsn"]


def test_groups_without_joints_and_kinds_without_pairs_are_skipped():
    store, folds = fake_store(n_patients=8, one_hand_patients=tuple(range(8)))  # left hands only
    index = store.index[store.index["group"] != "wrist"]
    result = run_cv(store.images, index, folds, tiny_settings(kinds=("erosion",), groups=("MCP", "wrist")),
                    progress=False)
    skipped = set(map(tuple, result.skipped[["group", "model"]].to_numpy()))
    assert skipped == {("wrist", ""), ("MCP", "mimo_local"), ("MCP", "mimo_both_hands")}
    assert set(result.oof["model"]) == {"siso", "mimo_one_hand"} and set(result.oof["group"]) == {"MCP"}


def test_shared_encoder_cv_is_complete_deterministic_and_its_models_reproduce_the_oof():
    store, folds = fake_store(n_patients=8, one_hand_patients=(3,))
    settings = tiny_settings(test_folds=(0, 3), groups=("MCP", "wrist"), shared_encoder=True, feature_views=2,
                             head_epochs=2)
    first = run_cv(store.images, store.index, folds, settings, seed=1, progress=False)
    second = run_cv(store.images, store.index, folds, settings, seed=1, progress=False)
    pd.testing.assert_frame_equal(first.oof, second.oof)
    encoders = first.runs[first.runs["model"] == "encoder"]
    assert len(encoders) == 2 * 2 and set(encoders["group"]) == {"all"}  # per kind and test fold
    assert set(first.oof["model"]) == set(settings.models)
    # every model is a whole network (encoder backbone + head) giving the out-of-fold probabilities itself
    oof = first.oof.merge(store.index[["hand_id", "kind", "site", "crop_idx"]], on=["hand_id", "kind", "site"])
    siso = oof[(oof["model"] == "siso") & (oof["group"] == "MCP") & (oof["fold"] == 0)]
    model = first.models[(siso["kind"].iloc[0], "MCP", "siso", 0)]
    siso = siso[siso["kind"] == siso["kind"].iloc[0]]
    crops = prepare_images(store.images[siso["crop_idx"].to_numpy()], settings.crop_size)[:, None]
    with torch.no_grad():
        again = torch.sigmoid(model(crops)).numpy()[:, 0]
    np.testing.assert_allclose(again, siso["probability"].to_numpy(), atol=1e-5)
    assert model.backbone is first.models[(siso["kind"].iloc[0], "wrist", "mimo_local", 0)].backbone
