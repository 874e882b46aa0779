"""A folder of DICOM files: image table from tags, view inference and override, scores by SOPInstanceUID."""
import shutil

import numpy as np
import pandas as pd
import pytest

from fixtures.builders import GAP, grades_for, hand_array, write_dicom, write_manifest, write_png
from ra_lib.cohort.adapters.dicom_folder import infer_view
from ra_lib.cohort import check, load_cohort

pytestmark = pytest.mark.filterwarnings("ignore:cohort 'pacs' loaded with 1 warning")


@pytest.mark.parametrize("tags, view, doubtful", [
    ({"body_part": "HAND", "image_laterality": "L", "view_position": "PA"}, "left_hand", False),
    ({"body_part": "hand", "image_laterality": "R", "view_position": ""}, "right_hand", False),
    ({"body_part": "HANDS", "laterality": "B", "view_position": "AP"}, "both_hands", False),
    ({"body_part": "HAND", "image_laterality": "", "laterality": "R"}, "right_hand", False),
    ({"body_part": "EXTREMITY", "image_laterality": "L"}, "other", False),
    ({"body_part": "FOOT", "image_laterality": "L"}, "other", False),
    ({"body_part": "HAND", "image_laterality": "L", "view_position": "LL"}, "other", False),
    ({"body_part": "HAND", "image_laterality": ""}, "other", True),
])
def test_view_inference_rule(tags, view, doubtful):
    inferred, reason = infer_view(tags)
    assert inferred == view and (reason is not None) == doubtful


@pytest.fixture
def folder(tmp_path):
    """Three patients: a left and right hand each in series folders (files all named IM0001), a both-hands image,
    a foot, and a hand without laterality. Scores are keyed by SOPInstanceUID."""
    dicoms = tmp_path / "data" / "dicoms"
    uids = {}
    for patient in ("MRN-1", "MRN-2", "MRN-3"):
        for series, laterality in (("s1", "L"), ("s2", "R")):
            uids[(patient, laterality)] = write_dicom(dicoms / patient / series / "IM0001", hand_array(),
                                                      patient_id=patient, laterality=laterality)
    uids["both"] = write_dicom(dicoms / "MRN-1" / "s3" / "IM0001", hand_array(both=True), patient_id="MRN-1",
                               laterality="B")
    uids["foot"] = write_dicom(dicoms / "MRN-2" / "s3" / "IM0001", hand_array(), patient_id="MRN-2",
                               body_part="FOOT", laterality="L")
    uids["unlabelled"] = write_dicom(dicoms / "MRN-2" / "s4" / "IM0001", hand_array(), patient_id="MRN-2",
                                     laterality="")
    (dicoms / "DICOMDIR").write_bytes(b"index")
    (dicoms / ".DS_Store").write_bytes(b"finder")
    rows = []
    for patient in ("MRN-1", "MRN-2", "MRN-3"):
        for hand in "LR":
            rows += [{"image_id": uids[(patient, hand)], "hand": hand, "kind": kind, "site": site, "grade": grade}
                     for (h, kind, site), grade in grades_for(patient).items() if h == hand]
    pd.DataFrame(rows).to_csv(tmp_path / "data" / "scores.csv", index=False)
    manifest = write_manifest(tmp_path / "pacs.yaml", cohort="pacs", format="dicom_folder", data_root="data",
                              tables={"dicom_dir": "dicoms", "joint_scores": "scores.csv"},
                              folds={"n_folds": 3, "seed": 0})
    return manifest, uids


