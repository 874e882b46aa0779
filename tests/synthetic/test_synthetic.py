"""Synthetic cohort generator: determinism, damage rendering, landmarks, grade model, exports."""
from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
import pydicom
import pytest

from ra_lib.cohort.schema import IMAGE_COLUMNS, LANDMARK_COLUMNS, READER_COLUMNS, SCORE_COLUMNS, VIEWS
from ra_lib.cohort.sites import EROSION, GROUPS, HAND_LANDMARKS, JSN, hand_sites
from ra_lib.synthetic import export_ra2, generate_cohort, joint_grade_gallery, resolve_settings
from ra_lib.synthetic.cohort import plan_cohort
from ra_lib.synthetic.export import ra2_columns
from ra_lib.synthetic.gallery import render_joint
from ra_lib.synthetic.grades import (SITES, GradeParams, eroded_percent, expected_lr_agreement, grades_at,
                                     sample_disease)
from ra_lib.synthetic.render import Canvas
from ra_lib.synthetic.scenes import HandView, draw_hands, place_hands, rotate90
from ra_lib.synthetic.shapes import Similarity
from ra_lib.synthetic.skeleton import BONE_LANDMARKS, JSN_GAP_FACTOR, NORMAL_GAP, HandState

BONE_MM = 0.2  # bone mask threshold: path length through bone (mm)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    return generate_cohort(tmp_path_factory.mktemp("cohort") / "smoke", profile="smoke", seed=3)


