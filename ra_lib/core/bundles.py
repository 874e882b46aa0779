"""Model bundles: a stage's trained weights and what is needed to use them on new radiographs.

A bundle is a folder: one torch state dict per model (``<name>.pt``), optional extra files (copied in
as they are) and ``bundle.json`` with the stage id, the settings, the ra_lib and torch versions, the
training cohort's fingerprint, the stage's headline metrics, any lists the models need (classes,
landmarks, sites) and the SHA-256 of every file. :func:`write_bundle` builds it in a temporary folder
and renames it into place, so a reader sees the old bundle or the new one, never half of one.
:func:`load_bundle` refuses a bundle of another stage, format or ra_lib major/minor version, or one
whose files changed; a different torch version is only a warning.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import torch

from ra_lib.core.artifacts import _json_default

FORMAT_VERSION = 1
BUNDLE_FILE = "bundle.json"
#: The folder of a stage's artifacts holding its bundle.
BUNDLE_DIR = "bundle"


class BundleError(ValueError):
    """A bundle is missing, unreadable or does not match this ra_lib; the message names its file."""


def ra_lib_version() -> str:
    """The installed ra_lib version (``0.0.0`` when run from a checkout that is not installed)."""
    try:
        return version("ra-lib")
    except PackageNotFoundError:
        return "0.0.0"


def cohort_fingerprint(images: pd.DataFrame) -> str:
    """SHA-256 of a cohort's image table (ids, pseudonymised patients, views, paths), row order ignored."""
    columns = [c for c in ("image_id", "patient", "view", "path") if c in images.columns]
    table = images[columns].astype(str).sort_values(columns).to_csv(index=False)
    return hashlib.sha256(table.encode()).hexdigest()


def file_sha256(path: str | Path) -> str:
    """SHA-256 of one file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Bundle:
    """A loaded bundle; ``fingerprint`` changes whenever any of its files does."""

    path: Path
    stage: str
    settings: dict
    headline: dict
    cohort_fingerprint: str
    versions: dict
    models: tuple[str, ...]
    extra: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)  # file name -> SHA-256
    fingerprint: str = ""

    def state_dict(self, name: str) -> dict:
        """The state dict of one model, on the CPU."""
        if name not in self.models:
            raise BundleError(f"{self.path / BUNDLE_FILE}: no model {name!r}; it holds {list(self.models)}")
        return torch.load(self.path / f"{name}.pt", map_location="cpu", weights_only=True)


def write_bundle(folder: str | Path, stage: str, settings: Mapping[str, Any], models: Mapping[str, Mapping],
                 *, cohort_fingerprint: str, headline: Mapping[str, Any], extra: Mapping[str, Any] | None = None,
                 files: Mapping[str, str | Path] | None = None) -> Path:
    """Write a bundle to ``folder`` atomically (replacing an older one) and return its path.

    ``models`` maps a name to a state dict; ``files`` maps a name inside the bundle to a file to copy in.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for name, state in models.items():
            torch.save({k: v.detach().cpu() for k, v in state.items()}, staging / f"{name}.pt")
        for name, source in (files or {}).items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        hashes = {p.relative_to(staging).as_posix(): file_sha256(p) for p in sorted(staging.rglob("*"))
                  if p.is_file()}
        record = {"format_version": FORMAT_VERSION, "stage": stage, "settings": dict(settings),
                  "versions": {"ra_lib": ra_lib_version(), "torch": torch.__version__},
                  "cohort_fingerprint": cohort_fingerprint, "headline": dict(headline),
                  "models": list(models), "extra": dict(extra or {}), "files": hashes}
        text = json.dumps(json.loads(json.dumps(record, default=_json_default)), indent=2, sort_keys=True)
        (staging / BUNDLE_FILE).write_text(text + "\n")
        for path in [staging, *staging.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        _swap_in(staging, folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return folder


def _swap_in(staging: Path, folder: Path) -> None:
    """Rename ``staging`` to ``folder``; an existing ``folder`` is moved aside first, then deleted."""
    old = None
    if folder.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old.", dir=folder.parent))
        os.replace(folder, old / folder.name)
    os.replace(staging, folder)
    if old is not None:
        shutil.rmtree(old)


def remove_bundle(folder: str | Path) -> None:
    """Delete a bundle (when a stage trained nothing, so that no stale bundle outlives its run)."""
    if Path(folder).exists():
        shutil.rmtree(folder)


def load_bundle(folder: str | Path, stage: str | None = None) -> Bundle:
    """Read and check a bundle; raise :class:`BundleError` naming ``bundle.json`` and what does not match."""
    folder = Path(folder)
    path = folder / BUNDLE_FILE
    if not path.is_file():
        raise BundleError(f"{path} is missing: no model bundle here (run the stage that writes it first)")
    text = path.read_text()
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise BundleError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(record, dict) or record.get("format_version") != FORMAT_VERSION:
        found = record.get("format_version") if isinstance(record, dict) else None
        raise BundleError(f"{path}: unknown bundle format version {found!r}; this ra_lib reads {FORMAT_VERSION}")
    missing = sorted({"stage", "settings", "versions", "cohort_fingerprint", "headline", "models", "files"}
                     - set(record))
    if missing:
        raise BundleError(f"{path}: lacks key(s) {missing}")
    if stage is not None and record["stage"] != stage:
        raise BundleError(f"{path}: a bundle of stage {record['stage']!r}, expected stage {stage!r}")
    _check_versions(path, record["versions"])
    for name, digest in record["files"].items():
        file = folder / name
        if not file.is_file():
            raise BundleError(f"{path}: its file {name} is missing")
        if file_sha256(file) != digest:
            raise BundleError(f"{path}: its file {name} changed since the bundle was written")
    return Bundle(path=folder, stage=record["stage"], settings=record["settings"], headline=record["headline"],
                  cohort_fingerprint=record["cohort_fingerprint"], versions=record["versions"],
                  models=tuple(record["models"]), extra=record.get("extra", {}), files=record["files"],
                  fingerprint=hashlib.sha256(text.encode()).hexdigest())


def _major_minor(text: str) -> tuple[str, ...]:
    return tuple(str(text).split("+")[0].split(".")[:2])


def _check_versions(path: Path, versions: Mapping[str, str]) -> None:
    written, installed = versions.get("ra_lib", "?"), ra_lib_version()
    if _major_minor(written) != _major_minor(installed):
        raise BundleError(f"{path}: written by ra_lib {written}, this is ra_lib {installed} (major.minor must "
                          "match); re-run the stage to rebuild the bundle")
    if versions.get("torch") != torch.__version__:
        warnings.warn(f"{path}: written with torch {versions.get('torch')}, loading with torch {torch.__version__}",
                      stacklevel=3)