def test_image_table_built_from_tags(folder):
    manifest, uids = folder
    cohort = load_cohort(manifest)
    images = cohort.images.set_index("image_id")
    assert len(images) == 9 and images.index.is_unique  # same file name in every series, distinct UIDs
    assert images.loc[uids[("MRN-1", "L")], "view"] == "left_hand"
    assert images.loc[uids[("MRN-2", "R")], "view"] == "right_hand"
    assert images.loc[uids["both"], "view"] == "both_hands"
    assert images.loc[uids["foot"], "view"] == "other" and images.loc[uids["foot"], "body_part"] == "FOOT"
    assert images.loc[uids[("MRN-1", "L")], "path"] == "dicoms/MRN-1/s1/IM0001"
    assert images.loc[uids[("MRN-1", "L")], "study_date"] == "2020-01-02"
    assert images["patient"].str.fullmatch(r"P-[0-9a-f]{10}").all() and images["patient"].nunique() == 3
    assert "MRN-1" not in cohort.images.drop(columns="path").to_csv() + cohort.folds.to_csv()  # paths are as given


def test_scores_join_by_sop_instance_uid(folder):
    manifest, uids = folder
    cohort = load_cohort(manifest)
    assert len(cohort.scores) == 6 * 31
    grades = grades_for("MRN-2")
    row = cohort.scores[(cohort.scores["image_id"] == uids[("MRN-2", "L")]) & (cohort.scores["site"] == "mcp3")]
    assert dict(zip(row["kind"], row["grade"])) == {"erosion": grades[("L", "erosion", "mcp3")],
                                                    "jsn": grades[("L", "jsn", "mcp3")]}
    hands = cohort.hands.set_index("hand_id")
    split = hands.loc[f"{uids['both']}:R", "x1"]
    assert GAP - 4 <= split < GAP + 4  # no landmarks: darkest column


def test_hand_without_laterality_warns_and_views_table_overrides(folder):
    manifest, uids = folder
    warning = [str(p) for p in check(manifest)]
    assert len(warning) == 1 and "s4/IM0001: view: warning: body part HAND but laterality blank" in warning[0]
    data = manifest.parent / "data"
    pd.DataFrame({"image_id": [uids["unlabelled"], "1.2.3.404"], "view": ["right_hand", "right_hand"]}).to_csv(
        data / "views.csv", index=False)
    manifest.write_text(manifest.read_text().replace("joint_scores: scores.csv", "joint_scores: scores.csv\n"
                                                                                 "  views: views.csv"))
    found = [str(p) for p in check(manifest) if p.severity == "error"]
    assert len(found) == 1 and "views.csv:3: image_id: image '1.2.3.404' is not in the DICOM folder" in found[0]
    pd.DataFrame({"image_id": [uids["unlabelled"]], "view": ["right_hand"]}).to_csv(data / "views.csv", index=False)
    cohort = load_cohort(manifest)
    assert cohort.images.set_index("image_id").loc[uids["unlabelled"], "view"] == "right_hand"


def test_non_dicom_files_unknown_uids_and_duplicates_are_named(folder):
    manifest, uids = folder
    data = manifest.parent / "data"
    write_png(data / "dicoms" / "MRN-1" / "s1" / "screenshot.png", np.zeros((4, 4), np.uint8))
    shutil.copy(data / "dicoms" / "MRN-1" / "s1" / "IM0001", data / "dicoms" / "MRN-1" / "s1" / "IM0001-copy")
    scores = pd.read_csv(data / "scores.csv", dtype=str)
    scores.loc[0, "image_id"] = "1.2.3.404"
    scores.to_csv(data / "scores.csv", index=False)
    found = [str(p) for p in check(manifest) if p.severity == "error"]
    assert any("s1/screenshot.png: not a DICOM file (png)" in line for line in found)
    assert any("s1/IM0001-copy: image_id: duplicate image_id" in line and "s1/IM0001)" in line for line in found)
    assert any("scores.csv:2: image_id: image '1.2.3.404' is not in the images table" in line for line in found)


def test_missing_dicom_folder(folder):
    manifest, _ = folder
    shutil.rmtree(manifest.parent / "data" / "dicoms")
    assert any("dicoms: dicom_dir: DICOM folder not found" in str(p) for p in check(manifest))
