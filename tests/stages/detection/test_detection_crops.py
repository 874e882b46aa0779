from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ra_lib.core import artifacts, contracts
from ra_lib.stages.detection import crops, read_crop_store
from ra_lib.cohort import sites


def _fake_cohort():
    image = np.zeros((200, 300), np.float32)
    image[90:110, 140:150] = 1.0  # a bright block right of centre at (x=145, y=100)
    hands = pd.DataFrame({"hand_id": ["img1:L", "img1:R"], "image_id": ["img1", "img1"],
                          "patient": ["P-1", "P-1"], "hand": ["L", "R"], "x0": [150, 0], "x1": [300, 150]})
    scores = pd.DataFrame([{"hand_id": h, "kind": s.kind, "site": s.site, "grade": 1}
                           for h in hands.hand_id for s in sites.HAND_SITES])
    return SimpleNamespace(hands=hands, scores=scores, load_image=lambda image_id: image)


def _centres():
    rows = []
    for hand_id in ("img1:L", "img1:R"):
        for i, landmark in enumerate(sites.HAND_LANDMARKS):
            rows.append({"hand_id": hand_id, "landmark": landmark, "x": 145.0, "y": 100.0, "likelihood": 0.9})
        # proximal phalanges 40 px long
        for finger in range(2, 6):
            rows.append({"hand_id": hand_id, "landmark": f"pip{finger}", "x": 145.0, "y": 60.0, "likelihood": 0.9})
    df = pd.DataFrame(rows).drop_duplicates(["hand_id", "landmark"], keep="last")
    df.loc[(df.hand_id == "img1:R") & (df.landmark == "ulna"), "likelihood"] = 0.1
    df.loc[(df.hand_id == "img1:R") & (df.landmark == "lunate"), "x"] = 1000.0
    return df


def test_build_and_load_round_trip(tmp_path):
    store = crops.build_crop_store(_fake_cohort(), _centres(), tmp_path, crop_size=16)
    loaded = crops.load_crop_store(tmp_path)
    assert loaded.images.shape == (44, 16, 16)
    assert len(loaded.index) == 2 * len(sites.HAND_SITES)
    np.testing.assert_allclose(loaded.images, store.images, atol=1e-3)
    # MCP crops are shared by erosion and JSN
    mcp = loaded.index[(loaded.index.hand_id == "img1:R") & (loaded.index.site == "mcp2")]
    assert mcp.crop_idx.nunique() == 1 and set(mcp.kind) == {"erosion", "jsn"}
    flagged = set(loaded.index[loaded.index.flagged].site)
    assert flagged == {"ulna", "lunate"}
    assert len(loaded.usable()) == len(loaded.index) - 2


def test_ground_truth_landmark_table_works_as_centres(tmp_path):
    """cohort.landmarks carries image_id and hand too; they must not clash with the cohort's hands."""
    centres = _centres().assign(image_id="img1", hand=lambda d: d.hand_id.str[-1]).drop(columns="likelihood")
    store = crops.build_crop_store(_fake_cohort(), centres, tmp_path, crop_size=8)
    assert store.index["likelihood"].eq(1.0).all() and set(store.index["hand"]) == {"L", "R"}


def test_left_hands_are_mirrored_crops(tmp_path):
    """The left hand's crop at a point is the right hand's crop there, flipped left-right."""
    centres = pd.DataFrame({"hand_id": ["img1:L", "img1:R"], "landmark": "mcp2", "x": 120.0, "y": 100.0,
                            "likelihood": 0.9})  # the bright block lies right of this centre
    store = crops.build_crop_store(_fake_cohort(), centres, tmp_path, crop_size=50)  # 5 px a sample
    by_hand = dict(zip(store.index.hand_id, store.index.crop_idx))
    right, left = store.images[by_hand["img1:R"]], store.images[by_hand["img1:L"]]
    assert right[:, 25:].mean() > 0 == right[:, :25].max()
    np.testing.assert_array_equal(left, right[:, ::-1])


def test_store_keeps_its_file_format(tmp_path):
    crops.build_crop_store(_fake_cohort(), _centres(), tmp_path, crop_size=8)
    assert np.load(tmp_path / "crops.npy").dtype == np.float16
    assert list(pd.read_csv(tmp_path / "crops.csv").columns) == list(crops.INDEX_COLUMNS)


def test_read_crop_store_finds_stage_2_under_the_artifacts_root(tmp_path):
    crops.build_crop_store(_fake_cohort(), _centres(), tmp_path / contracts.DETECTION, crop_size=8)
    assert read_crop_store(tmp_path).images.shape == (44, 8, 8)


def test_missing_store_names_stage(tmp_path):
    with pytest.raises(artifacts.MissingArtifactError, match=contracts.DETECTION):
        read_crop_store(tmp_path)
