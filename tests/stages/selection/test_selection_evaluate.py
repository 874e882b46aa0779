"""Stage 1 evaluation: fusion rule, tag baseline, artifact table, metrics, rotation check."""
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score

from ra_lib.stages.selection.data import CLASSES
from ra_lib.stages.selection.evaluate import (FUSION, PREDICTION_COLUMNS, TAGS, THREE_CLASS, confusion_counts, decide,
                                              fuse, misclassified, misclassified_rotated, predictions_table,
                                              rotation_summary, selection_metrics, tag_baseline)


@pytest.mark.parametrize("p_one, p_both, expected", [
    (0.1, 0.2, "other"), (0.49, 0.49, "other"), (0.9, 0.1, "one_hand"), (0.1, 0.9, "both_hands"),
    (0.8, 0.6, "one_hand"), (0.6, 0.8, "both_hands"), (0.5, 0.5, "one_hand"), (0.5, 0.1, "one_hand"),
    (0.3, 0.5, "both_hands"),
])
def test_fusion_truth_table(p_one, p_both, expected):
    assert fuse([p_one], [p_both])[0] == expected


def test_fusion_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="differ in shape"):
        fuse([0.1, 0.2], [0.3])


def test_tag_baseline_fails_on_extremity_and_blank():
    pred = tag_baseline(["HAND", " hand ", "EXTREMITY", "", None, "FOOT", "CHEST"])
    assert pred.tolist() == ["one_hand", "one_hand", "other", "other", "other", "other", "other"]
    both = tag_baseline(["HAND", "HAND", "EXTREMITY"], laterality=["B", "L", "B"])
    assert both.tolist() == ["both_hands", "one_hand", "other"]


def _images():
    return pd.DataFrame({"image_id": ["a", "b", "c", "d", "e"],
                         "class": ["one_hand", "both_hands", "other", "one_hand", "other"],
                         "split": ["test", "test", "test", "train", "train"],
                         "body_part": ["HAND", "EXTREMITY", "CHEST", "HAND", ""]})


def _probabilities():
    model1 = np.array([[0.1, 0.9], [0.8, 0.2], [0.7, 0.3], [0.2, 0.8], [0.9, 0.1]])
    model2 = np.array([[0.9, 0.1], [0.1, 0.9], [0.4, 0.6], [0.9, 0.1], [0.8, 0.2]])
    three = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.6, 0.2, 0.2], [0.2, 0.2, 0.6]])
    return {"model1": model1, "model2": model2, THREE_CLASS: three}


def test_decide_fuses_and_takes_the_three_class_argmax():
    decided = decide(_probabilities())
    assert decided[FUSION]["view_pred"].tolist() == ["one_hand", "both_hands", "both_hands", "one_hand", "other"]
    assert decided[THREE_CLASS]["view_pred"].tolist() == ["one_hand", "both_hands", "other", "one_hand", "other"]
    assert decided[FUSION]["p_one_hand"].tolist() == [0.9, 0.2, 0.3, 0.8, 0.1]


def test_predictions_table_and_metrics():
    predictions = predictions_table(_images(), _probabilities())
    assert list(predictions.columns) == PREDICTION_COLUMNS and len(predictions) == 3 * 5
    tags = predictions[predictions["model"] == TAGS]
    assert tags["view_pred"].tolist() == ["one_hand", "other", "other", "one_hand", "other"]
    result = selection_metrics(predictions)
    assert result["n"] == 3 and result["majority_class"] in ("one_hand", "other")
    fused = result["models"][FUSION]
    assert fused["accuracy"] == pytest.approx(2 / 3) and fused["correct"] == 2
    assert fused["model1_accuracy"] == 1.0 and fused["model2_accuracy"] == pytest.approx(2 / 3)
    assert result["models"][THREE_CLASS]["accuracy"] == 1.0
    assert result["models"][TAGS]["model1_accuracy"] == pytest.approx(
        accuracy_score([True, False, False], [True, False, False]))
    truth = np.array(["one_hand", "both_hands", "other"])
    assert result["majority_accuracy"] == pytest.approx((truth == result["majority_class"]).mean())
    counts = confusion_counts(predictions, FUSION)
    assert list(counts.index) == list(CLASSES) and counts.to_numpy().sum() == 3
    assert counts.loc["other", "both_hands"] == 1
    assert misclassified(predictions, FUSION)["image_id"].tolist() == ["c"]


def test_metrics_without_predictions_have_no_majority():
    result = selection_metrics(pd.DataFrame(columns=PREDICTION_COLUMNS))
    assert result["n"] == 0 and result["models"] == {} and result["majority_accuracy"] is None


def test_rotation_summary_and_misclassified_rotated():
    rotated = pd.DataFrame({"image_id": ["a", "b", "a", "b"], "view_true": ["one_hand", "both_hands"] * 2,
                            "orientation": ["upright", "upright", "rotated", "rotated"], "model": FUSION,
                            "view_pred": ["one_hand", "both_hands", "other", "both_hands"],
                            "p_one_hand": 0.5, "p_both_hands": 0.5})
    summary = rotation_summary(rotated).set_index("orientation")
    assert summary.loc["upright", "accuracy"] == 1.0 and summary.loc["rotated", "accuracy"] == 0.5
    assert summary.loc["rotated", "taken_for_other"] == 1 and summary.loc["rotated", "n"] == 2
    assert misclassified_rotated(rotated)["image_id"].tolist() == ["a"]
