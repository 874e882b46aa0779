"""Paths of a cohort: how they are shown in messages, and keeping them inside the data root."""
from __future__ import annotations

import posixpath
from pathlib import Path, PurePosixPath, PureWindowsPath


def display_path(path: str | Path) -> str:
    """A path as shown in messages: relative to the working folder when inside it, else absolute."""
    path = Path(path)
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path.absolute())


def outside_reason(relative: str) -> str | None:
    """Why ``relative`` (a path from a manifest or table) would leave its data root; ``None`` if it stays inside.

    Only the text is judged (no file-system access): absolute paths, drive letters, ``~`` and
    ``..`` steps that climb above the root are refused; ``a/../b`` is fine.
    """
    text = str(relative)
    if "\x00" in text:
        return "contains a NUL character"
    if PurePosixPath(text).is_absolute() or PureWindowsPath(text).is_absolute() or PureWindowsPath(text).drive:
        return "is absolute; give it relative to the data root"
    if text.startswith("~"):
        return "starts with '~'; give it relative to the data root"
    normal = posixpath.normpath(text.replace("\\", "/"))
    if normal == ".." or normal.startswith("../"):
        return "leaves the data root ('..')"
    return None


def is_file(path: str | Path) -> bool:
    """``Path.is_file`` that says ``False`` instead of raising for a name too long or holding a NUL."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def is_dir(path: str | Path) -> bool:
    """``Path.is_dir`` that says ``False`` instead of raising for a name too long or holding a NUL."""
    try:
        return Path(path).is_dir()
    except (OSError, ValueError):
        return False
