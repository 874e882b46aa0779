import json

import nbformat
import pytest

from ra_lib.core import runner as book
from ra_lib.core.contracts import STAGES


def test_stages_are_the_contract_and_the_notebooks():
    assert book.discover_stages() == list(STAGES)
    assert all((book.BOOK_DIR / f"{s}.py").exists() for s in STAGES)


def test_a_notebook_missing_from_the_contract_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(book, "BOOK_DIR", tmp_path)
    for stage in STAGES:
        (tmp_path / f"{stage}.py").write_text("# %%\n")
    (tmp_path / "07_extra.py").write_text("# %%\n")
    with pytest.raises(RuntimeError, match="07_extra"):
        book.discover_stages()


def test_stage_params_scoping():
    params = {"seed": 1, "03_joint_classification:epochs": 4, "04_joint_grading:epochs": 9}
    assert book._stage_params(params, "03_joint_classification") == {"seed": 1, "epochs": 4}
    assert book._stage_params(params, "01_image_selection") == {"seed": 1}


def test_parse_param_yaml_values():
    assert book._parse_param("03_joint_classification:epochs=4") == ("03_joint_classification:epochs", 4)
    assert book._parse_param("device=cpu") == ("device", "cpu")


def test_progress_bars_are_dropped_and_other_stderr_kept():
    assert book._without_progress("epochs:  40%|####      | 4/10 [00:01<00:02, 2.9it/s]\r"
                                  "epochs:  50%|#####     | 5/10 [00:01<00:01, 3.0it/s]\r    \r") == ""
    assert book._without_progress("batches: 7it [00:03, 2.1it/s]\n") == ""
    assert book._without_progress("loop: 7it [00:03, 2.1it/s]\rUserWarning: off\n\r  \r") == "UserWarning: off\n"


def test_kernel_spec_renders_figures_inline():
    spec = json.loads((book.install_kernel() / "kernel.json").read_text())
    assert spec["env"]["MPLBACKEND"] == book.KERNEL_ENV["MPLBACKEND"] == "module://matplotlib_inline.backend_inline"


STAGE_OK = '''# %% tags=["parameters"]
artifacts = "x"
profile = "smoke"
manifest = "m"
seed = 3

# %%
import os
from pathlib import Path
from tqdm import tqdm
for _ in tqdm(range(3), desc="loop"):
    pass
os.write(2, b"noise from the kernel process\\n")
Path(artifacts, "00_write").mkdir(parents=True, exist_ok=True)
Path(artifacts, "00_write", "table.csv").write_text("a\\n1\\n")

# %%
import matplotlib.pyplot as plt
plt.plot([0, 1], [1, 0])
plt.show()
'''
STAGE_FAILS = '''# %% tags=["parameters"]
artifacts = "x"

# %%
x = 1

# %%
raise ValueError("grades out of range")
'''


@pytest.fixture
def tiny_book(tmp_path, monkeypatch):
    """Two tiny stages (one writes an artifact and a figure, one fails) run by the real runner."""
    book_dir = tmp_path / "book"
    book_dir.mkdir()
    (book_dir / "00_write.py").write_text(STAGE_OK)
    (book_dir / "01_fail.py").write_text(STAGE_FAILS)
    monkeypatch.setattr(book, "BOOK_DIR", book_dir)
    monkeypatch.setattr(book, "STAGES", ("00_write", "01_fail"))
    monkeypatch.setattr(book, "prepare_cohort", lambda manifest: "cohort")
    monkeypatch.setattr(book.build_record, "_cohort_size", lambda manifest: {"cohort": "tiny", "images": 2})
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the shell's backend must not reach the kernel
    return tmp_path / "build"


def test_runner_caches_reports_failures_and_keeps_the_terminal_quiet(tiny_book, capsys):
    """Through papermill: the failure names stage, cell, error and log; the good stage stays cached;
    the terminal shows only stage lines and the summary; kernel output goes to the stage log."""
    build = tiny_book
    with pytest.raises(book.StageFailed, match=r"stage 01_fail failed in cell \[4\] \(raise ValueError.*\): "
                                               r"ValueError: grades out of range\n.*01_fail\.log"):
        book.run("smoke", "data_manifests/synthetic_smoke.yaml", build_dir=str(build), render_html=False)
    assert (build / "executed" / "00_write.ipynb").exists()
    assert not (build / "executed" / "01_fail.ipynb").exists()
    assert (build / "artifacts" / "00_write" / "table.csv").read_text() == "a\n1\n"
    first = capsys.readouterr()
    lines = [ln for ln in first.out.splitlines() if ln.strip()]
    assert lines[0].startswith("  00_write: ran in") and lines[1].split() == ["stage", "status", "seconds", "peak", "RSS", "MiB"]
    assert [ln.split()[:2] for ln in lines[2:4]] == [["00_write", "ran"], ["01_fail", "failed"]]
    assert lines[4].startswith("total") and len(lines) == 5
    assert "noise" not in first.out + first.err and "encryption" not in first.out + first.err
    log = (build / "logs" / "00_write.log").read_text()
    assert "noise from the kernel process" in log and "loop" in log and "without encryption" not in log

    again = book.run("smoke", "data_manifests/synthetic_smoke.yaml", stages=["00_write"], build_dir=str(build),
                     render_html=False)
    assert [r.status for r in again] == ["cached"]
    assert "00_write: unchanged, cached" in capsys.readouterr().out


def test_executed_notebook_has_inline_figure_relative_paths_and_no_progress(tiny_book):
    book.run("smoke", "data_manifests/synthetic_smoke.yaml", stages=["00_write"], build_dir=str(tiny_book),
             render_html=False)
    notebook = nbformat.read(tiny_book / "executed" / "00_write.ipynb", as_version=4)
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert any("image/png" in o.get("data", {}) for o in outputs), "plt.show() reached no output (MPLBACKEND?)"
    assert not [o for o in outputs if o.get("name") == "stderr"], "progress bars were kept on stderr"
    injected = next(c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert 'manifest = "data_manifests/synthetic_smoke.yaml"' in injected.source
    assert "/" + str(book.REPO_ROOT).strip("/") + "/" not in injected.source
    assert notebook.metadata.papermill.input_path == "book/00_write.py"
    record = json.loads((tiny_book / "executed" / "00_write.run.json").read_text())
    assert record["parameters"]["seed"] == 3 and record["parameters"]["profile"] == "smoke"
    info = json.loads((tiny_book / "build_info.json").read_text())
    assert info["cohort"] == "tiny" and info["seed"] == 3 and [s["stage"] for s in info["stages"]] == ["00_write"]
