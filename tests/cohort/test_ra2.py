"""The RA2-DREAM layout: column mapping, feet kept apart, Overall_* sums, and equality with native."""
import pandas as pd
import pytest
import yaml

from fixtures.builders import grades_for, make_ra2_cohort, write_manifest
from ra_lib.cohort.adapters.ra2 import site_columns
from ra_lib.core.errors import ManifestError
from ra_lib.cohort import check, load_cohort
from ra_lib.cohort.cli import main
from ra_lib.cohort.sites import FOOT_SITES, HAND_SITES

#: The right-hand and right-foot columns of the challenge's training.csv header, in its order.
RA2_RH = ("RH_mcp_E__ip RH_pip_E__2 RH_pip_E__3 RH_pip_E__4 RH_pip_E__5 RH_mcp_E__1 RH_mcp_E__2 RH_mcp_E__3 "
          "RH_mcp_E__4 RH_mcp_E__5 RH_wrist_E__mc1 RH_wrist_E__mul RH_wrist_E__nav RH_wrist_E__lunate "
          "RH_wrist_E__radius RH_wrist_E__ulna RH_pip_J__2 RH_pip_J__3 RH_pip_J__4 RH_pip_J__5 RH_mcp_J__1 "
          "RH_mcp_J__2 RH_mcp_J__3 RH_mcp_J__4 RH_mcp_J__5 RH_wrist_J__cmc3 RH_wrist_J__cmc4 RH_wrist_J__cmc5 "
          "RH_wrist_J__mna RH_wrist_J__capnlun RH_wrist_J__radcar").split()
RA2_RF = ("RF_mtp_E__ip RF_mtp_E__1 RF_mtp_E__2 RF_mtp_E__3 RF_mtp_E__4 RF_mtp_E__5 "
          "RF_mtp_J__ip RF_mtp_J__1 RF_mtp_J__2 RF_mtp_J__3 RF_mtp_J__4 RF_mtp_J__5").split()
PATIENTS = ["UAB001", "UAB002", "UAB003"]


@pytest.fixture
def ra2(tmp_path):
    return make_ra2_cohort(tmp_path, PATIENTS)


def edit_scores(manifest, change):
    path = manifest.parent / "ra2" / "training.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(df)
    df.to_csv(path, index=False)


def test_catalogue_maps_exactly_the_challenge_columns():
    assert list(site_columns("RH")) == RA2_RH
    assert sorted(site_columns("RF")) == sorted(RA2_RF)
    assert len(site_columns("LH")) == len(HAND_SITES) == 31 and len(site_columns("LF")) == len(FOOT_SITES) == 12


def test_ra2_cohort_loads_hands_as_separate_images_paired_by_patient(ra2):
    cohort = load_cohort(ra2)
    images = cohort.images.set_index("image_id")
    assert len(images) == 12
    assert images.loc["UAB001-LH", "view"] == "left_hand" and images.loc["UAB001-RH", "view"] == "right_hand"
    assert images.loc["UAB001-LF", "view"] == "other" and images.loc["UAB001-LF", "body_part"] == "FOOT"
    assert images.loc["UAB002-RH", "path"] == "jpgs/UAB002-RH.jpg"
    assert images.loc["UAB001-LH", "patient"] == images.loc["UAB001-RH", "patient"] != images.loc["UAB002-LH",
                                                                                                  "patient"]
    assert len(cohort.hands) == 6 and set(cohort.hands["x1"]) == {64}
    assert len(cohort.scores) == 3 * 62 and set(cohort.scores["image_id"].str[-2:]) == {"LH", "RH"}
    grades = grades_for("UAB002")
    scores = cohort.scores.set_index(["image_id", "hand", "kind", "site"])["grade"]
    assert scores[("UAB002-RH", "R", "erosion", "trapezium")] == grades[("R", "erosion", "trapezium")]
    assert scores[("UAB002-LH", "L", "jsn", "capitate_scaphoid_lunate")] == grades[("L", "jsn",
                                                                                   "capitate_scaphoid_lunate")]


def test_feet_are_kept_apart_in_foot_scores(ra2):
    cohort = load_cohort(ra2)
    feet = cohort.foot_scores
    assert list(feet.columns) == ["image_id", "patient", "foot", "kind", "site", "grade"]
    assert len(feet) == 3 * 2 * 12 and set(feet["site"]) == {s.site for s in FOOT_SITES}
    assert set(feet["foot"]) == {"L", "R"} and not cohort.scores["site"].str.startswith("mtp").any()