def _digests(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(smoke, tmp_path):
    again = generate_cohort(tmp_path / "again", profile="smoke", seed=3)
    assert _digests(again) == _digests(smoke)
    other = generate_cohort(tmp_path / "other", profile="smoke", seed=4)
    assert _digests(other)["images.csv"] != _digests(smoke)["images.csv"]


def test_complete_cohort_is_not_regenerated(smoke):
    before = (smoke / "images.csv").stat().st_mtime_ns
    assert generate_cohort(smoke, profile="smoke", seed=3) == smoke
    assert (smoke / "images.csv").stat().st_mtime_ns == before
    assert not [p for p in smoke.parent.iterdir() if p.name.startswith(".")]


def test_tables_follow_the_schema(smoke):
    images = pd.read_csv(smoke / "images.csv", keep_default_na=False)
    assert tuple(images.columns) == (*IMAGE_COLUMNS, "body_part")
    assert set(images["view"]) == set(VIEWS)
    assert images["patient_id"].str.fullmatch(r"MRN\d{7}").all()
    scores = pd.read_csv(smoke / "joint_scores.csv")
    assert tuple(scores.columns) == (*SCORE_COLUMNS, "eroded_pct")
    hands = images[images["view"] != "other"]
    assert len(scores) == sum(len(v) for v in hands["view"].map({"both_hands": "LR", "left_hand": "L",
                                                                  "right_hand": "R"})) * len(SITES)
    ero = scores[scores["kind"] == EROSION]
    assert ero["eroded_pct"].notna().all() and scores.loc[scores["kind"] == JSN, "eroded_pct"].isna().all()
    assert ((ero["grade"] == 0) == (ero["eroded_pct"] == 0)).all()
    assert (ero["eroded_pct"] > (ero["grade"] - 1) * 20).all() and (ero["eroded_pct"] <= ero["grade"] * 20).all()
    marks = pd.read_csv(smoke / "landmarks.csv")
    assert tuple(marks.columns) == LANDMARK_COLUMNS
    per_hand = marks.groupby(["image_id", "hand"])["landmark"].apply(set)
    assert all(s == set(HAND_LANDMARKS) for s in per_hand) and len(per_hand) == len(scores) // len(SITES)
    readers = pd.read_csv(smoke / "readers.csv")
    assert tuple(readers.columns) == READER_COLUMNS
    assert set(readers["reader_id"]) == {"sim_reader_1", "sim_reader_2", "sim_reader_3"}
    assert len(readers) == 3 * len(scores)
    truth = pd.read_csv(smoke / "truth_images.csv")
    assert set(truth["photometric"]) == {"MONOCHROME1", "MONOCHROME2"}
    assert truth["rotated_90"].any()
    assert set(truth.loc[truth["view"] == "other", "body_part_truth"]) >= {"chest", "foot", "knee", "pelvis",
                                                                            "spine", "shoulder"}


def test_landmarks_inside_image_and_rotation_bookkeeping(smoke):
    images = pd.read_csv(smoke / "images.csv").set_index("image_id")
    marks = pd.read_csv(smoke / "landmarks.csv")
    for image_id, group in marks.groupby("image_id"):
        ds = pydicom.dcmread(smoke / images.loc[image_id, "path"], stop_before_pixels=True)
        assert group["x"].between(0, ds.Columns - 1).all() and group["y"].between(0, ds.Rows - 1).all()
    image = np.zeros((5, 8))
    image[1, 6] = 1
    for k in range(4):
        turned, points = rotate90(image, {"R": {"p": (6.0, 1.0)}}, k)
        x, y = points["R"]["p"]
        assert turned[int(y), int(x)] == 1


def test_dicom_looks_like_a_hospital_export(smoke):
    images = pd.read_csv(smoke / "images.csv", keep_default_na=False)
    for row in images.itertuples():
        ds = pydicom.dcmread(smoke / row.path)
        assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
        assert ds.SOPClassUID in ("1.2.840.10008.5.1.4.1.1.1", "1.2.840.10008.5.1.4.1.1.1.1")
        assert ds.BitsStored == 12 and ds.pixel_array.max() <= 4095
        assert ds.PatientID == row.patient_id and "^" in str(ds.PatientName) and len(ds.PatientBirthDate) == 8
        assert ds.BodyPartExamined == row.body_part
        assert ds.StudyDate == row.study_date.replace("-", "")
        assert float(ds.PixelSpacing[0]) > 0 and ds.WindowWidth > 0 and ds.RescaleSlope == 1
        if row.view in ("left_hand", "right_hand"):
            assert ds.ImageLaterality == row.view[0].upper() and ds.ViewPosition == "PA"


def _bone(crop, dx_mm: float, dy_mm: float, pixel_mm: float) -> bool:
    x, y = crop.landmark
    return bool(crop.bone_mm[int(round(y + dy_mm / pixel_mm)), int(round(x + dx_mm / pixel_mm))] > BONE_MM)


def _measured_gap(crop, pixel_mm: float) -> float:
    """Joint-space width on the bone mask along the joint axis through the landmark (mm)."""
    if _bone(crop, 0, 0, pixel_mm):
        return 0.0
    ux, uy = math.cos(crop.axis), math.sin(crop.axis)
    step = pixel_mm / 4
    ends = []
    for sign in (1, -1):
        t = 0.0
        while not _bone(crop, sign * t * ux, sign * t * uy, pixel_mm):
            t += step
        ends.append(t)
    return sum(ends)


@pytest.mark.parametrize("site", ["mcp2", "pip4", "radiocarpal", "capitate_scaphoid_lunate", "cmc4"])
def test_joint_space_width_falls_with_jsn_grade(site):
    px = 0.05
    widths = [_measured_gap(render_joint(JSN, site, g, pixel_mm=px, half_mm=4.0), px) for g in range(5)]
    assert all(a > b for a, b in zip(widths, widths[1:4])), widths
    assert widths[4] == 0.0  # ankylosis: the gap is bridged
    nominal = [NORMAL_GAP[site] * f for f in JSN_GAP_FACTOR[:4]]
    assert np.allclose(widths[:4], nominal, atol=0.25), (widths, nominal)


@pytest.mark.parametrize("site", ["mcp3", "ip", "mc1", "scaphoid", "radius", "ulna"])
def test_erosion_defect_area_rises_with_grade(site):
    px = 0.2
    bone = [render_joint(EROSION, site, g, pixel_mm=px, half_mm=20.0).bone_mm for g in range(6)]
    missing = [np.count_nonzero(bone[0] - b > 0.5) * px * px for b in bone]  # mm^2 losing > 0.5 mm of bone
    assert missing[0] == 0 and all(a < b for a, b in zip(missing, missing[1:])), missing
    assert missing[1] < 0.2 * missing[5]  # grade 1 is subtle


def test_gallery_has_every_grade():
    gallery = joint_grade_gallery(JSN, seed=1, pixel_mm=0.2)
    assert sorted(gallery) == [0, 1, 2, 3, 4]
    assert all(v.dtype == np.float32 and v.shape == gallery[0].shape for v in gallery.values())
    assert all(0.0 <= v.min() and v.max() <= 1.0 for v in gallery.values())


def test_every_landmark_on_bone_or_in_its_joint_space():
    jobs = [j for j in plan_cohort(resolve_settings("smoke"), 0) if j.anatomy is not None][:3]
    px, half = 0.1, 4.0
    for job in jobs:
        for hand, state in job.states.items():
            # Erosion bites may remove the bone next to a joint landmark; the geometry check uses the
            # same hand and narrowing without erosions.
            state = HandState({}, state.jsn, {}, {})
            model = place_hands(job.anatomy, {"R": state}, HandView(("R",), (0.0,)), px)[0]["R"]
            for name in HAND_LANDMARKS:
                x, y = model.landmarks[name]
                local = model.moved(Similarity(offset=(half - x, half - y)))
                canvas = Canvas(int(2 * half / px), int(2 * half / px), px, np.random.default_rng(0))
                draw_hands(canvas, {"R": local})

                def bone(t, angle=0.0):
                    i = round((half + t * math.sin(angle)) / px - 0.5)
                    j = round((half + t * math.cos(angle)) / px - 0.5)
                    return canvas.bone[i, j] > BONE_MM

                gap = local.joint_gaps.get(name)
                if name in BONE_LANDMARKS or gap <= 0:
                    assert bone(0.0), (job.image_id, hand, name)
                else:
                    axis, reach = local.joint_axes[name], np.linspace(0, gap / 2 + 2 * px, 12)
                    assert not bone(0.0), (job.image_id, hand, name)
                    assert any(bone(t, axis) for t in reach) and any(bone(-t, axis) for t in reach), (hand, name)


@pytest.fixture(scope="module")
def sampled():
    params = GradeParams()
    n = 4000
    disease = sample_disease(n, params, np.random.default_rng(11))
    return params, disease, grades_at(disease, np.arange(n), np.zeros(n), params)


def test_grade_marginals_match_parameters(sampled):
    params, _, grades = sampled
    for kind in (EROSION, JSN):
        for group in GROUPS[kind]:
            cols = [i for i, s in enumerate(SITES) if s.kind == kind and s.group == group]
            rate = float((grades[:, :, cols] > 0).mean())
            assert abs(rate - params.rate(SITES[cols[0]])) < 0.02, (kind, group, rate)
        cols = [i for i, s in enumerate(SITES) if s.kind == kind]
        assert abs(float((grades[:, :, cols] > 0).mean()) - {EROSION: 0.24, JSN: 0.41}[kind]) < 0.02
    assert (grades <= np.array([s.max_grade for s in SITES])).all()


def test_left_right_agreement_matches_model_and_is_strongest_at_the_wrist(sampled):
    params, _, grades = sampled
    non_intact = grades > 0
    agreement = {}
    for i, s in enumerate(SITES):
        agreement[i] = float((non_intact[:, 0, i] == non_intact[:, 1, i]).mean())
        assert abs(agreement[i] - expected_lr_agreement(params, s)) < 0.03, (s.kind, s.site)
    wrist = [agreement[i] - expected_lr_agreement(params, s) for i, s in enumerate(SITES) if s.group == "wrist"]
    assert len(wrist) == 7
    rho = {s.group == "wrist": params.latent_correlation(s) for s in SITES}
    assert rho[True] > rho[False]
    # within-group correlation: two sites of a group agree more often than sites of different groups
    mcp2, mcp3, pip2 = (next(i for i, s in enumerate(SITES) if s.kind == EROSION and s.site == n)
                        for n in ("mcp2", "mcp3", "pip2"))
    same = np.corrcoef(non_intact[:, 0, mcp2], non_intact[:, 0, mcp3])[0, 1]
    cross = np.corrcoef(non_intact[:, 0, mcp2], non_intact[:, 0, pip2])[0, 1]
    assert same > cross


def test_damage_never_decreases_between_visits(sampled):
    params, disease, _ = sampled
    patients = np.repeat(np.arange(500), 3)
    years = np.tile([0.0, 1.0, 3.0], 500)
    grades = grades_at(disease, patients, years, params).reshape(500, 3, 2, len(SITES))
    assert (np.diff(grades, axis=1) >= 0).all() and (np.diff(grades, axis=1) > 0).any()
    pct = eroded_percent(grades[..., :16], np.repeat(disease.surface_u[:500, None], 3, axis=1))
    assert (np.diff(pct, axis=1) >= 0).all()


def test_ra2_export(smoke, tmp_path):
    out = export_ra2(smoke, tmp_path / "ra2")
    table = pd.read_csv(out / "training.csv")
    assert list(table.columns) == ra2_columns()
    assert {"LH_mcp_E__ip", "RH_wrist_J__capnlun"} <= set(table.columns)
    assert len(table) == table["Patient_ID"].nunique() > 0
    assert (table["Overall_Tol"] == table["Overall_erosion"] + table["Overall_narrowing"]).all()
    assert table.filter(like="_E__").sum(axis=1).eq(table["Overall_erosion"]).all()
    for pid in table["Patient_ID"]:
        assert (out / f"{pid}-LH.jpg").is_file() and (out / f"{pid}-RH.jpg").is_file()


def test_foreign_folder_is_not_replaced(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="no generator.json"):
        generate_cohort(tmp_path, profile="smoke")
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="unknown profile"):
        resolve_settings("huge")
    with pytest.raises(ValueError, match="unknown generator setting"):
        resolve_settings("smoke", n_patient=3)
    with pytest.raises(ValueError, match="rates"):
        resolve_settings("smoke", erosion_rates={"MCP": 0.2})
    assert resolve_settings("smoke", var_joint=0.1).grades.var_joint == 0.1
    assert len(hand_sites()) == len(SITES)
