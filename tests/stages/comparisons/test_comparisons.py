"""ra_lib.stages.comparisons.pipeline on small fake stage artifacts, cross-checked with scikit-learn / scipy / statsmodels."""
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from sklearn import metrics as skm
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests

from ra_lib.core import artifacts as store
from ra_lib.stages.comparisons import pipeline as cmp
from ra_lib.evaluation import published
from ra_lib.core.errors import RaDataError
from ra_lib.core.profiles import resolve
from ra_lib.cohort.sites import hand_sites

N_BOOT = 20


# --- fake artifacts --------------------------------------------------------------------------------
def fake_truth(n_patients=6, kinds=("erosion",), seed=0, wrist_rate=0.5):
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        for hand in ("L", "R"):
            for kind in kinds:
                for s in hand_sites(kind):
                    rate = wrist_rate if s.group == "wrist" else 0.3
                    rows.append({"hand_id": f"IMG{p:03d}:{hand}", "patient": f"P-{p:010x}", "hand": hand, "kind": kind,
                                 "site": s.site, "group": s.group, "fold": p % 4, "label": int(rng.random() < rate)})
    return pd.DataFrame(rows)


def fake_oof(models=("siso", "mimo_local"), **kwargs):
    truth = fake_truth(**kwargs)
    rng = np.random.default_rng(1)
    parts = []
    for i, model in enumerate(models):
        logit = rng.normal(0, 1, len(truth)) + (1 + i) * (2 * truth["label"] - 1)
        parts.append(truth.assign(model=model, probability=1 / (1 + np.exp(-logit))))
    return pd.concat(parts, ignore_index=True)[list(cmp.OOF_COLUMNS)]


def fake_readers(truth, n_readers=2, seed=2):
    rng = np.random.default_rng(seed)
    joints = truth.drop_duplicates(cmp.JOINT_KEYS)
    parts = []
    for r in range(n_readers):
        flip = rng.random(len(joints)) < 0.2
        grade = np.where(flip, 1 - joints["label"], joints["label"]) * rng.integers(1, 3, len(joints))
        parts.append(pd.DataFrame({"reader_id": f"r{r + 1}", "hand_id": joints["hand_id"], "kind": joints["kind"],
                                   "site": joints["site"], "grade": grade}))
    return pd.concat(parts, ignore_index=True)


def fake_scores(seed=0, n_patients=10):
    rng = np.random.default_rng(seed)
    hands = pd.DataFrame({"hand_id": [f"IMG{p:03d}:{h}" for p in range(n_patients) for h in "LR"],
                          "patient": [f"P-{p:010x}" for p in range(n_patients) for _ in "LR"]})
    hands["score_true"] = rng.integers(0, 60, len(hands)).astype(float)
    parts = []
    for variant, noise in (("mean baseline", None), ("IRB", 3.0), ("DSC", 8.0)):
        pred = (np.full(len(hands), hands["score_true"].mean()) if noise is None
                else hands["score_true"] + rng.normal(1.0, noise, len(hands)))
        parts.append(hands.assign(variant=variant, score_pred=pred,
                                  split=np.where(np.arange(len(hands)) < 12, "test", "train")))
    return pd.concat(parts, ignore_index=True)


def fake_grades(seed=0, n_patients=8):
    rng = np.random.default_rng(seed)
    truth = fake_truth(n_patients=n_patients, kinds=("erosion", "jsn"))
    grade_true = rng.integers(0, 4, len(truth))
    parts = []
    for method, noise in (("plain", 0.5), ("oversample_aug", 0.9), ("class_weights", 1.3)):
        pred = np.clip(np.round(grade_true + rng.normal(0, noise, len(truth))), 0, 3).astype(int)
        parts.append(truth[["hand_id", "patient", "kind", "site"]].assign(
            split=np.where(truth["fold"] == 0, "train", "test"), method=method, grade_true=grade_true,
            grade_pred=pred, imputed=np.arange(len(truth)) % 17 == 0))
    return pd.concat(parts, ignore_index=True)


