"""Stage artifacts: the only way stages hand results to each other.

Every stage writes under ``<root>/<stage>/`` (default root ``_build/artifacts``). All writes are
atomic (temporary file in the same folder, then ``os.replace``), so a killed or failed run never
leaves a half-written file that a later stage would read.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

DEFAULT_ROOT = Path("_build/artifacts")


class MissingArtifactError(FileNotFoundError):
    """An upstream stage's artifact is absent: names the stage to run first."""


def stage_dir(stage: str, root: str | Path = DEFAULT_ROOT) -> Path:
    """The artifact folder of one stage, created if needed."""
    path = Path(root) / stage
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; artifacts are ordinary readable files
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as CSV or Parquet (by suffix), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)
    return path


def write_json(obj: Any, path: str | Path) -> Path:
    """Write strict JSON atomically: numpy values converted, NaN and infinities written as ``null``."""
    path = Path(path)
    text = json.dumps(_finite(json.loads(json.dumps(obj, default=_json_default))), indent=2, sort_keys=True,
                      allow_nan=False)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n")
    return path


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def write_array(array: np.ndarray, path: str | Path) -> Path:
    """Write one ``.npy`` array atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, array)
    return path


def save_figure(fig, path: str | Path, dpi: int = 120) -> Path:
    """Save a matplotlib figure (PNG or SVG by suffix) atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=path.suffix.lstrip(".") or "png")
    return path


def require(stage: str, name: str, root: str | Path = DEFAULT_ROOT) -> Path:
    """Path of an upstream artifact; raise :class:`MissingArtifactError` naming the stage if absent."""
    path = Path(root) / stage / name
    if not path.exists():
        raise MissingArtifactError(
            f"{path} is missing: run stage {stage!r} first "
            f"(python -m ra_lib run --stages {stage})"
        )
    return path


def read_table(stage: str, name: str, root: str | Path = DEFAULT_ROOT) -> pd.DataFrame:
    """Read an upstream table (CSV or Parquet by suffix)."""
    path = require(stage, name, root)
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def read_json(stage: str, name: str, root: str | Path = DEFAULT_ROOT) -> Any:
    """Read an upstream JSON artifact."""
    return json.loads(require(stage, name, root).read_text())


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def write_metrics(stage_folder: str | Path, headline: dict, **details: Any) -> Path:
    """Write a stage's ``metrics.json``: ``{"headline": {name: number or null}, **details}``.

    ``headline`` comes from :func:`ra_lib.core.contracts.headline`; ``details`` (profile, seed,
    settings, tables) are for readers of the file, never looked up by other stages.
    """
    return write_json({"headline": headline, **details}, Path(stage_folder) / "metrics.json")


def read_headline(stage: str, root: str | Path = DEFAULT_ROOT) -> dict[str, float | None]:
    """The flat headline of an upstream stage's ``metrics.json``, looked up by name."""
    metrics = read_json(stage, "metrics.json", root)
    if "headline" not in metrics:
        raise MissingArtifactError(f"{Path(root) / stage / 'metrics.json'} has no headline: re-run stage {stage!r}")
    return metrics["headline"]
