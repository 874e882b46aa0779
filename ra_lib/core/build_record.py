"""What a book build ran on, for the "About this build" box of the intro page.

The runner writes one record per executed stage (``<build>/executed/<stage>.run.json``: wall time,
peak memory, finish time, the parameters it ran with, the device) and, after each run, the build's
summary ``<build>/build_info.json`` (cohort name and size, profile, seed, device, date, git commit,
one row per stage). The renderer turns the summary into the page ``build_info.md`` that
``book/intro.md`` includes.
"""
from __future__ import annotations

import datetime
import functools
import json
import os
import subprocess
from pathlib import Path

BUILD_INFO = "build_info.json"
BUILD_INFO_PAGE = "build_info.md"
REPO_ROOT = Path(__file__).resolve().parents[2]


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@functools.lru_cache(maxsize=None)
def describe_device(preference: str | None) -> str | None:
    """The device a stage's ``device`` parameter selects on this machine, in words (None: no such parameter)."""
    if preference is None:
        return None
    import torch

    if preference == "auto":
        preference = "cuda" if torch.cuda.is_available() else "cpu"
    if preference.startswith("cuda") and torch.cuda.is_available():
        return f"{preference} ({torch.cuda.get_device_name(torch.device(preference))})"
    return f"{preference} ({os.cpu_count()} CPU cores)" if preference == "cpu" else preference


def git_commit() -> str:
    """The short commit of the working tree, marked when it has uncommitted changes; "unknown" outside git."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        return commit + (" (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_stage_run(path: Path, result: dict, parameters: dict) -> None:
    """Record one stage execution next to its executed notebook."""
    record = {"seconds": round(result["seconds"], 1), "peak_rss_mib": round(result["peak_rss_mib"]),
              "finished": _now(), "parameters": parameters, "device": describe_device(parameters.get("device"))}
    path.write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")


def _cohort_size(manifest: str) -> dict:
    from ra_lib.cohort import load_cohort

    cohort = load_cohort(REPO_ROOT / manifest)
    size = {"cohort": cohort.manifest.cohort, "images": len(cohort.images), "hands": len(cohort.hands)}
    if "patient" in cohort.images:
        size["patients"] = int(cohort.images["patient"].nunique())
    return size


def _one(values: list, what: str):
    """The value every stage shares, or a note that stages differ."""
    distinct = sorted({json.dumps(v, default=str) for v in values if v is not None})
    if not distinct:
        return None
    return json.loads(distinct[0]) if len(distinct) == 1 else f"differs between stages ({what}: {', '.join(distinct)})"


def write_build_info(build: Path, stages: list[str]) -> Path:
    """Summarise the stage records of a build into ``<build>/build_info.json``."""
    records = {}
    for stage in stages:
        path = build / "executed" / f"{stage}.run.json"
        if path.exists():
            records[stage] = json.loads(path.read_text())
    parameters = [r["parameters"] for r in records.values()]
    manifest = _one([p.get("manifest") for p in parameters], "manifest")
    info = {"manifest": manifest, "profile": _one([p.get("profile") for p in parameters], "profile"),
            "seed": _one([p.get("seed") for p in parameters], "seed"),
            "device": _one([r.get("device") for r in records.values()], "device"),
            "date": _now(), "commit": git_commit(),
            "stages": [{"stage": s, **{k: records[s][k] for k in ("seconds", "peak_rss_mib", "finished")}}
                       for s in stages if s in records]}
    if manifest and not manifest.startswith("differs"):
        info.update(_cohort_size(manifest))
    path = build / BUILD_INFO
    path.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return path


def _split_note(commit: str) -> tuple[str, str]:
    """``"abc123 (with uncommitted changes)"`` -> ``("abc123", " (with uncommitted changes)")``."""
    name, _, note = commit.partition(" (")
    return name, f" ({note}" if note else ""


def build_info_markdown(build: Path) -> str:
    """The "About this build" box (MyST) of a build; a short note when the build has no record."""
    path = build / BUILD_INFO
    if not path.exists():
        return ":::{admonition} About this build\nThis build has no run record: `python -m ra_lib run` writes it.\n:::\n"
    info = json.loads(path.read_text())
    cohort = f"**{info.get('cohort', 'unknown')}** (manifest `{info['manifest']}`"
    counts = [f"{info[k]} {k}" for k in ("images", "patients", "hands") if k in info]
    cohort += (": " + ", ".join(counts) if counts else "") + ")"
    rows = [("cohort", cohort), ("profile", f"`{info['profile']}`"), ("seed", str(info["seed"])),
            ("device", info["device"] or "CPU only (no stage takes a device)"),
            ("built", "{} from commit `{}`{}".format(info["date"], *_split_note(info["commit"])))]
    lines = [":::{admonition} About this build", ":class: note", "",
             "Written by the book's runner from the run that produced these pages.", "",
             *[f"- {name}: {value}" for name, value in rows], "",
             "| stage | wall time | peak memory | executed |", "|---|---:|---:|---|"]
    lines += [f"| `{s['stage']}` | {s['seconds']:.1f} s | {s['peak_rss_mib']} MiB | {s['finished']} |"
              for s in info["stages"]]
    return "\n".join(lines + [":::", ""])
