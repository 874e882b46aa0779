from pathlib import Path

from ra_lib import book


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
