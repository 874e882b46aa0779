"""``python -m ra_lib.score``: a build folder's bundles, folders of inputs, clear errors."""
import pandas as pd

from ra_lib import score


def test_scores_a_folder_with_a_build_folder(artifacts, png_folder, tmp_path, capsys):
    code = score.main(["--models", str(artifacts.parent), "--out", str(tmp_path / "out"), "--workers", "0",
                       "--no-progress", str(png_folder)])
    assert code == 0
    assert "7 image(s)" in capsys.readouterr().out
    assert len(pd.read_csv(tmp_path / "out" / "images.csv")) == 7


def test_missing_input_is_an_error_naming_it(artifacts, tmp_path, capsys):
    code = score.main(["--models", str(artifacts), "--out", str(tmp_path / "out"), str(tmp_path / "nowhere")])
    assert code == 2
    assert "nowhere" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_unusable_salt_file_is_an_error_naming_it(artifacts, png_folder, tmp_path, capsys):
    (tmp_path / "a_file").write_text("")
    code = score.main(["--models", str(artifacts), "--out", str(tmp_path / "out"), "--workers", "0",
                       "--salt-file", str(tmp_path / "a_file" / "salt"), str(png_folder)])
    assert code == 2
    assert "salt file unusable" in capsys.readouterr().err
