"""The reproduce page's plain-papermill recipe, run as written (on the smoke build and profile).

The commands are read from ``book/reproduce.md`` (section "Running a stage with plain papermill"), so
the page and this test cannot drift apart: jupytext to ``.ipynb``, then ``papermill -k ra-book`` with
``-p manifest ... -p epochs ...``, reading the upstream artifacts a build wrote.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from book_pages import ARTIFACTS, REPO, figure_outputs

pytestmark = pytest.mark.book
SECTION = "## Running a stage with plain papermill"


def _recipe() -> str:
    text = (REPO / "book" / "reproduce.md").read_text()
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def test_a_stage_runs_with_plain_papermill(tmp_path):
    if not ARTIFACTS.exists():
        pytest.fail(f"{ARTIFACTS} is missing: `make test` builds the smoke book before this test")
    recipe = _recipe()
    bin_dir = str(Path(sys.executable).parent) + "/"
    replacements = {"_build/artifacts/": f"{ARTIFACTS.relative_to(REPO)}/", "my_run": str(tmp_path / "my_run"),
                    "synthetic_quick.yaml": "synthetic_smoke.yaml", "-p profile quick": "-p profile smoke",
                    "-p epochs 20": "-p epochs 1", ".venv/bin/": bin_dir}
    for old, new in replacements.items():
        assert old in recipe, f"the recipe on reproduce.md no longer contains {old!r}: update this test"
        recipe = recipe.replace(old, new)
    assert "papermill -k ra-book" in recipe and "jupytext --to ipynb" in recipe
    env = {**os.environ, "MPLBACKEND": "Agg"}  # a researcher's shell setting must not hide the figures
    completed = subprocess.run(["bash", "-euo", "pipefail", "-c", recipe], cwd=REPO, env=env,
                               capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-3000:]
    executed = sorted((tmp_path / "my_run").glob("*.out.ipynb"))
    assert len(executed) == 1
    notebook = nbformat.read(executed[0], as_version=4)
    assert not [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert figure_outputs(notebook), "plain papermill showed no figure"
    stage = executed[0].name.removesuffix(".out.ipynb")
    metrics = json.loads((tmp_path / "my_run" / "artifacts" / stage / "metrics.json").read_text())
    assert metrics["headline"]
