import pandas as pd
import pytest

from fixtures.score_cohorts import hand_grade_rows
from ra_lib.stages.overall_score import targets
from ra_lib.stages.overall_score.settings import MAX_SCORE


def _hands(hand_ids, patients) -> pd.DataFrame:
    return pd.DataFrame({"hand_id": hand_ids, "image_id": [h.split(":")[0] for h in hand_ids], "patient": patients,
                         "hand": [h.split(":")[1] for h in hand_ids], "x0": 0, "x1": 10})


def test_overall_targets_per_hand_and_per_bilateral_image():
    scores = hand_grade_rows({"a:L": 1, "a:R": 2, "b:R": 3})
    scores = scores[~((scores["hand_id"] == "b:R") & (scores["site"] == "ulna"))]  # one site missing
    hands = _hands(["a:L", "a:R", "b:R", "c:L"], ["P1", "P1", "P2", "P3"])
    per_hand = targets.overall_targets(hands, scores).set_index("hand_id")
    assert per_hand.loc["a:L", "score"] == 31 and per_hand.loc["a:R", "score"] == 62
    assert per_hand["complete"].tolist() == [True, True, False, False]
    images = pd.DataFrame({"image_id": ["a", "b", "c"], "view": ["both_hands", "right_hand", "left_hand"]})
    per_image = targets.overall_targets(hands, scores, images, unit="image")
    assert per_image.to_dict("records") == [{"image_id": "a", "patient": "P1", "score": 93, "complete": True}]
    assert MAX_SCORE == {"hand": 140, "image": 280}
    with pytest.raises(ValueError, match="images table"):
        targets.overall_targets(hands, scores, unit="image")


def test_repeated_site_makes_a_hand_incomplete():
    scores = hand_grade_rows({"a:L": 1})
    scores = pd.concat([scores.iloc[1:], scores.iloc[:1], scores.iloc[:1]])
    assert not targets.hand_scores(scores)["complete"].item()


def test_assign_splits_uses_the_cohort_folds_not_the_pseudonyms():
    units = pd.DataFrame({"hand_id": [f"h{i}" for i in range(8)], "patient": [f"P{i // 2}" for i in range(8)]})
    folds = pd.DataFrame({"patient": ["P0", "P1", "P2", "P3"], "fold": [2, 3, 0, 1]})
    out = targets.assign_splits(units, folds, test_fold=0)
    assert out.groupby("patient")["split"].nunique().max() == 1
    assert dict(zip(out["patient"], out["split"])) == {"P2": "test", "P3": "val", "P0": "train", "P1": "train"}
    with pytest.raises(ValueError, match="no fold"):
        targets.assign_splits(units, folds.iloc[:3])


def test_unit_ids_and_hands_per_unit():
    hand_ids = pd.Series(["IMG1:L", "IMG1:R"])
    assert targets.unit_ids(hand_ids, "hand_id").tolist() == ["IMG1:L", "IMG1:R"]
    assert targets.unit_ids(hand_ids, "image_id").tolist() == ["IMG1", "IMG1"]
    assert (targets.hands_per_unit("hand_id"), targets.hands_per_unit("image_id")) == (1, 2)


def test_scored_units_and_split_summary():
    scores = hand_grade_rows({f"i{k}:R": k % 3 for k in range(6)})
    hands = _hands([f"i{k}:R" for k in range(6)] + ["x:R"], [f"P{k}" for k in range(6)] + ["P0"])
    folds = pd.DataFrame({"patient": [f"P{k}" for k in range(6)], "fold": [0, 1, 2, 0, 1, 2]})
    units, n_targets = targets.scored_units(hands, scores, None, folds)
    assert n_targets == 7 and len(units) == 6  # x:R has no grades
    summary = targets.split_summary(units)
    assert summary.index.tolist() == ["train", "val", "test"] and summary["units"].sum() == 6
