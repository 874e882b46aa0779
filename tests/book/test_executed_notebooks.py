"""The executed smoke notebooks: no error outputs, and nothing on stderr but progress bars.

The rendered page drops stderr (``nb_output_stderr: remove`` in ``_config.yml``) so that tqdm bars do
not clutter it; this test makes sure that nothing else (a warning, a log line) hides there.
"""
import re

import nbformat
import pytest

from book_pages import EXECUTED
from ra_lib.core.runner import discover_stages

pytestmark = pytest.mark.book
#: A tqdm text bar: "desc:  40%|####      | 4/10 [00:01<00:02, 2.9it/s]" (possibly many, \r-separated).
PROGRESS = re.compile(r"^[^\n]*\|[^\n]*\| *\d+/\d*[^\n]*\[[^\n]*\]\s*$")


def _is_progress(text: str) -> bool:
    parts = [p for p in re.split(r"[\r\n]+", text) if p.strip()]
    return all(PROGRESS.match(p) for p in parts)


@pytest.mark.parametrize("stage", discover_stages())
def test_stage_outputs_are_clean(stage):
    path = EXECUTED / f"{stage}.ipynb"
    if not path.exists():
        pytest.fail(f"{path} is missing: `make test` executes every stage on the smoke profile first")
    notebook = nbformat.read(path, as_version=4)
    problems = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                problems.append(f"cell {index}: error {output.ename}: {output.evalue}")
            elif output.output_type == "stream" and output.name == "stderr" and not _is_progress(output.text):
                problems.append(f"cell {index}: stderr: {output.text.strip()[:300]}")
    assert not problems, f"{stage}:\n" + "\n".join(problems)
