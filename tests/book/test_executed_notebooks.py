"""The executed smoke notebooks: no error or stderr output, repository-relative paths, and every figure
a stage saves is shown inline with alt text.

The runner moves progress bars (tqdm, on stderr) to the stage's log, so any stderr left in a notebook is a
warning or a log line that the page would hide (``nb_output_stderr: remove``).
"""
import re

import nbformat
import pytest

from book_pages import EXECUTED, REPO, figure_outputs, saved_figures
from ra_lib.core.runner import discover_stages

pytestmark = pytest.mark.book


def _executed(stage):
    path = EXECUTED / f"{stage}.ipynb"
    if not path.exists():
        pytest.fail(f"{path} is missing: `make test` executes every stage on the smoke profile first")
    return nbformat.read(path, as_version=4)


@pytest.mark.parametrize("stage", discover_stages())
def test_stage_outputs_are_clean(stage):
    problems = []
    for index, cell in enumerate(_executed(stage).cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                problems.append(f"cell {index}: error {output.ename}: {output.evalue}")
            elif output.output_type == "stream" and output.name == "stderr":
                problems.append(f"cell {index}: stderr: {output.text.strip()[:300]}")
    assert not problems, f"{stage}:\n" + "\n".join(problems)


@pytest.mark.parametrize("stage", discover_stages())
def test_paths_are_repository_relative(stage):
    notebook = _executed(stage)
    injected = next(c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", []))
    absolute = re.findall(r"""= *["'](/[^"']*)["']""", injected.source)
    assert not absolute, f"{stage}: the parameters cell shows absolute paths {absolute}"
    assert str(REPO) not in nbformat.writes(notebook), f"{stage}: the notebook records this machine's paths"


@pytest.mark.parametrize("stage", discover_stages())
def test_every_saved_figure_is_shown_with_alt_text(stage):
    shown = figure_outputs(_executed(stage))
    saved = saved_figures(stage)
    assert len(shown) >= len(saved), (
        f"{stage} saved {len(saved)} figures ({', '.join(p.name for p in saved)}) but its page shows "
        f"{len(shown)}: show each with ra_lib.core.plots.show(fig, alt, path)")
    without_alt = [i for i, output in enumerate(shown)
                   if not any(output.get("metadata", {}).get(t, {}).get("alt") for t in output["data"])]
    assert not without_alt, f"{stage}: figures {without_alt} (in page order) have no alt text: use plots.show"
