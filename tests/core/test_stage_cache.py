from pathlib import Path

from ra_lib.core import stage_cache
from ra_lib.core.contracts import STAGES

REPO = Path(__file__).resolve().parents[2]
LIBRARY = {
    "__init__.py": "from ra_lib.shared import VALUE\n",
    "shared.py": "VALUE = 1\n",
    "alpha/__init__.py": "from . import helpers\n",
    "alpha/helpers.py": "from ..plots import draw\n\ndef help():\n    from .deep import x\n",
    "alpha/deep.py": "x = 1\n",
    "plots.py": "def draw(): pass\n",
    "beta.py": "import math\n",
    "unused.py": "y = 2\n",
}
NOTEBOOK_A = '# %%\n%matplotlib inline\nfrom ra_lib.alpha import helpers\n'
NOTEBOOK_B = '# %% tags=["parameters"]\nseed = 5\nname = "b"\n\n# %%\nimport ra_lib.beta as beta\n'


def _fake_book(tmp_path):
    library = tmp_path / "ra_lib"
    for name, text in LIBRARY.items():
        (library / name).parent.mkdir(parents=True, exist_ok=True)
        (library / name).write_text(text)
    (tmp_path / "00_a.py").write_text(NOTEBOOK_A)
    (tmp_path / "01_b.py").write_text(NOTEBOOK_B)
    return library, tmp_path / "00_a.py", tmp_path / "01_b.py"


def test_modules_are_found_transitively_with_packages_and_relative_imports(tmp_path):
    library, a, b = _fake_book(tmp_path)
    names = lambda nb: sorted(str(p.relative_to(library)) for p in stage_cache.library_modules(nb, library))
    assert names(a) == ["__init__.py", "alpha/__init__.py", "alpha/deep.py", "alpha/helpers.py", "plots.py", "shared.py"]
    assert names(b) == ["__init__.py", "beta.py", "shared.py"]


def test_editing_a_module_changes_only_the_stages_importing_it(tmp_path):
    library, a, b = _fake_book(tmp_path)
    key = lambda nb: stage_cache.library_fingerprint(nb, library)
    before = key(a), key(b)
    (library / "plots.py").write_text("def draw(): return 1\n")  # only stage a imports it (through alpha)
    middle = key(a), key(b)
    assert middle[0] != before[0] and middle[1] == before[1]
    (library / "unused.py").write_text("y = 3\n")  # no stage imports it
    assert (key(a), key(b)) == middle
    (library / "shared.py").write_text("VALUE = 2\n")  # the package's __init__ imports it: every stage
    assert key(a) != middle[0] and key(b) != middle[1]


def test_a_cell_that_does_not_parse_counts_the_whole_library(tmp_path):
    library, a, _ = _fake_book(tmp_path)
    a.write_text("# %%\nfrom ra_lib.beta import (\n")
    assert len(stage_cache.library_modules(a, library)) == len(LIBRARY)


def test_stage_key_changes_with_inputs(tmp_path):
    notebook = tmp_path / "01_x.py"
    notebook.write_text("# %%\nprint(1)\n")
    upstream = tmp_path / "artifacts" / "00_y"
    upstream.mkdir(parents=True)
    (upstream / "t.csv").write_text("a\n1\n")
    key = lambda profile="smoke", library="lib": stage_cache.stage_key(notebook, {"profile": profile}, "c", [upstream], library)
    base = key()
    assert base == key() and base != key(profile="quick") and base != key(library="lib2")
    (upstream / "t.csv").write_text("a\n2\n")
    changed = key()
    assert changed != base
    (upstream / stage_cache.KEY_FILE).write_text("ignored")
    assert key() == changed
    notebook.write_text("# %%\nprint(2)\n")
    assert key() != changed


def test_notebook_defaults_are_the_parameters_cell(tmp_path):
    _, _, b = _fake_book(tmp_path)
    assert stage_cache.notebook_defaults(b) == {"seed": 5, "name": "b"}


def test_real_stages_import_their_package_and_never_the_runner():
    for stage in STAGES:
        modules = {str(p.relative_to(REPO)) for p in stage_cache.library_modules(REPO / "book" / f"{stage}.py")}
        assert "ra_lib/__init__.py" in modules, stage
        assert not modules & {"ra_lib/core/runner.py", "ra_lib/core/stage_cache.py", "ra_lib/core/build_record.py"}, stage
