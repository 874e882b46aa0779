from pathlib import Path

from ra_lib.core import runner as book


def test_discover_stages_in_order():
    stages = book.discover_stages()
    assert stages == sorted(stages)
    assert all(Path(book.BOOK_DIR / f"{s}.py").exists() for s in stages)


def test_stage_params_scoping():
    params = {"seed": 1, "03_joint_classification:epochs": 4, "04_joint_grading:epochs": 9}
    assert book._stage_params(params, "03_joint_classification") == {"seed": 1, "epochs": 4}
    assert book._stage_params(params, "01_image_selection") == {"seed": 1}


def test_stage_key_changes_with_inputs(tmp_path, monkeypatch):
    monkeypatch.setattr(book, "BOOK_DIR", tmp_path)
    (tmp_path / "01_x.py").write_text("# %%\nprint(1)\n")
    upstream = tmp_path / "artifacts" / "00_y"
    upstream.mkdir(parents=True)
    (upstream / "t.csv").write_text("a\n1\n")
    base = book.stage_key("01_x", {"profile": "smoke"}, "c", [upstream], "lib")
    assert base == book.stage_key("01_x", {"profile": "smoke"}, "c", [upstream], "lib")
    assert base != book.stage_key("01_x", {"profile": "quick"}, "c", [upstream], "lib")
    assert base != book.stage_key("01_x", {"profile": "smoke"}, "c", [upstream], "lib2")
    (upstream / "t.csv").write_text("a\n2\n")
    assert base != book.stage_key("01_x", {"profile": "smoke"}, "c", [upstream], "lib")
    (upstream / book.KEY_FILE).write_text("ignored")
    changed = book.stage_key("01_x", {"profile": "smoke"}, "c", [upstream], "lib")
    (upstream / book.KEY_FILE).write_text("other")
    assert changed == book.stage_key("01_x", {"profile": "smoke"}, "c", [upstream], "lib")


def test_parse_param_yaml_values():
    assert book._parse_param("03_joint_classification:epochs=4") == ("03_joint_classification:epochs", 4)
    assert book._parse_param("device=cpu") == ("device", "cpu")


STAGE_OK = '''# %% tags=["parameters"]
artifacts = "x"
profile = "smoke"
manifest = "m"

# %%
from pathlib import Path
Path(artifacts, "00_write").mkdir(parents=True, exist_ok=True)
Path(artifacts, "00_write", "table.csv").write_text("a\\n1\\n")
'''
STAGE_FAILS = '''# %% tags=["parameters"]
artifacts = "x"

# %%
x = 1

# %%
raise ValueError("grades out of range")
'''


def test_runner_caches_and_reports_failures(tmp_path, monkeypatch, capsys):
    """Two tiny stages through papermill: the failure names stage, cell and error; the good stage stays cached."""
    import pytest

    book_dir = tmp_path / "book"
    book_dir.mkdir()
    (book_dir / "00_write.py").write_text(STAGE_OK)
    (book_dir / "01_fail.py").write_text(STAGE_FAILS)
    monkeypatch.setattr(book, "BOOK_DIR", book_dir)
    monkeypatch.setattr(book, "prepare_cohort", lambda manifest: "cohort")
    monkeypatch.setattr(book, "ra_lib_fingerprint", lambda: "library")  # others may edit ra_lib meanwhile
    build = tmp_path / "build"
    with pytest.raises(book.StageFailed, match=r"stage 01_fail failed in cell \[4\] \(raise ValueError.*\): ValueError: grades out of range"):
        book.run("smoke", "data_manifests/synthetic_smoke.yaml", build_dir=str(build), render_html=False)
    assert (build / "executed" / "00_write.ipynb").exists()
    assert not (build / "executed" / "01_fail.ipynb").exists()
    assert (build / "artifacts" / "00_write" / "table.csv").read_text() == "a\n1\n"
    again = book.run("smoke", "data_manifests/synthetic_smoke.yaml", stages=["00_write"], build_dir=str(build),
                     render_html=False)
    assert [r.status for r in again] == ["cached"]
    assert "unchanged, cached" in capsys.readouterr().out