# --- reading artifacts -------------------------------------------------------------------------------
@pytest.mark.parametrize("loader, stage", [(cmp.load_oof, "03_joint_classification"),
                                           (cmp.load_grade_predictions, "04_joint_grading"),
                                           (cmp.load_score_predictions, "05_overall_score")])
def test_missing_stage_names_it(tmp_path, loader, stage):
    with pytest.raises(store.MissingArtifactError, match=stage):
        loader(tmp_path)
    with pytest.raises(store.MissingArtifactError, match="01_image_selection"):
        cmp.load_metrics("01_image_selection", tmp_path)


def test_missing_note_names_the_stage(tmp_path):
    with pytest.raises(store.MissingArtifactError) as info:
        cmp.load_oof(tmp_path)
    note = cmp.missing_note(cmp.CLASSIFICATION, info.value)
    assert "Stage `03_joint_classification` has not been run" in note and "oof_predictions.csv" in note


def test_loaders_read_what_stages_write(tmp_path):
    oof = fake_oof()
    store.write_table(oof, store.stage_dir(cmp.CLASSIFICATION, tmp_path) / "oof_predictions.csv")
    pd.testing.assert_frame_equal(cmp.load_oof(tmp_path), oof)
    scores = fake_scores()
    store.write_table(scores, store.stage_dir(cmp.OVERALL, tmp_path) / "predictions.csv")
    assert len(cmp.load_score_predictions(tmp_path)) == len(scores)


def test_missing_column_names_file_and_column(tmp_path):
    store.write_table(fake_oof().drop(columns=["probability"]),
                      store.stage_dir(cmp.CLASSIFICATION, tmp_path) / "oof_predictions.csv")
    with pytest.raises(RaDataError, match=r"oof_predictions.csv: missing column\(s\) \['probability'\]"):
        cmp.load_oof(tmp_path)


def test_empty_value_names_column_and_line(tmp_path):
    oof = fake_oof()
    oof.loc[3, "probability"] = np.nan
    store.write_table(oof, store.stage_dir(cmp.CLASSIFICATION, tmp_path) / "oof_predictions.csv")
    with pytest.raises(RaDataError, match="'probability' has 1 empty value.*line 5"):
        cmp.load_oof(tmp_path)


def test_score_predictions_need_a_unit_column(tmp_path):
    path = store.stage_dir(cmp.OVERALL, tmp_path) / "predictions.csv"
    store.write_table(fake_scores().drop(columns=["hand_id"]), path)
    with pytest.raises(RaDataError, match="hand_id or image_id"):
        cmp.load_score_predictions(tmp_path)


def test_profiles_resolve():
    assert resolve(cmp.PROFILES, "smoke").n_boot == 50
    assert resolve(cmp.PROFILES, "quick").n_boot == 500
    assert resolve(cmp.PROFILES, "paper", n_boot=7).n_boot == 7


# --- paper 001 Table 4 -------------------------------------------------------------------------------
def test_reader_rows_are_calls_on_predicted_joints():
    oof = fake_oof()
    readers = fake_readers(oof)
    extra = readers.iloc[:1].assign(hand_id="NOT-PREDICTED:L")
    rows = cmp.reader_rows(pd.concat([readers, extra]), oof)
    assert list(rows.columns) == list(cmp.OOF_COLUMNS)
    assert set(rows["model"]) == {"reader r1", "reader r2"}
    assert "NOT-PREDICTED:L" not in set(rows["hand_id"])
    merged = rows.merge(readers.assign(model="reader " + readers["reader_id"]), on=["model", *cmp.JOINT_KEYS])
    assert (merged["probability"] == (merged["grade"] >= 1)).all()


