"""A cohort turned upright by an orientation table: pixels, landmarks, sizes and hand splits in the upright frame."""
import numpy as np
import pandas as pd
import pytest

from fixtures.builders import write_manifest
from ra_lib.cohort import load_cohort
from ra_lib.cohort.upright import upright_cohort
from ra_lib.core.errors import RaDataError
from ra_lib.synthetic import generate_cohort

WRIST = ("radius", "ulna", "lunate", "scaphoid")
FINGER_JOINTS = ("pip2", "pip3", "pip4", "pip5")


@pytest.fixture(scope="module")
def turned_both_hands(tmp_path_factory):
    """A synthetic cohort of both-hands images, every one stored turned (truth ``rot90_k`` 3, 2, 1, 1)."""
    root = tmp_path_factory.mktemp("turned")
    data = generate_cohort(root / "data", profile="smoke", seed=0, n_patients=3, n_visits=4,
                           visit_patterns={"both_hands": 1.0}, other_fraction=0.0, rotated_fraction=1.0)
    manifest = write_manifest(root / "manifest.yaml", cohort="turned", format="native", data_root="data",
                              tables={"images": "images.csv", "joint_scores": "joint_scores.csv",
                                      "landmarks": "landmarks.csv"}, folds={"n_folds": 3, "seed": 0})
    truth = pd.read_csv(data / "truth_images.csv", dtype={"image_id": str})[["image_id", "rot90_k"]]
    assert set(truth["rot90_k"]) == {1, 2, 3}
    return load_cohort(manifest), truth


def test_turned_both_hands_images_split_upright_into_their_hands(turned_both_hands):
    stored, truth = turned_both_hands
    upright = upright_cohort(stored, truth, "truth_images.csv")
    sizes = upright.images.set_index("image_id")
    for image_id, k in zip(truth["image_id"], truth["rot90_k"]):
        image = upright.load_image(image_id)
        np.testing.assert_array_equal(image, np.rot90(stored.load_image(image_id), -k))
        assert image.shape == (sizes.loc[image_id, "height"], sizes.loc[image_id, "width"])
        points = upright.landmarks[upright.landmarks["image_id"] == image_id].set_index(["hand", "landmark"])
        for hand in upright.hands[upright.hands["image_id"] == image_id].itertuples():
            mine = points.loc[hand.hand]
            assert ((mine["x"] >= hand.x0) & (mine["x"] < hand.x1)).all(), (image_id, hand.hand)
            assert ((mine["y"] >= 0) & (mine["y"] < image.shape[0])).all()
            assert mine.loc[list(FINGER_JOINTS), "y"].max() < mine.loc[list(WRIST), "y"].min()  # fingers up
        assert upright.hands.set_index("hand_id").loc[f"{image_id}:R", "x0"] == 0  # PA: right hand on the left


def test_stored_quarter_turned_images_split_wrongly(turned_both_hands):
    stored, truth = turned_both_hands
    quarter = truth.loc[truth["rot90_k"] % 2 == 1, "image_id"].iloc[0]
    hand = stored.hands.set_index("hand_id").loc[f"{quarter}:R"]
    xs = stored.landmarks.loc[stored.landmarks["hand_id"] == f"{quarter}:R", "x"]
    assert not ((xs >= hand["x0"]) & (xs < hand["x1"])).all()


def test_a_one_hand_image_turned_a_quarter_swaps_its_size_and_moves_its_landmarks(native):
    stored = load_cohort(native)
    image_id = "PAT000-LH"  # 64 x 64 pixels, thumb IP labelled at x=18, y=10
    upright = upright_cohort(stored, pd.DataFrame({"image_id": [image_id], "rot90_k": [3]}))
    ip = upright.landmarks.set_index(["hand_id", "landmark"]).loc[(f"{image_id}:L", "ip")]
    assert (ip["x"], ip["y"]) == (10.0, 63.0 - 18.0)  # turned back one quarter turn counter-clockwise
    wide = upright_cohort(load_cohort(native), pd.DataFrame({"image_id": ["PAT000-BH"], "rot90_k": [1]}))
    size = wide.images.set_index("image_id").loc["PAT000-BH", ["width", "height"]]
    assert tuple(size) == (64, 96) and wide.load_image("PAT000-BH").shape == (96, 64)


def test_images_without_a_row_or_turn_stay_as_they_are(native):
    stored = load_cohort(native)
    upright = upright_cohort(stored, pd.DataFrame({"image_id": ["PAT000-BH", "PAT001-RH"], "rot90_k": [2, 0]}))
    kept = lambda table: table[table["image_id"] != "PAT000-BH"].reset_index(drop=True)  # noqa: E731
    for name in ("images", "hands", "landmarks"):
        pd.testing.assert_frame_equal(kept(getattr(upright, name)), kept(getattr(stored, name)))
    assert list(upright.hands["hand_id"]) == list(stored.hands["hand_id"])
    np.testing.assert_array_equal(upright.load_image("PAT001-RH"), stored.load_image("PAT001-RH"))
    assert upright.quarter_turns == {"PAT000-BH": 2}
    assert upright_cohort(stored, pd.DataFrame({"image_id": ["PAT001-RH"], "rot90_k": [0]})) is stored


def test_a_bad_orientation_table_names_its_file_and_lines(native):
    stored = load_cohort(native)
    table = pd.DataFrame({"image_id": ["PAT000-LH", "nobody", "PAT001-LH", "PAT002-LH", "PAT000-LH"],
                          "rot90_k": [1, 0, 4, "x", 1]})
    with pytest.raises(RaDataError) as error:
        upright_cohort(stored, table, "build/orientation.csv")
    message = str(error.value)
    assert message.startswith("build/orientation.csv: bad orientation table, 4 problem(s)")
    for expected in ("line 3: image 'nobody' is not in the cohort", "line 4: rot90_k '4'", "line 5: rot90_k 'x'",
                     "line 6: image 'PAT000-LH' is listed again (first on line 2)"):
        assert expected in message
    with pytest.raises(RaDataError, match="orientation.csv: orientation table without column"):
        upright_cohort(stored, table.rename(columns={"rot90_k": "turns"}), "orientation.csv")
