"""``python -m ra_lib.cohort check``: one problem per line, exit status, never a traceback."""
import os
import subprocess
import sys
from pathlib import Path

from ra_lib.cohort.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_command_line_prints_one_problem_per_line_and_exits_1(native, capsys):
    (native.parent / "data" / "images" / "PAT000-RH.dcm").unlink()
    assert main(["check", str(native)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert any(line.endswith("images/PAT000-RH.dcm") and ":3: path: file not found" in line for line in out)
    assert out[-1] == "1 error(s), 0 warning(s)"


def test_module_entry_point_has_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "ra_lib.cohort", "check", str(tmp_path / "none.yaml")],
                            cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 1
    assert "none.yaml: manifest not found" in result.stdout and "Traceback" not in result.stdout + result.stderr


def test_clean_check_prints_the_summary_line(native, capsys):
    assert main(["check", str(native)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: cohort 'tiny-native' (native): 9 images, 12 hands, 3 patients, 372 scores")
