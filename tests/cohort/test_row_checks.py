"""Row checks of the score and landmark tables: every bad value at its file, line and column."""
import pandas as pd

from fixtures.builders import assert_one, edit_csv, problem_lines


def test_duplicate_score_rows(native):
    scores = native.parent / "data" / "joint_scores.csv"
    df = pd.read_csv(scores, dtype=str, keep_default_na=False)
    pd.concat([df, df.iloc[[3]]]).to_csv(scores, index=False)
    assert_one(problem_lines(native), f"joint_scores.csv:{len(df) + 2}: site:", "duplicate score for", "(first in row 5)")


def test_unknown_site_kind_and_hand(native):
    def damage(df):
        df.loc[0, "site"] = "mcp9"
        df.loc[1, "kind"] = "swelling"
        df.loc[2, "hand"] = "X"
    edit_csv(native.parent / "data" / "joint_scores.csv", damage)
    found = problem_lines(native)
    assert_one(found, "joint_scores.csv:2: site:", "unknown hand erosion site 'mcp9'")
    assert_one(found, "joint_scores.csv:3: kind:", "unknown kind 'swelling'")
    assert_one(found, "joint_scores.csv:4: hand:", "hand 'X' must be L or R")


def test_grades_out_of_range_or_not_whole(native):
    scores = native.parent / "data" / "joint_scores.csv"

    def damage(df):
        erosion = df.index[(df["kind"] == "erosion")][0]
        jsn = df.index[(df["kind"] == "jsn")][0]
        df.loc[erosion, "grade"], df.loc[jsn, "grade"] = "6", "5"
        df.loc[erosion + 1, "grade"], df.loc[erosion + 2, "grade"] = "2.5", "-1"
    edit_csv(scores, damage)
    found = problem_lines(native)
    assert_one(found, "joint_scores.csv:2: grade:", "grade 6 out of range 0-5 for hand erosion ip")
    assert_one(found, "grade:", "grade 5 out of range 0-4 for hand jsn pip2")
    assert_one(found, "joint_scores.csv:3: grade:", "'2.5' is not a whole number")
    assert_one(found, "joint_scores.csv:4: grade:", "grade -1 out of range")


def test_eroded_pct_range_and_kind(native):
    def damage(df):
        df.loc[0, "eroded_pct"] = "140"
        df.loc[df.index[df["kind"] == "jsn"][0], "eroded_pct"] = "10"
    edit_csv(native.parent / "data" / "joint_scores.csv", damage)
    found = problem_lines(native)
    assert_one(found, "joint_scores.csv:2: eroded_pct:", "from 0 to 100")
    assert_one(found, "eroded_pct:", "erosion rows only")


def test_score_for_unknown_image_or_hand_not_on_image(native):
    def damage(df):
        df.loc[0, "image_id"] = "PAT404-LH"
        df.loc[df.index[df["image_id"] == "PAT001-LH"][0], "hand"] = "R"
    edit_csv(native.parent / "data" / "joint_scores.csv", damage)
    found = problem_lines(native)
    assert_one(found, "joint_scores.csv:2: image_id:", "image 'PAT404-LH' is not in the images table")
    assert_one(found, "hand:", "hand R is not on image 'PAT001-LH' (view left_hand, file images/PAT001-LH.dcm)")


def test_landmark_outside_the_image(native):
    def damage(df):
        df.loc[0, "x"] = "64"
        df.loc[1, "y"] = "-3"
    edit_csv(native.parent / "data" / "landmarks.csv", damage)
    found = problem_lines(native)
    assert_one(found, "landmarks.csv:2: x:", "landmark (64, 10) is outside image 'PAT000-LH' (64 x 64 pixels)")
    assert_one(found, "landmarks.csv:3: y:", "outside image")


def test_non_finite_and_huge_numbers_are_problems_never_exceptions(native):
    def damage(df):
        df.loc[0, "grade"], df.loc[1, "grade"], df.loc[2, "grade"] = "inf", "1" * 25, "nan"
        df.loc[3, "eroded_pct"] = "-inf"
    edit_csv(native.parent / "data" / "joint_scores.csv", damage)
    edit_csv(native.parent / "data" / "landmarks.csv", lambda df: df.__setitem__("x", ["inf"] + list(df["x"][1:])))
    found = problem_lines(native)
    assert_one(found, "joint_scores.csv:2: grade:", "'inf' is not a whole number")
    assert_one(found, "joint_scores.csv:3: grade:", "out of range 0-5")
    assert_one(found, "joint_scores.csv:4: grade:", "'nan' is not a whole number")
    assert_one(found, "joint_scores.csv:5: eroded_pct:", "from 0 to 100")
    assert_one(found, "landmarks.csv:2: x:", "'inf' is not a number")