def test_foot_erosion_range_is_0_to_10(ra2):
    edit_scores(ra2, lambda df: df.__setitem__("LF_mtp_E__1", ["8", "11", "1"]))
    found = [str(p) for p in check(ra2) if p.severity == "error"]
    assert len(found) == 1  # 8 is a valid foot erosion grade
    assert "training.csv:3: LF_mtp_E__1: grade 11 out of range 0-10 for foot erosion mtp1" in found[0]


def test_unknown_and_missing_columns_are_named(ra2):
    edit_scores(ra2, lambda df: df.rename(columns={"LH_mcp_E__3": "LH_mcp_E__6", "RF_mtp_J__2": "RF_toe"},
                                          inplace=True))
    found = [str(p) for p in check(ra2)]
    assert any("training.csv:1: LH_mcp_E__6: unknown RA2 column" in line for line in found)
    assert any("training.csv:1: RF_toe: unknown RA2 column" in line for line in found)
    assert any("training.csv:1: LH_mcp_E__3: limb LH has 30 of its 31 site columns; missing: LH_mcp_E__3"
               in line for line in found)


def test_ignored_columns_are_accepted(ra2):
    edit_scores(ra2, lambda df: df.insert(1, "Site", "UAB"))
    assert any("Site: unknown RA2 column" in str(p) for p in check(ra2))
    write_manifest(ra2, **yaml.safe_load(ra2.read_text()), ignore_columns=["Site"])
    assert check(ra2) == []


def test_overall_mismatch_is_a_warning(ra2, capsys):
    edit_scores(ra2, lambda df: df.__setitem__("Overall_Tol", ["0", df.loc[1, "Overall_Tol"], "x"]))
    with pytest.warns(UserWarning, match="2 warning"):
        cohort = load_cohort(ra2)
    found = [str(p) for p in cohort.warnings]
    assert any("training.csv:2: Overall_Tol: warning: 0 differs from the sum of the site columns" in line
               for line in found)
    assert any("training.csv:4: Overall_Tol: warning: not a number ('x')" in line for line in found)
    assert main(["check", str(ra2)]) == 0
    assert "2 warning(s)" in capsys.readouterr().out


def test_missing_patient_column_image_and_blank_grade(ra2):
    (ra2.parent / "ra2" / "jpgs" / "UAB003-RF.jpg").unlink()
    edit_scores(ra2, lambda df: df.__setitem__("RH_pip_J__4", ["1", "", "2"]))
    found = [str(p) for p in check(ra2)]
    assert any("training.csv:4: path: file not found" in line and "UAB003-RF.jpg" in line for line in found)
    assert any("training.csv:3: RH_pip_J__4: grade missing" in line for line in found)
    edit_scores(ra2, lambda df: df.rename(columns={"Patient_ID": "patient"}, inplace=True))
    with pytest.raises(ManifestError, match="training.csv:1: Patient_ID: required column missing"):
        load_cohort(ra2)


def test_ra2_and_native_exports_give_identical_hand_score_tables(ra2):
    """One tiny cohort written both ways (same images, same data root and salt) loads to the same scores."""
    data = ra2.parent / "ra2"
    images, scores = [], []
    for patient in PATIENTS:
        for code, hand, view in (("LH", "L", "left_hand"), ("RH", "R", "right_hand")):
            image_id = f"{patient}-{code}"
            images.append({"image_id": image_id, "path": f"jpgs/{image_id}.jpg", "patient_id": patient,
                           "study_date": "", "view": view, "body_part": "HAND"})
            scores += [{"image_id": image_id, "hand": hand, "kind": kind, "site": site, "grade": grade}
                       for (h, kind, site), grade in grades_for(patient).items() if h == hand]
    pd.DataFrame(images).to_csv(data / "images.csv", index=False)
    pd.DataFrame(scores).sample(frac=1, random_state=0).to_csv(data / "joint_scores.csv", index=False)
    native = write_manifest(ra2.parent / "native.yaml", cohort="tiny-native", format="native", data_root="ra2",
                            tables={"images": "images.csv", "joint_scores": "joint_scores.csv"},
                            folds={"n_folds": 3, "seed": 0})
    from_ra2, from_native = load_cohort(ra2), load_cohort(native)
    key = ["hand_id", "kind", "site"]
    pd.testing.assert_frame_equal(from_ra2.scores.sort_values(key, ignore_index=True),
                                  from_native.scores.sort_values(key, ignore_index=True))
    pd.testing.assert_frame_equal(from_ra2.hands, from_native.hands)
    pd.testing.assert_frame_equal(from_ra2.folds, from_native.folds)