def test_bad_prediction_tables_are_refused_with_the_joint_named():
    oof = fake_oof()
    with pytest.raises(RaDataError, match="missing column"):
        cmp.reader_rows(fake_readers(oof).drop(columns=["grade"]), oof)
    twice = pd.concat([oof, oof[oof["model"] == "siso"].iloc[:1]])
    with pytest.raises(RaDataError, match=r"'siso' scores joint IMG000:L erosion/ip more than once"):
        cmp.table4_ci(twice, n_boot=N_BOOT)
    relabelled = oof.copy()
    relabelled.loc[relabelled.index[-1], "label"] = 1 - relabelled["label"].iloc[-1]
    with pytest.raises(RaDataError, match="differs between 'mimo_local' and 'siso'"):
        cmp.table4_ci(relabelled, n_boot=N_BOOT)


def test_table4_estimates_match_sklearn():
    oof = fake_oof()
    table = cmp.table4_ci(oof, n_boot=N_BOOT)
    for (region, model), part in table.groupby(["region", "model"]):
        rows = oof[(oof["model"] == model) & oof["group"].isin(cmp.region_groups("erosion", region))]
        y, s = rows["label"], rows["probability"]
        got = part.set_index("metric")["estimate"]
        assert got["sensitivity"] == pytest.approx(skm.recall_score(y, s >= 0.5))
        assert got["specificity"] == pytest.approx(skm.recall_score(1 - y, s < 0.5))
        assert got["f_measure"] == pytest.approx(skm.f1_score(y, s >= 0.5))
        assert got["pr_auc"] == pytest.approx(skm.average_precision_score(y, s))
        assert (part["n"] == len(rows)).all() and (part["n_patients"] == 6).all()
    assert (table["lower"] <= table["upper"]).all()
    assert table.loc[table["model"] == "siso", "p"].isna().all()
    assert table.loc[table["model"] == "mimo_local", "p"].notna().all()


def test_region_without_positives_gives_nan_not_an_error():
    oof = fake_oof(wrist_rate=0.0)
    table = cmp.table4_ci(oof, n_boot=N_BOOT)
    wrist = table[table["region"] == "wrist"].set_index(["model", "metric"])
    for model in ("siso", "mimo_local"):
        assert math.isnan(wrist.loc[(model, "sensitivity"), "estimate"])
        assert math.isnan(wrist.loc[(model, "pr_auc"), "lower"])
        assert wrist.loc[(model, "pr_auc"), "n_valid"] == 0
        assert 0 <= wrist.loc[(model, "specificity"), "estimate"] <= 1
    assert not wrist.loc[("mimo_local", "sensitivity"), "significant"]
    assert cmp.table4_wide(table).loc[("erosion", "wrist", "SISO"), "sensitivity"] == "-"


def test_significance_marks_against_siso_are_holm_adjusted():
    oof = fake_oof(models=("siso",), n_patients=10)
    siso = oof[oof["model"] == "siso"]
    perfect = siso.assign(model="mimo_local", probability=siso["label"].astype(float))
    same = siso.assign(model="mimo_one_hand")
    table = cmp.table4_ci(pd.concat([oof, perfect, same]), n_boot=100)
    rows = table[(table["region"] == "all") & (table["metric"] == "f_measure")].set_index("model")
    assert rows.loc["mimo_local", "diff"] > 0 and rows.loc["mimo_local", "significant"]
    assert rows.loc["mimo_one_hand", "diff"] == 0 and not rows.loc["mimo_one_hand", "significant"]
    raw = rows.loc[["mimo_local", "mimo_one_hand"], "p"]
    assert rows.loc[["mimo_local", "mimo_one_hand"], "p_holm"].tolist() == pytest.approx(
        multipletests(raw, method="holm")[1].tolist())
    wide = cmp.table4_wide(table)
    assert wide.loc[("erosion", "all", "MIMO local"), "F-measure"].endswith("*")
    assert not wide.loc[("erosion", "all", "MIMO one-hand"), "F-measure"].endswith("*")
    assert list(wide.columns) == ["sensitivity", "specificity", "F-measure", "PR-AUC (AP)"]
    assert [m for k, r, m in wide.index if r == "all"] == ["SISO", "MIMO local", "MIMO one-hand"]


