from types import SimpleNamespace

import pandas as pd

from ra_lib.cohort import summary as cohort_summary, sites


def _scores():
    rows = []
    for image, grade_l, grade_r in (("a", 0, 0), ("b", 1, 0)):
        for hand, grade in (("L", grade_l), ("R", grade_r)):
            for s in sites.HAND_SITES:
                rows.append({"hand_id": f"{image}:{hand}", "image_id": image, "hand": hand, "kind": s.kind,
                             "site": s.site, "grade": grade})
    return pd.DataFrame(rows)


def test_paper_table2_totals():
    t = cohort_summary.PAPER001_TABLE2.set_index(["kind", "group"])
    assert t.loc[("erosion", "all"), "total"] == t.drop(("erosion", "all")).loc["erosion", "total"].sum()
    assert t.loc[("jsn", "all"), "non_intact"] == 1407


def test_non_intact_by_group_shares():
    table = cohort_summary.non_intact_by_group(_scores()).set_index(["kind", "group"])
    assert table.loc[("erosion", "all"), "cohort %"] == 25.0
    assert round(table.loc[("jsn", "wrist"), "paper 001 %"], 1) == 68.0


def test_left_right_agreement():
    out = cohort_summary.left_right_agreement(_scores()).set_index(["kind", "group"])
    assert out.loc[("erosion", "MCP"), "agreement %"] == 50.0


def test_hand_scores_sum():
    per = cohort_summary.hand_scores(_scores()).set_index("hand_id")
    assert per.loc["b:L", "erosion"] == 16 and per.loc["b:L", "jsn"] == 15 and per.loc["b:L", "total"] == 31


def test_views_and_overview():
    images = pd.DataFrame({"image_id": ["a", "b"], "patient": ["P1", "P1"], "view": ["both_hands", "other"],
                           "body_part": ["HAND", None]})
    cohort = SimpleNamespace(images=images, hands=pd.DataFrame({"hand_id": ["a:L", "a:R"]}),
                             scores=_scores(), landmarks=pd.DataFrame(), readers=pd.DataFrame())
    assert cohort_summary.views(cohort).loc["other", "(blank)"] == 1
    assert cohort_summary.overview(cohort).loc["patients", "count"] == 1


def test_view_examples_are_reproducible():
    images = pd.DataFrame({"image_id": list("abcdef"), "view": ["other", "left_hand", "other", "both_hands",
                                                              "right_hand", "other"]})
    first = cohort_summary.view_examples(images, per_view=2, seed=1)
    assert list(first["view"]) == ["left_hand", "right_hand", "both_hands", "other", "other"]
    assert first.equals(cohort_summary.view_examples(images, per_view=2, seed=1))
