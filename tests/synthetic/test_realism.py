"""Realism settings of the generator (issue 17): display conventions, framing, markers, processing."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ra_lib.cohort.imageio import read_image
from ra_lib.synthetic import ARCHIVE_DISPLAY, generate_cohort, resolve_settings
from ra_lib.synthetic.cohort import plan_cohort
from ra_lib.synthetic.devices import DEVICES
from ra_lib.synthetic.dicom_io import DicomHeader, write_dicom
from ra_lib.synthetic.framing import Collimation, collimate, field_mask
from ra_lib.synthetic.markers import FONT, INITIAL_LETTERS, MarkerStyle, add_marker, marker_size
from ra_lib.synthetic.render import MAX_VALUE, Canvas, vary
from ra_lib.synthetic.scenes import rotate90, thumb_side


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return generate_cohort(tmp_path_factory.mktemp("archive") / "smoke", profile="smoke", seed=5, **ARCHIVE_DISPLAY)


def _upright_points(marks: pd.DataFrame, k: int, shape: tuple[int, int]) -> dict:
    """Landmarks of one image turned back upright (``shape`` = rows, cols of the stored image)."""
    points = {h: {r.landmark: (r.x, r.y) for r in g.itertuples()} for h, g in marks.groupby("hand")}
    dummy = np.zeros(shape)
    return rotate90(dummy, points, -k)[1]


def test_truth_records_rotation_and_display(archive):
    truth = pd.read_csv(archive / "truth_images.csv", keep_default_na=False)
    assert (truth["rotation_ccw_deg"] == 90 * truth["rot90_k"]).all()
    assert set(truth["rot90_k"]) >= {1, 2, 3} and (truth["rot90_k"] > 0).mean() > 0.5
    hands = truth[truth["view"] != "other"]
    assert set(hands["display"]) == {"palmar", "dorsal"}
    single = hands[hands["view"] != "both_hands"]
    assert set(single["thumb_side"]) <= {"left", "right"} and (hands.loc[hands["view"] == "both_hands",
                                                                          "thumb_side"] == "").all()
    for row in single.itertuples():
        assert row.thumb_side == thumb_side("L" if row.view == "left_hand" else "R", row.display == "dorsal")


def test_thumb_side_and_rotation_agree_with_landmarks(archive):
    import pydicom

    truth = pd.read_csv(archive / "truth_images.csv", keep_default_na=False).set_index("image_id")
    images = pd.read_csv(archive / "images.csv").set_index("image_id")
    marks = pd.read_csv(archive / "landmarks.csv")
    for image_id, group in marks.groupby("image_id"):
        row = truth.loc[image_id]
        ds = pydicom.dcmread(archive / images.loc[image_id, "path"], stop_before_pixels=True)
        k = int(row["rot90_k"])
        upright_shape = (ds.Rows, ds.Columns) if k % 2 == 0 else (ds.Columns, ds.Rows)
        turned = np.rot90(np.zeros(upright_shape), k).shape
        assert turned == (ds.Rows, ds.Columns)
        points = _upright_points(group, k, (ds.Rows, ds.Columns))
        for hand, p in points.items():
            assert p["pip3"][1] < p["mcp3"][1] < p["radius"][1], (image_id, hand)  # fingers up once upright
            thumb_right = p["mcp1"][0] > p["mcp5"][0]
            if row["thumb_side"]:
                assert thumb_right == (row["thumb_side"] == "right"), image_id
            else:  # both hands: the thumbs face each other in the middle
                others = [q for h, q in points.items() if h != hand][0]
                assert thumb_right == (p["mcp3"][0] < others["mcp3"][0]), image_id


def test_default_cohort_keeps_one_display_convention():
    settings = resolve_settings("quick")
    assert settings.dorsal_fraction == 0.0 and settings.rotated_fraction < 0.1
    assert settings.grey_background_fraction == 0.0 and ARCHIVE_DISPLAY["grey_background_fraction"] > 0
    with pytest.raises(ValueError, match="dorsal_fraction"):
        resolve_settings("smoke", dorsal_fraction=1.5)
    with pytest.raises(ValueError, match="forearm_mm"):
        resolve_settings("smoke", forearm_mm=(50.0, 20.0))


def test_collimation_borders():
    c = Collimation((5.0, 5.0, -50.0, 10.0), 0.0, "white")
    inside = field_mask((100, 80), 0.5, c)
    assert inside[50, 40] == 1.0 and inside[50, 2] == 0.0 and inside[2, 40] == 1.0 and inside[95, 40] == 0.0
    pixels = np.full((100, 80), 1000, np.uint16)
    assert collimate(pixels, 0.5, c)[50, 2] == MAX_VALUE
    assert collimate(pixels, 0.5, Collimation(c.insets_mm, 2.0, "black"))[50, 2] == 0
    assert collimate(pixels, 0.5, None) is pixels


@pytest.mark.parametrize("style", [MarkerStyle(), MarkerStyle("JGC", cutout=True, dot=True)])
def test_markers_carry_letters_and_initials(style):
    assert set(INITIAL_LETTERS) | {"L", "R"} <= set(FONT) and all(g.shape == (7, 5) for g in FONT.values())
    w, h = marker_size(style)
    canvas = Canvas(int(h / 0.2) + 10, int(w / 0.2) + 10, 0.2, np.random.default_rng(0))
    add_marker(canvas, "L", (1.0, 1.0), style)
    lead = canvas.mu > 1.0
    assert lead.any() and not lead.all()
    rows = np.flatnonzero(lead.any(axis=1))
    assert (rows.max() - rows.min()) * 0.2 > (0.8 * h if style.initials else 0.5 * h)


def test_processing_varies_per_image_deterministically():
    detector = DEVICES[0].detector
    assert vary(detector, np.random.default_rng(1), 0.0) is detector
    a, b = (vary(detector, np.random.default_rng(1), 0.3) for _ in range(2))
    assert a == b and a != detector and 0.4 <= a.gamma <= 1.2


def test_display_window_shows_the_background_black_or_grey(tmp_path):
    pixels = np.full((64, 64), 180, np.uint16)  # direct exposure
    pixels[16:48, 16:48] = np.linspace(900, 3800, 32, dtype=np.uint16)[None, :]  # a hand
    header = _header()
    shown = {}
    for level in (0.0, 0.3):
        write_dicom(tmp_path / f"{level}.dcm", pixels, header, level)
        shown[level] = read_image(tmp_path / f"{level}.dcm")[0]
    assert shown[0.0][2, 2] == 0.0 and shown[0.3][2, 2] == pytest.approx(0.3, abs=0.01)
    assert shown[0.3][30, 47] == pytest.approx(1.0, abs=0.02)  # the densest bone stays white


def test_cohort_draws_grey_backgrounds_for_its_share_of_images(tmp_path):
    jobs = plan_cohort(resolve_settings("quick", grey_background_fraction=0.3), seed=0)
    levels = np.array([job.background_level for job in jobs])
    assert 0.2 < (levels > 0).mean() < 0.4 and levels.max() <= 0.5 and levels[levels > 0].min() >= 0.05
    assert all(job.background_level == 0 for job in plan_cohort(resolve_settings("smoke",
                                                                                 grey_background_fraction=0.0), 0))
    truth = pd.read_csv(generate_cohort(tmp_path / "grey", profile="smoke", seed=0, grey_background_fraction=1.0)
                        / "truth_images.csv")
    assert truth["background_level"].between(0.05, 0.5).all()
    with pytest.raises(ValueError, match="grey_background_level"):
        resolve_settings("smoke", grey_background_level=(0.4, 0.2))


def _header():
    day = dt.date(2020, 1, 1)
    return DicomHeader(0, "IMG1", "DOE^JANE", "MRN1", day, "F", "050Y", day, "120000", "A1", "XR HAND PA", "DX",
                       "MONOCHROME2", "M", "X", "I", "S", "HAND", "PA", "L", 0.5, 45.0)