def test_readers_in_table4_with_their_mean():
    oof = fake_oof()
    predictions = pd.concat([oof, cmp.reader_rows(fake_readers(oof), oof)], ignore_index=True)
    table = cmp.table4_ci(predictions, n_boot=N_BOOT)
    block = table[(table["region"] == "all") & (table["metric"] == "sensitivity")].set_index("model")
    readers_mean = block.loc[["reader r1", "reader r2"], "estimate"].mean()
    assert block.loc["mean of readers", "estimate"] == pytest.approx(readers_mean)
    assert math.isnan(block.loc["mean of readers", "lower"])
    assert block.loc["reader r1", "p"] == block.loc["reader r1", "p"]  # readers are compared with SISO too
    assert cmp.ordered_models(table["model"]) == ["siso", "mimo_local", "reader r1", "reader r2", "mean of readers"]


def test_table4_vs_published_pairs_models_with_the_paper():
    table = cmp.table4_ci(fake_oof(), n_boot=N_BOOT)
    side = cmp.table4_vs_published(table, published.table4())
    assert side.loc[("erosion", "all", "MIMO local"), ("F-measure", "paper")] == "0.70"
    siso = table.query("region == 'all' and metric == 'f_measure' and model == 'siso'")["estimate"].iloc[0]
    assert side.loc[("erosion", "all", "SISO"), ("F-measure", "book")].startswith(f"{siso:.2f} [")


def test_pr_auc_definitions_show_the_trapezoid_optimism_for_readers():
    oof = fake_oof()
    predictions = pd.concat([oof, cmp.reader_rows(fake_readers(oof), oof)], ignore_index=True)
    table = cmp.pr_auc_definitions(predictions)
    assert set(table["model"]) == {"SISO", "reader r1", "reader r2"}
    readers = table[table["model"].str.startswith("reader")]
    assert (readers["trapezoid"] > readers["average_precision"]).all()
    siso = table[(table["model"] == "SISO") & (table["region"] == "all")].iloc[0]
    rows = oof[oof["model"] == "siso"]
    precision, recall, _ = skm.precision_recall_curve(rows["label"], rows["probability"])
    assert siso["trapezoid"] == pytest.approx(skm.auc(recall, precision))
    assert siso["average_precision"] == pytest.approx(skm.average_precision_score(rows["label"], rows["probability"]))


def test_reader_comparisons():
    oof = fake_oof()
    predictions = pd.concat([oof, cmp.reader_rows(fake_readers(oof), oof)], ignore_index=True)
    table = cmp.reader_comparisons(predictions, regions=("all",), n_boot=N_BOOT)
    assert len(table) == 2 * 2  # models x readers
    row = table[(table["model"] == "SISO") & (table["reader"] == "r1")].iloc[0]
    rows = oof[oof["model"] == "siso"]
    assert row["f_model"] == pytest.approx(skm.f1_score(rows["label"], rows["probability"] >= 0.5))
    assert row["f_diff"] == pytest.approx(row["f_model"] - row["f_reader"])
    assert (table["p_mcnemar_holm"] >= table["p_mcnemar"]).all()


def test_forest_plot_draws_one_panel_per_kind_and_metric():
    table = cmp.table4_ci(fake_oof(), n_boot=N_BOOT)
    fig = cmp.plot_table4_forest(table, published.table4())
    assert len(fig.axes) == 4
    plt.close(fig)


# --- paper 003 -------------------------------------------------------------------------------------
def test_score_agreement_matches_scipy():
    scores = fake_scores()
    table = cmp.score_agreement(scores, n_boot=N_BOOT).set_index("variant")
    test = scores[(scores["split"] == "test") & (scores["variant"] == "IRB")]
    reference = scipy_stats.ttest_rel(test["score_pred"], test["score_true"])
    assert table.loc["IRB", "t"] == pytest.approx(reference.statistic)
    assert table.loc["IRB", "p_t_test"] == pytest.approx(reference.pvalue)
    assert table.loc["IRB", "mae"] == pytest.approx(skm.mean_absolute_error(test["score_true"], test["score_pred"]))
    assert table.loc["IRB", "rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(test["score_true"],
                                                                                     test["score_pred"])))
    assert table.loc["IRB", "pearson_r"] == pytest.approx(scipy_stats.pearsonr(test["score_true"],
                                                                               test["score_pred"]).statistic)
    assert table.loc["IRB", "n"] == 12 and table.loc["IRB", "n_patients"] == 6
    assert math.isnan(table.loc["mean baseline", "pearson_r"])  # constant prediction


