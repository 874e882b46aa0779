"""Cache keys of book stages: a stage re-runs only when something it depends on changed.

A stage's key hashes its notebook text, its papermill parameters, the cohort fingerprint, the files of
its upstream stages' artifacts and the ra_lib modules its notebook imports (transitively, found by a
static walk of ``import`` statements), so editing a module that only one stage imports re-runs only
that stage and the stages downstream of its artifacts.
"""
from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

#: Written into a stage's artifact folder once the stage ran; never part of the hashed artifacts.
KEY_FILE = ".stage_key"
LIBRARY_DIR = Path(__file__).resolve().parents[1]


def hash_files(paths, hasher, root: Path | None = None) -> None:
    """Feed each file's name (relative to ``root``, else its base name) and bytes to ``hasher``, sorted."""
    for path in sorted(paths):
        hasher.update(str(path.relative_to(root) if root else path.name).encode())
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                hasher.update(chunk)


def code_cells(notebook: Path) -> list[str]:
    """The Python source of a notebook's code cells, IPython magics and shell lines dropped."""
    import jupytext

    cells = [cell.source for cell in jupytext.read(notebook).cells if cell.cell_type == "code"]
    return ["\n".join(ln for ln in cell.splitlines() if not ln.lstrip().startswith(("%", "!"))) for cell in cells]


def module_file(name: str, library_dir: Path = LIBRARY_DIR) -> Path | None:
    """The source file of a module or package (its ``__init__.py``) of the library; None for anything else."""
    parts = name.split(".")
    if parts[0] != library_dir.name:
        return None
    base = library_dir.parent.joinpath(*parts)
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def imported_names(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every dotted name an ``import`` / ``from ... import`` anywhere in ``tree`` may load
    (relative imports resolved against ``module``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")
                package = parts[: len(parts) - node.level + is_package]
                base = ".".join(package + ([node.module] if node.module else []))
            else:
                base = node.module
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def library_modules(notebook: Path, library_dir: Path = LIBRARY_DIR) -> list[Path]:
    """The library files a notebook's code cells import, directly or through other library modules.

    Importing ``a.b.c`` loads ``a/__init__.py``, ``a/b/__init__.py`` and ``a/b/c.py``; when a cell
    does not parse, every library file counts.
    """
    try:
        pending = [(ast.parse(source), "__main__", False) for source in code_cells(notebook)]
    except SyntaxError:
        return sorted(library_dir.rglob("*.py"))
    found: dict[str, Path] = {}
    while pending:
        tree, module, is_package = pending.pop()
        for name in imported_names(tree, module, is_package):
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):
                prefix = ".".join(parts[:depth])
                path = found.get(prefix) or module_file(prefix, library_dir)
                if path is None:
                    break
                if prefix not in found:
                    found[prefix] = path
                    pending.append((ast.parse(path.read_bytes()), prefix, path.name == "__init__.py"))
    return sorted(set(found.values()))


def library_fingerprint(notebook: Path, library_dir: Path = LIBRARY_DIR) -> str:
    """Hash of the library source a notebook imports: other library edits leave it unchanged."""
    hasher = hashlib.sha256()
    hash_files(library_modules(notebook, library_dir), hasher, root=library_dir.parent)
    return hasher.hexdigest()


def stage_key(notebook: Path, parameters: dict, cohort_fingerprint: str, upstream_dirs: list[Path],
              library: str) -> str:
    """Cache key of one stage run (``library``: :func:`library_fingerprint` of its notebook)."""
    hasher = hashlib.sha256()
    hasher.update(notebook.read_bytes())
    hasher.update(json.dumps(parameters, sort_keys=True, default=str).encode())
    hasher.update(cohort_fingerprint.encode())
    hasher.update(library.encode())
    for directory in upstream_dirs:
        files = [p for p in directory.rglob("*") if p.is_file() and p.name != KEY_FILE] if directory.exists() else []
        hash_files(files, hasher)
    return hasher.hexdigest()


def notebook_defaults(notebook: Path) -> dict:
    """The literal values of a notebook's ``parameters`` cell."""
    import jupytext

    defaults = {}
    for cell in jupytext.read(notebook).cells:
        if "parameters" in cell.metadata.get("tags", []):
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    try:
                        defaults[node.targets[0].id] = ast.literal_eval(node.value)
                    except ValueError:
                        pass
    return defaults
