"""Hands in images: a both-hands radiograph is split at the landmark midline, else at its darkest column."""
from fixtures.builders import GAP, edit_csv, hand_array, make_native_cohort
from ra_lib.cohort import load_cohort
from ra_lib.cohort.hands import split_column


def test_both_hands_split_at_the_landmark_midline(native):
    hands = load_cohort(native).hands.set_index("hand_id")
    # right hand on the viewer's left (PA): landmarks up to x=31, left hand's from x=60
    assert tuple(hands.loc["PAT000-BH:R", ["x0", "x1"]]) == (0, 46)
    assert tuple(hands.loc["PAT000-BH:L", ["x0", "x1"]]) == (46, 96)
    assert tuple(hands.loc["PAT000-LH:L", ["x0", "x1"]]) == (0, 64)


def test_landmarks_decide_which_hand_is_on_the_viewers_left(native):
    landmarks = native.parent / "data" / "landmarks.csv"
    edit_csv(landmarks, lambda df: df.__setitem__("hand", df["hand"].where(
        ~df["image_id"].str.endswith("BH"), df["hand"].map({"L": "R", "R": "L"}))))
    hands = load_cohort(native).hands.set_index("hand_id")
    assert tuple(hands.loc["PAT000-BH:L", ["x0", "x1"]]) == (0, 46)


def test_both_hands_split_at_the_darkest_column_without_landmarks(tmp_path):
    cohort = load_cohort(make_native_cohort(tmp_path, n_patients=3, with_landmarks=False))
    hands = cohort.hands.set_index("hand_id")
    split = hands.loc["PAT000-BH:R", "x1"]
    assert GAP - 4 <= split < GAP + 4 and hands.loc["PAT000-BH:L", "x0"] == split
    assert split_column(hand_array(both=True).astype(float)) in range(GAP - 4, GAP + 4)
