"""ra_lib.stages.comparisons.table4: paper 001 Table 4 with intervals, cross-checked with scikit-learn / statsmodels."""
import math

import pandas as pd
import pytest
from sklearn import metrics as skm
from statsmodels.stats.multitest import multipletests

from fixtures.comparisons_artifacts import fake_oof, fake_readers
from ra_lib.core.contracts import CLASSIFICATION
from ra_lib.core.errors import RaDataError
from ra_lib.evaluation import published
from ra_lib.evaluation.readers import reader_rows
from ra_lib.stages.comparisons import table4

N_BOOT = 20


def test_bad_prediction_tables_are_refused_with_the_joint_named():
    oof = fake_oof()
    with pytest.raises(RaDataError, match="missing column"):
        reader_rows(fake_readers(oof).drop(columns=["grade"]), oof)
    twice = pd.concat([oof, oof[oof["model"] == "siso"].iloc[:1]])
    with pytest.raises(RaDataError, match=r"'siso' scores joint IMG000:L erosion/ip more than once"):
        table4.table4_ci(twice, n_boot=N_BOOT)
    relabelled = oof.copy()
    relabelled.loc[relabelled.index[-1], "label"] = 1 - relabelled["label"].iloc[-1]
    with pytest.raises(RaDataError, match="differs between 'mimo_local' and 'siso'"):
        table4.table4_ci(relabelled, n_boot=N_BOOT)


def test_table4_estimates_match_sklearn():
    oof = fake_oof()
    table = table4.table4_ci(oof, n_boot=N_BOOT)
    for (region, model), part in table.groupby(["region", "model"]):
        rows = oof[(oof["model"] == model) & oof["group"].isin(table4.region_groups("erosion", region))]
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
    table = table4.table4_ci(oof, n_boot=N_BOOT)
    wrist = table[table["region"] == "wrist"].set_index(["model", "metric"])
    for model in ("siso", "mimo_local"):
        assert math.isnan(wrist.loc[(model, "sensitivity"), "estimate"])
        assert math.isnan(wrist.loc[(model, "pr_auc"), "lower"])
        assert wrist.loc[(model, "pr_auc"), "n_valid"] == 0
        assert 0 <= wrist.loc[(model, "specificity"), "estimate"] <= 1
    assert not wrist.loc[("mimo_local", "sensitivity"), "significant"]
    assert table4.table4_wide(table).loc[("erosion", "wrist", "SISO"), "sensitivity"] == "-"


def test_significance_marks_against_siso_are_holm_adjusted():
    oof = fake_oof(models=("siso",), n_patients=10)
    siso = oof[oof["model"] == "siso"]
    perfect = siso.assign(model="mimo_local", probability=siso["label"].astype(float))
    same = siso.assign(model="mimo_one_hand")
    table = table4.table4_ci(pd.concat([oof, perfect, same]), n_boot=100)
    rows = table[(table["region"] == "all") & (table["metric"] == "f_measure")].set_index("model")
    assert rows.loc["mimo_local", "diff"] > 0 and rows.loc["mimo_local", "significant"]
    assert rows.loc["mimo_one_hand", "diff"] == 0 and not rows.loc["mimo_one_hand", "significant"]
    raw = rows.loc[["mimo_local", "mimo_one_hand"], "p"]
    assert rows.loc[["mimo_local", "mimo_one_hand"], "p_holm"].tolist() == pytest.approx(
        multipletests(raw, method="holm")[1].tolist())
    wide = table4.table4_wide(table)
    assert wide.loc[("erosion", "all", "MIMO local"), "F-measure"].endswith("*")
    assert not wide.loc[("erosion", "all", "MIMO one-hand"), "F-measure"].endswith("*")
    assert list(wide.columns) == ["sensitivity", "specificity", "F-measure", "PR-AUC (AP)"]
    assert [m for k, r, m in wide.index if r == "all"] == ["SISO", "MIMO local", "MIMO one-hand"]


def test_readers_in_table4_with_their_mean():
    oof = fake_oof()
    predictions = pd.concat([oof, reader_rows(fake_readers(oof), oof)], ignore_index=True)
    table = table4.table4_ci(predictions, n_boot=N_BOOT)
    block = table[(table["region"] == "all") & (table["metric"] == "sensitivity")].set_index("model")
    readers_mean = block.loc[["reader r1", "reader r2"], "estimate"].mean()
    assert block.loc["mean of readers", "estimate"] == pytest.approx(readers_mean)
    assert math.isnan(block.loc["mean of readers", "lower"])
    assert block.loc["reader r1", "p"] == block.loc["reader r1", "p"]  # readers are compared with SISO too
    assert table4.ordered_models(table["model"]) == ["siso", "mimo_local", "reader r1", "reader r2", "mean of readers"]


def test_table4_vs_published_pairs_models_with_the_paper():
    table = table4.table4_ci(fake_oof(), n_boot=N_BOOT)
    side = table4.table4_vs_published(table, published.table4())
    assert side.loc[("erosion", "all", "MIMO local"), ("F-measure", "paper")] == "0.70"
    siso = table.query("region == 'all' and metric == 'f_measure' and model == 'siso'")["estimate"].iloc[0]
    assert side.loc[("erosion", "all", "SISO"), ("F-measure", "book")].startswith(f"{siso:.2f} [")


def test_pr_auc_definitions_show_the_trapezoid_optimism_for_readers():
    oof = fake_oof()
    predictions = pd.concat([oof, reader_rows(fake_readers(oof), oof)], ignore_index=True)
    table = table4.pr_auc_definitions(predictions)
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
    predictions = pd.concat([oof, reader_rows(fake_readers(oof), oof)], ignore_index=True)
    table = table4.reader_comparisons(predictions, regions=("all",), n_boot=N_BOOT)
    assert len(table) == 2 * 2  # models x readers
    row = table[(table["model"] == "SISO") & (table["reader"] == "r1")].iloc[0]
    rows = oof[oof["model"] == "siso"]
    assert row["f_model"] == pytest.approx(skm.f1_score(rows["label"], rows["probability"] >= 0.5))
    assert row["f_diff"] == pytest.approx(row["f_model"] - row["f_reader"])
    assert (table["p_mcnemar_holm"] >= table["p_mcnemar"]).all()


def test_table4_recomputed_uses_stage_3_headline_names():
    oof = fake_oof()
    predictions = pd.concat([oof, reader_rows(fake_readers(oof), oof)], ignore_index=True)
    long = table4.table4_ci(predictions, n_boot=N_BOOT)
    got = table4.table4_recomputed(long).set_index("book_name")
    assert set(got.index) == {f"{m}/{model}/erosion" for m in ("f_measure", "pr_auc")
                              for model in ("siso", "mimo_local", "readers_mean")}
    assert (got["stage"] == CLASSIFICATION).all()
    rows = oof[oof["model"] == "siso"]
    assert got.loc["f_measure/siso/erosion", "recomputed"] == pytest.approx(
        skm.f1_score(rows["label"], rows["probability"] >= 0.5))
    assert got.loc["pr_auc/siso/erosion", "recomputed_lower"] <= got.loc["pr_auc/siso/erosion", "recomputed_upper"]
    assert math.isnan(got.loc["f_measure/readers_mean/erosion", "recomputed_lower"])
    assert "oof_predictions.csv, 192 joints, 6 patients" in got.loc["pr_auc/siso/erosion", "recomputed_source"]
