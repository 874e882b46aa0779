import math

import numpy as np
import pandas as pd
import pytest

from ra_lib.evaluation.readers import OOF_COLUMNS, reader_rows
from ra_lib.stages.classification.evaluate import (HEADLINE_NAMES, READERS_MEAN, evaluation_table, headline_values,
                                                   headline_vs_paper, joint_outcomes, learning_check, learning_verdict,
                                                   masking_summary, pr_curves, published_table4, showcase_hands,
                                                   table4, training_summary)


def scored_oof(n=60, seed=0, models=("siso",)):
    rng = np.random.default_rng(seed)
    sites = ["mcp2", "mcp3", "scaphoid", "lunate"]
    parts = []
    labels = rng.integers(0, 2, n)
    for model in models:
        oof = pd.DataFrame({"hand_id": [f"h{i // 4}" for i in range(n)], "patient": "P-0000000000", "hand": "L",
                            "kind": "erosion", "site": [sites[i % 4] for i in range(n)], "fold": 0, "model": model,
                            "probability": rng.random(n), "label": labels})
        parts.append(oof.assign(group=np.where(oof["site"].str.startswith("mcp"), "MCP", "wrist")))
    return pd.concat(parts, ignore_index=True)[list(OOF_COLUMNS)]


def test_evaluation_with_readers_matches_sklearn():
    from sklearn.metrics import average_precision_score, f1_score, recall_score, roc_auc_score

    oof = scored_oof()
    rng = np.random.default_rng(1)
    readers = pd.DataFrame({"reader_id": "A", "hand_id": oof["hand_id"], "kind": "erosion", "site": oof["site"],
                            "grade": rng.integers(0, 3, len(oof))})
    calls = reader_rows(readers, oof)
    table = evaluation_table(pd.concat([oof, calls]))
    row = table[(table["region"] == "all") & (table["model"] == "siso")].iloc[0]
    assert row["average_precision"] == pytest.approx(average_precision_score(oof["label"], oof["probability"]))
    assert row["roc_auc"] == pytest.approx(roc_auc_score(oof["label"], oof["probability"]))
    assert row["f_measure"] == pytest.approx(f1_score(oof["label"], oof["probability"] >= 0.5))
    assert set(table["model"]) == {"siso", "reader A", READERS_MEAN}
    reader = table[(table["region"] == "finger") & (table["model"] == "reader A")].iloc[0]
    mcp = calls[calls["group"] == "MCP"]
    assert reader["sensitivity"] == pytest.approx(recall_score(mcp["label"], mcp["probability"]))
    assert table4(table).shape[1] == 3
    assert math.isclose(pr_curves(oof)["recall"].max(), 1.0)


def test_a_block_without_positives_has_undefined_sensitivity_and_ap():
    oof = scored_oof().assign(label=0)
    table = evaluation_table(oof, by="group")
    assert len(table) == 2 and table["sensitivity"].isna().all() and table["average_precision"].isna().all()
    assert table["specificity"].notna().all()
    assert not learning_check(table)["learns"].any()


def test_headline_has_every_name_and_none_for_what_was_not_run():
    oof = scored_oof(models=("siso", "mimo_one_hand"))
    values = headline_values(evaluation_table(oof), oof, contralateral=7)
    assert set(values) == set(HEADLINE_NAMES) and len(HEADLINE_NAMES) == 47
    assert values["contralateral_pairs"] == 7
    assert values["prevalence/erosion"] == pytest.approx(oof.drop_duplicates(["hand_id", "site"])["label"].mean())
    assert values["roc_auc/siso/erosion"] is not None and values["pr_auc/mimo_one_hand/erosion"] is not None
    absent = [n for n in HEADLINE_NAMES if "mimo_local" in n or "both_hands" in n or "readers" in n or "jsn" in n]
    assert all(values[n] is None for n in absent)


def test_joint_outcomes_and_showcase():
    sites = ["mcp1", "mcp2", "mcp3", "mcp4"]
    oof = pd.DataFrame({"hand_id": ["i:L"] * 4, "patient": "P", "hand": "L", "kind": "erosion", "site": sites,
                        "group": "MCP", "fold": 0, "model": "siso", "probability": [0.9, 0.1, 0.2, 0.8],
                        "label": [1, 0, 1, 0]})
    index = pd.DataFrame({"hand_id": "i:L", "image_id": "i", "kind": "erosion", "site": sites, "x": [1.0, 2, 3, 4],
                          "y": [5.0, 6, 7, 8]})
    outcomes = joint_outcomes(oof, index, ["i:L"])
    assert list(outcomes["outcome"]) == ["TP", "TN", "FN", "FP"] and outcomes["x"].notna().all()
    assert showcase_hands(oof, index) == ["i:L"]


def test_summaries_and_verdict():
    runs = pd.DataFrame({"kind": "erosion", "model": ["siso", "siso"], "fold": [0, 1], "status": "trained",
                         "epochs_run": [2, 4], "best_epoch": [1, 3], "n_train_balanced": [10, 20],
                         "seconds": [1.0, 2.0]})
    summary = training_summary(runs).iloc[0]
    assert (summary["model"], summary["trainings"], summary["epochs_run"], summary["seconds"]) == ("SISO", 2, 3.0, 3.0)
    counts = pd.DataFrame({"kind": "jsn", "group": ["MCP", "PIP"], "model": "mimo_local", "samples": [3, 4],
                           "masked_inputs": [1, 0], "samples_missing_hand": [1, 0]})
    assert masking_summary(counts).loc["MIMO local"].tolist() == [7, 1, 1]
    oof = scored_oof()
    evaluation = evaluation_table(oof)
    text = learning_verdict(evaluation, evaluation_table(oof, by="group"), epochs=1, crop_size=16)
    assert "SISO PR-AUC" in text and "in the paper: erosion MIMO local" in text
    beside = headline_vs_paper(evaluation)
    assert beside.loc[("erosion", "SISO"), "pr_auc"] == pytest.approx(evaluation.loc[
        (evaluation["region"] == "all") & (evaluation["model"] == "siso"), "average_precision"].iloc[0])
    assert not np.isnan(beside.loc[("erosion", "SISO"), "pr_auc_paper"])
    assert published_table4().shape[1] == 8