def test_error_comparisons_match_scipy_and_statsmodels():
    scores = fake_scores()
    table = cmp.error_comparisons(scores)
    assert list(zip(table["variant_a"], table["variant_b"])) == [("mean baseline", "IRB"), ("mean baseline", "DSC"),
                                                                  ("IRB", "DSC")]
    test = scores[scores["split"] == "test"]
    err = {v: (g["score_pred"] - g["score_true"]).abs().to_numpy() for v, g in test.groupby("variant")}
    row = table.iloc[2]
    assert row["p_t_test"] == pytest.approx(scipy_stats.ttest_rel(err["IRB"], err["DSC"]).pvalue)
    assert row["p_wilcoxon"] == pytest.approx(scipy_stats.wilcoxon(err["IRB"], err["DSC"]).pvalue)
    assert row["mae_a"] == pytest.approx(err["IRB"].mean())
    assert table["p_t_test_holm"].tolist() == pytest.approx(multipletests(table["p_t_test"], method="holm")[1].tolist())


# --- paper 004 -------------------------------------------------------------------------------------
def test_grading_ci_matches_sklearn_on_evaluable_rows():
    grades = fake_grades()
    table = cmp.grading_ci(grades, n_boot=N_BOOT)
    assert len(table) == 2 * 3 * 3  # kinds x methods x metrics
    rows = grades[(grades["kind"] == "jsn") & (grades["method"] == "plain") & (grades["split"] == "test")
                  & ~grades["imputed"]]
    got = table[(table["kind"] == "jsn") & (table["method"] == "plain")].set_index("metric")
    assert got.loc["accuracy", "estimate"] == pytest.approx(skm.accuracy_score(rows["grade_true"], rows["grade_pred"]))
    assert got.loc["class_normalised_accuracy", "estimate"] == pytest.approx(
        skm.balanced_accuracy_score(rows["grade_true"], rows["grade_pred"]))
    within = (rows["grade_true"] - rows["grade_pred"]).abs() <= 1
    assert got.loc["class_normalised_accuracy_pm1", "estimate"] == pytest.approx(
        within.groupby(rows["grade_true"]).mean().mean())
    assert (got["n"] == len(rows)).all()
    assert cmp.grading_wide(table).shape == (6, 3)


def test_grading_mcnemar_matches_statsmodels():
    grades = fake_grades()
    table = cmp.grading_mcnemar(grades)
    assert len(table) == 2 * 3
    row = table[(table["kind"] == "erosion") & (table["method_a"] == "plain") & (table["method_b"] == "class_weights")]
    row = row.iloc[0]
    evaluable = grades[(grades["split"] == "test") & ~grades["imputed"] & (grades["kind"] == "erosion")]
    a = evaluable[evaluable["method"] == "plain"].set_index(["hand_id", "site"])
    b = evaluable[evaluable["method"] == "class_weights"].set_index(["hand_id", "site"]).loc[a.index]
    ca, cb = (a["grade_true"] == a["grade_pred"]).to_numpy(), (b["grade_true"] == b["grade_pred"]).to_numpy()
    assert (row["b"], row["c"]) == (int((ca & ~cb).sum()), int((~ca & cb).sum()))
    exact = row["b"] + row["c"] < 25
    reference = sm_mcnemar([[int((ca & cb).sum()), row["b"]], [row["c"], int((~ca & ~cb).sum())]], exact=exact,
                           correction=True)
    assert row["p"] == pytest.approx(reference.pvalue)
    assert (table["p_holm"] >= table["p"]).all()


