"""The CSV reader every layout shares: column contracts, true line numbers, encodings, malformed rows."""
from fixtures.builders import assert_one, edit_csv, problem_lines


def test_unknown_column(native):
    edit_csv(native.parent / "data" / "joint_scores.csv", lambda df: df.insert(5, "reader", "A"))
    assert_one(problem_lines(native), "joint_scores.csv:1: reader:", "unknown column in the joint_scores table")


def test_missing_required_column(native):
    edit_csv(native.parent / "data" / "joint_scores.csv", lambda df: df.drop(columns="grade", inplace=True))
    assert_one(problem_lines(native), "joint_scores.csv:1: grade:", "required column missing")
