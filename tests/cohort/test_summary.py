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


def _cohort(images, hands, scores=None, readers=None):
    return SimpleNamespace(images=pd.DataFrame(images), hands=pd.DataFrame(hands),
                           scores=_scores() if scores is None else scores, landmarks=pd.DataFrame(),
                           readers=pd.DataFrame(readers or [], columns=["reader_id", "hand_id"]))


def test_left_right_agreement_on_both_hands_images():
    cohort = _cohort({"image_id": ["a", "b"], "study_date": ["2020-01-01"] * 2, "patient": ["P1", "P1"]},
                     {"hand_id": ["a:L", "a:R", "b:L", "b:R"], "image_id": ["a", "a", "b", "b"],
                      "patient": ["P1"] * 4, "hand": ["L", "R", "L", "R"]})
    pairs = cohort_summary.hand_pairs(cohort)  # one visit, two both-hands images: pairs within each image
    assert pairs.values.tolist() == [["a:L", "a:R"], ["b:L", "b:R"]]
    out = cohort_summary.left_right_agreement(cohort.scores, pairs).set_index(["kind", "group"])
    assert out.loc[("erosion", "MCP"), "agreement %"] == 50.0 and out.loc[("erosion", "MCP"), "pairs"] == 10


def test_one_hand_images_of_a_patient_without_dates_pair_up():
    scores = _scores()
    scores = scores[scores["hand_id"].isin(["a:L", "b:R"])]  # both grade 0
    cohort = _cohort({"image_id": ["a", "b"], "study_date": ["", ""], "patient": ["P1", "P1"]},
                     {"hand_id": ["a:L", "b:R"], "image_id": ["a", "b"], "patient": ["P1", "P1"], "hand": ["L", "R"]},
                     scores)
    pairs = cohort_summary.hand_pairs(cohort)
    assert pairs.values.tolist() == [["a:L", "b:R"]]
    assert cohort_summary.left_right_agreement(cohort.scores, pairs)["agreement %"].eq(100).all()
    empty = cohort_summary.left_right_agreement(cohort.scores, pairs.iloc[:0])
    assert empty.empty and list(empty.columns) == ["kind", "group", "pairs", "agreement %"]


def test_headline_counts_and_shares():
    cohort = _cohort({"image_id": ["a", "b"], "study_date": ["", ""], "patient": ["P1", "P2"]},
                     {"hand_id": ["a:L", "a:R", "b:L", "b:R"], "image_id": ["a", "a", "b", "b"],
                      "patient": ["P1", "P1", "P2", "P2"], "hand": ["L", "R", "L", "R"]},
                     readers=[("r1", "a:L"), ("r2", "a:L")])
    values = cohort_summary.headline(cohort)
    assert tuple(values) == cohort_summary.HEADLINE_NAMES
    assert values["images"] == 2 and values["patients"] == 2 and values["hands"] == 4 and values["readers"] == 2
    assert values["hand_pairs"] == 2 and values["non_intact_share/erosion"] == 0.25
    no_readers = cohort_summary.headline(_cohort(cohort.images, cohort.hands, _scores().iloc[:0]))
    assert no_readers["readers"] is None and no_readers["non_intact_share/jsn"] is None


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


def test_description_says_synthetic_only_for_a_generated_cohort():
    def cohort(synthetic):
        manifest = SimpleNamespace(cohort="c1", format="native", synthetic=synthetic, description="Ward 3.")
        return SimpleNamespace(manifest=manifest)
    assert "**synthetic**" in cohort_summary.description(cohort({"profile": "smoke"}))
    text = cohort_summary.description(cohort(None))
    assert "synthetic" not in text and "**c1**" in text and text.endswith("Ward 3.")