# --- headline --------------------------------------------------------------------------------------
def test_numeric_leaves_and_find_number():
    leaves = cmp.numeric_leaves({"a": {"rate": 0.9, "flag": True, "list": [1, {"x": 2.5}]}, "name": "x"})
    assert leaves == {"a/rate": 0.9, "a/list/0": 1.0, "a/list/1/x": 2.5}
    found = cmp.find_number({"dlc/erosion/All joints/intact/rate": 0.99, "dlc/erosion/All joints/total/rate": 0.95,
                             "frcnn/erosion/All joints/total/rate": 0.5},
                            ("rate", "erosion", "all"), excluded=("intact", "frcnn"), preferred=("total",))
    assert found == ("dlc/erosion/All joints/total/rate", 0.95)
    assert cmp.find_number(leaves, ("missing",)) is None


def test_stage_values_from_metrics_json():
    stage1 = {"n": 5, "models": {"two_binary_fused": {"accuracy": 0.8, "model1_accuracy": 0.9, "model2_accuracy": 1.0},
                                 "three_class": {"accuracy": 0.2}}}
    got = {v["id"]: v["book"] for v in cmp.selection_values(stage1)}
    assert got == {"000.model1_accuracy": 0.9, "000.model2_accuracy": 1.0, "000.three_class_accuracy": 0.8}
    assert cmp.selection_values({}) == []
    stage2 = {"detection_rate": {"dlc/erosion": 0.97, "dlc/jsn": 0.96, "frcnn/erosion": 0.5},
              "mean_error_paper_px": {"dlc/erosion": 4.0, "dlc/jsn": 5.0}, "frcnn_map_iou50": 0.91, "seconds": 3.0}
    got = {v["id"]: v["book"] for v in cmp.detection_values(stage2)}
    assert got == {"001.detection_rate.erosion": 0.97, "001.detection_rate.jsn": 0.96,
                   "001.distance_error.erosion": 4.0, "001.distance_error.jsn": 5.0, "002.box_map50": 0.91}
    other = {"dlc": {"detection_rate": {"erosion": {"all_joints": 0.97}, "jsn": {"all_joints": 0.96}}},
             "frcnn": {"map50": 0.91}, "heatmap_size": 64}
    got = {v["id"]: (v["book"], v["book_source"]) for v in cmp.detection_values(other)}
    assert got["001.detection_rate.erosion"][0] == 0.97 and got["002.box_map50"][0] == 0.91
    assert "frcnn/map50" in got["002.box_map50"][1] and "001.distance_error.jsn" not in got
    stage4 = {"regression_test": [{"method": "cdf", "n": 9, "mse": 70.0, "mae": 3.0}]}
    got = {v["id"]: v["book"] for v in cmp.grading_values(cmp.grading_ci(fake_grades(), n_boot=N_BOOT), stage4)}
    assert got["004.table3.mse.cdf"] == 70.0 and "004.table2.accuracy.plain" in got and "002.jsn_accuracy" in got


def test_headline_table_marks_missing_stages():
    table4 = cmp.table4_ci(fake_oof(), n_boot=N_BOOT)
    values = cmp.classification_values(table4) + cmp.overall_values(cmp.score_agreement(fake_scores(), n_boot=N_BOOT))
    table = cmp.headline_table(published.headline(), values).set_index("id")
    assert table.loc["000.model1_accuracy", "book_value"] == "not run"
    assert table.loc["003.t_test_p", "published"] == "> 0.05"
    assert table.loc["003.rmse", "published"] == "22.01"
    siso = table4.query("region == 'all' and metric == 'f_measure' and model == 'siso'").iloc[0]
    assert table.loc["001.table4.erosion.all.f_measure.siso", "book"] == pytest.approx(siso["estimate"])
    assert table.loc["001.table4.jsn.all.f_measure.siso", "book_value"] == "not run"  # erosion-only fake
    assert len(table) == len(published.headline())


def test_records_are_strict_json():
    rows = cmp.records(pd.DataFrame({"a": [1.0, np.nan], "b": ["x", None]}))
    assert rows == [{"a": 1.0, "b": "x"}, {"a": None, "b": None}]
