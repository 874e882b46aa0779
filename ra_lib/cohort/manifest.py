"""Cohort manifests: one YAML file says where a cohort is, in which layout, and how to split it.

:func:`load_manifest` reads the file (UTF-8, at most :data:`MAX_MANIFEST_BYTES`, bounded nesting
and aliases, no duplicate keys) and checks every key, raising :class:`~ra_lib.core.errors.ManifestError`
with the file, line and key of every problem. Reading the cohort itself is
:func:`ra_lib.cohort.load_cohort`'s job.

Data root precedence: the ``data_root`` argument, then the ``RA_DATA_ROOT`` environment
variable, then the manifest's ``data_root`` (relative to the manifest file).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ra_lib.cohort.paths import display_path, is_file, outside_reason
from ra_lib.cohort.sites import HAND_LANDMARKS
from ra_lib.core.errors import ManifestError, Problem

ENV_DATA_ROOT = "RA_DATA_ROOT"
DEFAULT_SALT_FILE = ".ra_book_salt"
#: The ``tables`` keys each format requires and allows.
FORMAT_TABLES = {
    "native": (("images",), ("images", "joint_scores", "landmarks", "readers", "folds")),
    "ra2": (("scores",), ("scores", "images_dir", "landmarks", "readers", "folds")),
    "dicom_folder": (("dicom_dir",), ("dicom_dir", "joint_scores", "landmarks", "readers", "folds", "views")),
}
FORMATS = tuple(FORMAT_TABLES)
TOP_KEYS = ("cohort", "format", "data_root", "description", "synthetic", "tables", "landmark_map",
            "ignore_landmarks", "ignore_columns", "folds", "privacy")
MIN_FOLDS = 3  # train / validation / test rotation
#: Limits that keep a hostile or mistaken manifest from exhausting time or memory.
MAX_MANIFEST_BYTES = 64 * 1024
MAX_YAML_DEPTH = 32
MAX_YAML_ALIASES = 16


@dataclass(frozen=True)
class FoldSpec:
    """How to make patient folds when the cohort gives none."""

    n_folds: int = 8
    seed: int = 0


@dataclass(frozen=True)
class Manifest:
    """A validated cohort manifest (see ``book/use_your_own_data.md`` for every key)."""

    path: Path
    cohort: str
    format: str
    tables: dict
    data_root: str = "."
    description: str = ""
    synthetic: dict | None = None
    landmark_map: dict = field(default_factory=dict)
    ignore_landmarks: tuple[str, ...] = ()
    ignore_columns: tuple[str, ...] = ()
    folds: FoldSpec = FoldSpec()
    salt_file: str = DEFAULT_SALT_FILE
    key_lines: dict = field(default_factory=dict, repr=False, compare=False)

    def resolve_data_root(self, data_root: str | Path | None = None) -> Path:
        """The data root (absolute, ``~`` expanded): ``data_root`` argument, else ``$RA_DATA_ROOT``, else the
        manifest's ``data_root`` relative to the manifest file."""
        if data_root is not None:
            root = Path(data_root).expanduser()
        elif os.environ.get(ENV_DATA_ROOT):
            root = Path(os.environ[ENV_DATA_ROOT]).expanduser()
        else:
            root = self.path.parent / Path(self.data_root).expanduser()
        return Path(os.path.normpath(root.absolute()))

    def problem(self, key: str, message: str) -> Problem:
        """A problem with one manifest key, at its line."""
        return Problem(display_path(self.path), self.key_lines.get(key), key, message)


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest; raise :class:`ManifestError` naming the file, line and key of every problem."""
    path = Path(path)
    shown = display_path(path)
    data, lines = _read_yaml(path, shown)
    if not isinstance(data, dict):
        raise ManifestError([Problem(shown, None, None, "a manifest must be a YAML mapping of keys")])
    problems: list[Problem] = list(lines.pop("", []))  # duplicate keys

    def bad(key: str, message: str) -> None:
        problems.append(Problem(shown, lines.get(key), key, message))

    for key in data:
        if key not in TOP_KEYS:
            bad(str(key), f"unknown key; expected one of {', '.join(TOP_KEYS)}")
    cohort = data.get("cohort")
    if not isinstance(cohort, str) or not cohort.strip():
        bad("cohort", "required: the cohort's name")
    fmt = data.get("format")
    if not isinstance(fmt, str) or fmt not in FORMATS:
        bad("format", f"required, one of {', '.join(FORMATS)} (got {fmt!r})")
    for key in ("data_root", "description"):
        if key in data and not isinstance(data[key], str):
            bad(key, "must be a string")
    if isinstance(data.get("data_root"), str) and "\x00" in data["data_root"]:
        bad("data_root", "contains a NUL character")
    synthetic = data.get("synthetic")
    if synthetic is not None and not (isinstance(synthetic, dict) and all(isinstance(k, str) for k in synthetic)):
        bad("synthetic", "must be a mapping such as {profile: quick, seed: 0}")
    fmt = fmt if isinstance(fmt, str) else None
    tables = _check_tables(data.get("tables"), fmt, bad)
    landmark_map = _check_landmark_map(_given(data, "landmark_map", {}), bad)
    ignore_landmarks = _string_list(data, "ignore_landmarks", bad)
    ignore_columns = _string_list(data, "ignore_columns", bad)
    folds = _check_fold_spec(_given(data, "folds", {}), bad)
    salt_file = _check_privacy(_given(data, "privacy", {}), bad)
    if problems:
        raise ManifestError(problems)
    return Manifest(path=path, cohort=cohort.strip(), format=fmt, tables=tables,
                    data_root=data.get("data_root", "."), description=data.get("description", ""),
                    synthetic=synthetic, landmark_map=landmark_map,
                    ignore_landmarks=ignore_landmarks, ignore_columns=ignore_columns, folds=folds,
                    salt_file=salt_file, key_lines=lines)


# --- reading the YAML safely -------------------------------------------------------------------

def _read_yaml(path: Path, shown: str) -> tuple[object, dict]:
    """The YAML document and ``{"key.subkey": line}``; duplicate keys as Problems under ``lines[""]``."""
    def fail(message: str, line: int | None = None):
        raise ManifestError([Problem(shown, line, None, message)])

    try:
        if not is_file(path):
            fail("manifest not found")
        size = path.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            fail(f"manifest is {size} bytes; a manifest holds at most {MAX_MANIFEST_BYTES} bytes")
        raw = path.read_bytes()
    except OSError as exc:
        fail(f"manifest cannot be read ({exc.strerror or exc})")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        fail(f"not UTF-8 text (byte {exc.start}): save the manifest as UTF-8", line)
    depth, line = _flow_depth(text)
    if depth > MAX_YAML_DEPTH:
        fail(f"brackets nested deeper than {MAX_YAML_DEPTH} levels", line)
    loader = yaml.SafeLoader(text)
    try:
        _check_events(loader)
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        lines, duplicates = _key_lines(node, shown)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        fail(f"not valid YAML: {getattr(exc, 'problem', None) or exc}", mark.line + 1 if mark else None)
    except (ValueError, TypeError, RecursionError) as exc:  # e.g. a timestamp out of range
        fail(f"not valid YAML: {type(exc).__name__}: {exc}")
    finally:
        loader.dispose()
    lines[""] = duplicates
    return data, lines


def _flow_depth(text: str) -> tuple[int, int]:
    """Deepest ``[`` / ``{`` nesting outside quotes and comments, and its line (checked before parsing:
    PyYAML's scanner slows down quadratically with flow depth). A guard, not a YAML parser."""
    depth = deepest = 0
    line = deepest_line = 1
    quote, in_comment, previous = None, False, "\n"
    for char in text:
        if char == "\n":
            line, in_comment = line + 1, False
        elif in_comment:
            pass
        elif quote:
            quote = None if char == quote else quote
        elif char in "\"'" and previous in " \t\n[{,:":
            quote = char
        elif char == "#" and previous in " \t\n":
            in_comment = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest, deepest_line = depth, line
        elif char in "]}":
            depth = max(0, depth - 1)
        previous = char
    return deepest, deepest_line


def _check_events(loader: yaml.SafeLoader) -> None:
    """Bound nesting and aliases on the event stream, before composing (which recurses and expands)."""
    depth = aliases = 0
    while loader.check_event():
        event = loader.get_event()
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise yaml.YAMLError(f"nested deeper than {MAX_YAML_DEPTH} levels (line {event.start_mark.line + 1})")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_YAML_ALIASES:
                raise yaml.YAMLError(f"more than {MAX_YAML_ALIASES} aliases (line {event.start_mark.line + 1})")


def _key_lines(root, shown: str) -> tuple[dict[str, int], list[Problem]]:
    """``"key"`` / ``"key.subkey"`` -> 1-based line of that key, and a Problem for every duplicate key."""
    lines: dict[str, int] = {}
    duplicates: list[Problem] = []
    seen: set[int] = set()
    stack = [(root, "")]
    while stack:
        node, prefix = stack.pop()
        if not isinstance(node, yaml.MappingNode) or id(node) in seen:
            continue
        seen.add(id(node))
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
            name, line = f"{prefix}{key}", key_node.start_mark.line + 1
            if key in first and key != "<<":
                duplicates.append(Problem(shown, line, name, f"duplicate key (first on line {first[key]}); "
                                                             "YAML would keep only the last one"))
                continue
            first[key] = line
            lines[name] = line
            stack.append((value_node, f"{name}."))
    return lines, duplicates


# --- checking the keys -------------------------------------------------------------------------

def _given(data: dict, key: str, empty):
    """The value of an optional key; ``empty`` only when absent or null (``''`` or ``0`` stay, to be refused)."""
    value = data.get(key)
    return empty if value is None else value


def _check_tables(tables, fmt, bad) -> dict:
    if not isinstance(tables, dict):
        bad("tables", "required: a mapping of table names to paths relative to data_root")
        return {}
    if fmt not in FORMAT_TABLES:
        return tables
    required, allowed = FORMAT_TABLES[fmt]
    for key in tables:
        if key not in allowed:
            bad(f"tables.{key}", f"unknown table for format {fmt}; expected one of {', '.join(allowed)}")
    for key in required:
        if not tables.get(key):
            bad(f"tables.{key}", f"required for format {fmt}")
    for key, value in tables.items():
        if value is not None and not isinstance(value, str):
            bad(f"tables.{key}", "must be a path (string) or null")
        elif value and outside_reason(value):
            bad(f"tables.{key}", f"path {value!r} {outside_reason(value)}")
    return dict(tables)


def _check_landmark_map(landmark_map, bad) -> dict:
    if not isinstance(landmark_map, dict):
        bad("landmark_map", "must be a mapping of table names to canonical landmark names")
        return {}
    for name, canonical in landmark_map.items():
        if not isinstance(canonical, str) or canonical not in HAND_LANDMARKS:
            bad(f"landmark_map.{name}", f"{canonical!r} is not a canonical landmark; expected one of "
                                        f"{', '.join(HAND_LANDMARKS)}")
    return {str(k): str(v) for k, v in landmark_map.items()}


def _string_list(data: dict, key: str, bad) -> tuple[str, ...]:
    value = _given(data, key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        bad(key, "must be a list of strings")
        return ()
    return tuple(value)


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_fold_spec(spec, bad) -> FoldSpec:
    if not isinstance(spec, dict):
        bad("folds", "must be a mapping such as {n_folds: 8, seed: 0}")
        return FoldSpec()
    for key in spec:
        if key not in ("n_folds", "seed"):
            bad(f"folds.{key}", "unknown key; expected n_folds, seed")
    n_folds, seed = spec.get("n_folds", 8), spec.get("seed", 0)
    if not _whole(n_folds) or n_folds < MIN_FOLDS:
        bad("folds.n_folds", f"must be a whole number >= {MIN_FOLDS} (got {n_folds!r})")
    if not _whole(seed) or seed < 0:
        bad("folds.seed", f"must be a whole number >= 0 (got {seed!r})")
    return FoldSpec(n_folds, seed)


def _check_privacy(privacy, bad) -> str:
    if not isinstance(privacy, dict):
        bad("privacy", "must be a mapping such as {salt_file: .ra_book_salt}")
        return DEFAULT_SALT_FILE
    for key in privacy:
        if key != "salt_file":
            bad(f"privacy.{key}", "unknown key; expected salt_file")
    salt_file = privacy.get("salt_file", DEFAULT_SALT_FILE)
    if not isinstance(salt_file, str) or not salt_file.strip():
        bad("privacy.salt_file", "must be a file name relative to data_root")
        return DEFAULT_SALT_FILE
    if outside_reason(salt_file):
        bad("privacy.salt_file", f"path {salt_file!r} {outside_reason(salt_file)}: the salt stays in the data root")
    return salt_file
