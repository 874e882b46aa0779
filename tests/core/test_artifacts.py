import json

import numpy as np
import pandas as pd
import pytest

from ra_lib.core import artifacts


def test_tables_round_trip(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    artifacts.write_table(df, tmp_path / "s" / "t.csv")
    artifacts.write_table(df, tmp_path / "s" / "t.parquet")
    pd.testing.assert_frame_equal(artifacts.read_table("s", "t.csv", root=tmp_path), df)
    pd.testing.assert_frame_equal(artifacts.read_table("s", "t.parquet", root=tmp_path), df)


def test_json_converts_numpy(tmp_path):
    artifacts.write_json({"x": np.float32(1.5), "v": np.arange(3)}, tmp_path / "m.json")
    assert json.loads((tmp_path / "m.json").read_text()) == {"v": [0, 1, 2], "x": 1.5}


def test_json_is_strict(tmp_path):
    artifacts.write_json({"mae": float("nan"), "r": [np.inf, 1.0]}, tmp_path / "m.json")
    assert json.loads((tmp_path / "m.json").read_text()) == {"mae": None, "r": [None, 1.0]}


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError):
        with artifacts.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_missing_artifact_names_stage(tmp_path):
    with pytest.raises(artifacts.MissingArtifactError, match="run stage '03_joint_classification' first"):
        artifacts.read_table("03_joint_classification", "oof_predictions.csv", root=tmp_path)


def test_array_round_trip(tmp_path):
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(np.load(artifacts.write_array(arr, tmp_path / "a.npy")), arr)
