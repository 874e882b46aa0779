"""Stage 3's bundle: written by ``run(bundle_dir=...)``, loaded, it gives the SISO out-of-fold probabilities."""
import numpy as np
import pytest

from fixtures.builders import make_native_cohort
from fixtures.classification_stores import store_for_cohort
from ra_lib.cohort import load_cohort
from ra_lib.core import bundles, contracts
from ra_lib.core.profiles import resolve
from ra_lib.stages.classification import PROFILES, run
from ra_lib.stages.classification.bundle import DamageModel


def tiny_settings(**overrides):
    return resolve(PROFILES, "smoke", **{"crop_size": 16, "batch_crops": 32, "test_folds": (0, 1), **overrides})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("classification")
    cohort = load_cohort(make_native_cohort(root / "c", n_patients=4))
    store = store_for_cohort(cohort, signal=0.5)
    result = run(cohort, tiny_settings(groups=("MCP",)), seed=0, device="cpu", crop_store=store, progress=False,
                 bundle_dir=root / "bundle")
    return result, store, root / "bundle"


def test_the_bundle_reproduces_the_siso_predictions_of_each_fold(trained):
    result, store, folder = trained
    bundle = bundles.load_bundle(folder, contracts.CLASSIFICATION)
    assert {(m["kind"], m["fold"]) for m in bundle.extra["models"]} == {(k, f) for k in ("erosion", "jsn")
                                                                        for f in (0, 1)}
    assert bundle.extra["crop_geometry"] == {"crop_size": 16, "field_of_view": 1.0}
    model = DamageModel(bundle)
    siso = result.oof[result.oof["model"] == "siso"]
    index = store.index.set_index(["hand_id", "kind", "site"])["crop_idx"]
    for (kind, fold), rows in siso.groupby(["kind", "fold"]):
        crops = store.images[index.loc[list(zip(rows["hand_id"], rows["kind"], rows["site"]))].to_numpy()]
        by_fold = model.fold_probabilities(crops, kind, "MCP")
        np.testing.assert_allclose(by_fold[fold], rows["probability"], atol=1e-5)
        np.testing.assert_allclose(model.predict(crops, kind, rows["group"]), (by_fold[0] + by_fold[1]) / 2)


def test_a_group_without_a_model_gives_nan(trained):
    _, store, folder = trained
    model = DamageModel(bundles.load_bundle(folder, contracts.CLASSIFICATION))
    probabilities = model.predict(store.images[:2], "erosion", ["MCP", "wrist"])
    assert np.isfinite(probabilities[0]) and np.isnan(probabilities[1])


def test_no_siso_model_removes_an_old_bundle(trained, tmp_path):
    _, store, folder = trained
    cohort = load_cohort(make_native_cohort(tmp_path / "c", n_patients=4))
    (tmp_path / "bundle").mkdir()
    run(cohort, tiny_settings(groups=("MCP",), models=("mimo_one_hand",)), seed=0, device="cpu",
        crop_store=store_for_cohort(cohort), progress=False, bundle_dir=tmp_path / "bundle")
    assert not (tmp_path / "bundle").exists()


def test_a_held_out_fold_keeps_only_the_model_that_never_trained_on_it(trained):
    result, store, folder = trained
    bundle = bundles.load_bundle(folder, contracts.CLASSIFICATION)
    held_out = DamageModel(bundle, held_out_fold=1)
    crops = store.images[:4]
    assert set(held_out.fold_probabilities(crops, "erosion", "MCP")) == {1}
    np.testing.assert_allclose(held_out.predict(crops, "erosion", ["MCP"] * 4),
                               DamageModel(bundle).fold_probabilities(crops, "erosion", "MCP")[1])
    with pytest.raises(bundles.BundleError, match="no model that held out fold 5 \\(its models held out folds"):
        DamageModel(bundle, held_out_fold=5)
