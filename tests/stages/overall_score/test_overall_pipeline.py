import dataclasses
import json

import pytest

from fixtures.score_cohorts import grade_predictions, score_cohort
from ra_lib.core import artifacts as store
from ra_lib.core import contracts
from ra_lib.core.bundles import load_bundle
from ra_lib.stages import overall_score as overall
from ra_lib.stages.scoring.models import ScoreModel

TINY = dataclasses.replace(overall.PROFILES["smoke"], input_size=32)


def test_public_api_and_static_headline_names():
    assert overall.STAGE == contracts.OVERALL_SCORE
    variants = ("IRB", "DSC", "B", "tv_mobilenet_v2", "tv_resnet50", "mean_baseline", "joint_sum")
    expected = {f"{m}/{v}" for m in ("mae", "rmse", "pearson_r", "t_test_p") for v in variants}
    expected |= {"mae_difference_vs_baseline/IRB", "mae_difference_ci_low/IRB", "mae_difference_ci_high/IRB",
                 "mae_difference_vs_IRB/joint_sum", "mae_difference_vs_IRB_ci_low/joint_sum",
                 "mae_difference_vs_IRB_ci_high/joint_sum"}
    assert isinstance(overall.HEADLINE_NAMES, tuple) and set(overall.HEADLINE_NAMES) == expected
    assert len(overall.HEADLINE_NAMES) == len(expected)


def test_run_without_readers_or_stage_4(tmp_path):
    result = overall.run(score_cohort(), TINY, seed=0, device="cpu", artifacts_root=tmp_path, progress=False)
    headline = result.headline()
    assert list(headline) == list(overall.HEADLINE_NAMES)
    assert headline["mae/IRB"] > 0 and headline["mae/DSC"] > 0 and headline["mae/mean_baseline"] > 0
    assert headline["mae/B"] is None and headline["rmse/tv_resnet50"] is None  # not trained by the profile
    assert headline["mae/joint_sum"] is None and result.stage4_missing and result.joint_sum_note() is None
    assert headline["mae_difference_vs_IRB/joint_sum"] is None
    assert not result.cohort_has_readers and result.readers_table is None and result.main_on_readers_table is None
    assert result.versus_baseline.n_clusters < overall.pipeline.MIN_TEST_PATIENTS
    difference = headline["mae/IRB"] - headline["mae/mean_baseline"]
    assert headline["mae_difference_vs_baseline/IRB"] == pytest.approx(difference)
    assert headline["mae_difference_ci_low/IRB"] is None and headline["mae_difference_ci_high/IRB"] is None
    assert not result.beats_baseline and "says nothing" in result.verdict("smoke")
    assert result.loss_table is None and result.joint_sum_table is None
    assert set(result.data.units["split"]) == {"train", "val", "test"}

    result.write_tables(tmp_path)
    store.write_metrics(tmp_path, headline, settings=dataclasses.asdict(TINY), **result.details())
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["headline"]["mae/B"] is None and written["main_variant"] == "IRB"
    predictions = store.read_table(".", "predictions.csv", tmp_path)
    assert list(predictions.columns) == ["hand_id", "patient", "variant", "score_true", "score_pred", "split"]
    assert set(predictions["variant"]) == {"mean_baseline", "IRB", "DSC"}
    assert (tmp_path / "test_metrics.csv").exists() and (tmp_path / "complexity_full_size.csv").exists()


def test_run_with_readers_stage_4_and_a_second_loss(tmp_path):
    cohort = score_cohort(n_patients=25, readers=2)
    folder = store.stage_dir(contracts.GRADING, tmp_path)
    store.write_table(grade_predictions(cohort.hands["hand_id"]), folder / "grade_predictions.csv")
    calibrated = grade_predictions(cohort.hands["hand_id"], methods=("cdf_grades",), offset=0)
    store.write_table(calibrated.drop(columns="grade_pred"), folder / "grade_cdf_predictions.csv")
    settings = dataclasses.replace(TINY, compare_delta=0.5)
    result = overall.run(cohort, settings, seed=0, device="cpu", artifacts_root=tmp_path, progress=False)
    headline = result.headline()
    test_units = result.data.units[result.data.units["split"] == "test"]
    test_hands = len(test_units)
    assert result.joint_sum_method == "cdf_grades"  # the remedies' sums are on the page, not the headline
    predicted_sum = overall.evaluate.N_HAND_SITES  # every site's grade distribution certain of grade 1
    assert headline["mae/joint_sum"] == pytest.approx((predicted_sum - test_units["score"]).abs().mean())
    assert result.joint_sum_table["n"].tolist() == [test_hands] * 7  # IRB, 3 methods x 2 statistics
    irb = result.test_table.set_index("variant").at["IRB", "mae"]
    assert headline["mae_difference_vs_IRB/joint_sum"] == pytest.approx(headline["mae/joint_sum"] - irb)
    assert headline["mae_difference_vs_IRB_ci_low/joint_sum"] <= headline["mae_difference_vs_IRB/joint_sum"]
    assert result.joint_sum_note().startswith("The headline's `joint_sum` adds up the expected grades of `cdf_grades`")
    assert headline["mae_difference_ci_low/IRB"] <= headline["mae_difference_vs_baseline/IRB"]
    assert headline["mae_difference_vs_baseline/IRB"] <= headline["mae_difference_ci_high/IRB"]
    assert result.readers_table[["reader_a", "reader_b"]].values.tolist() == [["reader_0", "reader_1"]]
    assert result.main_on_readers_table["n"].item() == test_hands
    assert result.loss_table["variant"].tolist() == ["IRB, delta=1", "IRB, delta=0.5"]
    assert result.joint_sum_filled == [] and result.filled_sites_note() is None  # every site graded
    note = dataclasses.replace(result, joint_sum_filled=["erosion/radius"]).filled_sites_note()
    assert note.startswith("1 site(s)") and note.endswith("erosion/radius.")


def test_run_per_bilateral_image(tmp_path):
    settings = dataclasses.replace(TINY, unit="image", variants=("IRB",))
    result = overall.run(score_cohort(), settings, seed=0, device="cpu", artifacts_root=tmp_path, progress=False)
    assert result.id_column == "image_id" and len(result.data.units) == 10
    assert result.headline()["mae/DSC"] is None and result.headline()["mae/IRB"] is not None


def test_bundle_scores_the_test_hands_as_the_stage_did(tmp_path):
    cohort = score_cohort()
    result = overall.run(cohort, TINY, seed=0, device="cpu", artifacts_root=tmp_path, progress=False,
                         bundle_dir=tmp_path / "bundle")
    bundle = load_bundle(tmp_path / "bundle", overall.STAGE)
    assert bundle.models == ("IRB",) and bundle.extra["unit"] == "hand"
    model = ScoreModel(bundle)
    test = result.main_test_predictions()
    for hand_id, expected in zip(test["hand_id"], test["score_pred"]):
        assert model.predict(cohort.load_hand(hand_id, mirror_to_right=True)) == pytest.approx(expected, rel=1e-4)
