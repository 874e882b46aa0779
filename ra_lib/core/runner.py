"""Build the book: generate the cohort, execute each stage notebook with papermill, render HTML.

    python -m ra_lib run --profile quick --manifest data_manifests/synthetic_quick.yaml
    python -m ra_lib run --profile smoke --manifest data_manifests/synthetic_smoke.yaml \
        --build-dir _build/smoke --stages 00_cohort 01_image_selection
    python -m ra_lib render

Each stage is ``book/NN_name.py`` (jupytext percent format). It is converted to a notebook,
executed by papermill with the profile's parameters, and written (atomically) to
``<build>/executed/NN_name.ipynb``. A stage is skipped when its notebook text, parameters,
ra_lib source, cohort and upstream artifacts are unchanged. A failed stage stops the run with the
stage, the cell and the error; stages that finished stay cached.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
BOOK_DIR = REPO_ROOT / "book"
KERNEL_NAME = "ra-book"
KEY_FILE = ".stage_key"
#: Book files copied next to the executed notebooks for rendering.
RENDER_FILES = ("_config.yml", "_toc.yml", "references.bib")


class StageFailed(RuntimeError):
    """A stage notebook raised: carries the stage, the failing cell and the error."""


@dataclass
class StageResult:
    stage: str
    status: str  # "ran", "cached" or "failed"
    seconds: float
    peak_rss_mib: float


def discover_stages() -> list[str]:
    """Stage names in run order: ``book/NN_*.py``."""
    return sorted(p.stem for p in BOOK_DIR.glob("[0-9][0-9]_*.py"))


def _hash_files(paths, hasher) -> None:
    for path in sorted(paths):
        hasher.update(str(path.name).encode())
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                hasher.update(chunk)


def ra_lib_fingerprint() -> str:
    """Hash of the ra_lib source: any library change invalidates every stage."""
    hasher = hashlib.sha256()
    _hash_files((REPO_ROOT / "ra_lib").rglob("*.py"), hasher)
    return hasher.hexdigest()


def stage_key(stage: str, parameters: dict, cohort_fingerprint: str, upstream_dirs: list[Path],
              library: str) -> str:
    """Cache key of one stage run."""
    hasher = hashlib.sha256()
    hasher.update((BOOK_DIR / f"{stage}.py").read_bytes())
    hasher.update(json.dumps(parameters, sort_keys=True, default=str).encode())
    hasher.update(cohort_fingerprint.encode())
    hasher.update(library.encode())
    for directory in upstream_dirs:
        files = [p for p in directory.rglob("*") if p.is_file() and p.name != KEY_FILE] if directory.exists() else []
        _hash_files(files, hasher)
    return hasher.hexdigest()


def prepare_cohort(manifest_path: Path) -> str:
    """Generate the synthetic cohort a manifest asks for (if missing); return a cohort fingerprint."""
    from ra_lib.cohort.manifest import load_manifest

    manifest = load_manifest(manifest_path)
    data_root = manifest.resolve_data_root()
    if manifest.synthetic:
        from ra_lib.synthetic import generate_cohort

        generate_cohort(data_root, workers=os.cpu_count() or 1, **manifest.synthetic)
    hasher = hashlib.sha256(manifest_path.read_bytes())
    tables = [p for p in data_root.glob("*") if p.is_file() and p.suffix in {".csv", ".json", ".yaml"}]
    _hash_files([p for p in tables if not p.name.startswith(".")], hasher)
    return hasher.hexdigest()


def _execute(stage: str, parameters: dict, executed_dir: Path) -> None:
    import jupytext
    import nbformat
    import papermill as pm

    notebook = jupytext.read(BOOK_DIR / f"{stage}.py")
    notebook.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "Python (ra-book)",
                                       "language": "python"}
    executed_dir.mkdir(parents=True, exist_ok=True)
    source = executed_dir / f".{stage}.input.ipynb"
    nbformat.write(notebook, source)
    target = executed_dir / f"{stage}.ipynb"
    partial = executed_dir / f".{stage}.partial.ipynb"
    (executed_dir / f"{stage}.params.yaml").write_text(yaml.safe_dump(parameters, sort_keys=True))
    try:
        pm.execute_notebook(str(source), str(partial), parameters=parameters, kernel_name=KERNEL_NAME,
                            cwd=str(REPO_ROOT), progress_bar=False, log_output=False)
    except pm.PapermillExecutionError as error:
        line = next((ln for ln in reversed(error.source.splitlines()) if ln.strip()), "")
        raise StageFailed(f"stage {stage} failed in cell [{error.exec_count}] ({line.strip()[:80]}): "
                          f"{error.ename}: {error.evalue}\n"
                          f"(the partly executed notebook is {partial})") from None
    os.replace(partial, target)
    source.unlink()


def run(profile: str, manifest: str, stages: list[str] | None = None, build_dir: str = "_build",
        params: dict | None = None, force: bool = False, render_html: bool = True) -> list[StageResult]:
    """Run stages in order (all by default), then render. Returns one result per stage."""
    from tqdm import tqdm

    build = (REPO_ROOT / build_dir).resolve()
    all_stages = discover_stages()
    wanted = stages or all_stages
    unknown = sorted(set(wanted) - set(all_stages))
    if unknown:
        raise SystemExit(f"unknown stage(s) {unknown}; stages are {all_stages}")
    manifest_path = (REPO_ROOT / manifest).resolve()
    print(f"cohort: {manifest} (profile {profile})", flush=True)
    cohort_fingerprint = prepare_cohort(manifest_path)
    library = ra_lib_fingerprint()
    artifacts = build / "artifacts"
    results: list[StageResult] = []
    for stage in tqdm(wanted, desc="stages", unit="stage"):
        parameters = {"manifest": _repo_relative(manifest_path), "profile": profile,
                      "artifacts": _repo_relative(artifacts)}
        parameters.update(_stage_params(params or {}, stage))
        upstream = [artifacts / s for s in all_stages if s < stage]
        key = stage_key(stage, parameters, cohort_fingerprint, upstream, library)
        key_file = artifacts / stage / KEY_FILE
        executed = build / "executed" / f"{stage}.ipynb"
        if not force and executed.exists() and key_file.exists() and key_file.read_text() == key:
            tqdm.write(f"  {stage}: unchanged, cached")
            results.append(StageResult(stage, "cached", 0.0, 0.0))
            continue
        key_file.unlink(missing_ok=True)
        start = time.perf_counter()
        with _sample_peak_rss() as peak:
            try:
                _execute(stage, parameters, build / "executed")
            except StageFailed:
                results.append(StageResult(stage, "failed", time.perf_counter() - start, peak["mib"]))
                print_summary(results)
                raise
        (artifacts / stage).mkdir(parents=True, exist_ok=True)
        key_file.write_text(key)
        seconds = time.perf_counter() - start
        results.append(StageResult(stage, "ran", seconds, peak["mib"]))
        tqdm.write(f"  {stage}: ran in {seconds:.1f} s")
    print_summary(results)
    if render_html:
        render(build_dir)
    return results


def _repo_relative(path: Path) -> str:
    """A path as the notebooks see it (they run in the repository root): relative when inside it."""
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _stage_params(params: dict, stage: str) -> dict:
    """``key`` applies to every stage, ``stage:key`` to one."""
    selected = {}
    for name, value in params.items():
        target, _, key = name.rpartition(":")
        if not target or target == stage:
            selected[key] = value
    return selected


@contextmanager
def _sample_peak_rss(interval: float = 0.25):
    """Sample the resident memory of this process and its children (the kernel); yields a dict
    whose ``"mib"`` holds the peak seen so far."""
    import psutil

    peak = {"mib": 0.0}
    done = threading.Event()

    def sample():
        me = psutil.Process()
        while not done.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            peak["mib"] = max(peak["mib"], total / 2**20)
            done.wait(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        done.set()
        thread.join()


def print_summary(results: list[StageResult]) -> None:
    """A closing table: stage, status, wall time, peak RSS (runner + kernel, sampled)."""
    print(f"\n{'stage':<28}{'status':<9}{'seconds':>9}{'peak RSS MiB':>14}")
    for r in results:
        print(f"{r.stage:<28}{r.status:<9}{r.seconds:>9.1f}{r.peak_rss_mib:>14.0f}")
    print(f"{'total':<37}{sum(r.seconds for r in results):>9.1f}\n", flush=True)


def _render_inputs(build: Path) -> list[Path]:
    """Every file the rendered HTML depends on."""
    files = [REPO_ROOT / name for name in RENDER_FILES] + sorted(BOOK_DIR.glob("*.md"))
    files += sorted((BOOK_DIR / "figures").glob("*")) + sorted((BOOK_DIR / "_ext").glob("*.py")) + sorted((build / "executed").glob("[0-9][0-9]_*.ipynb"))
    return files


def render(build_dir: str = "_build", strict: bool = True) -> Path:
    """Render the executed notebooks and the book's pages to ``<build>/html`` with Jupyter Book.

    Skipped when the HTML was built from exactly the same inputs.
    """
    build = (REPO_ROOT / build_dir).resolve()
    hasher = hashlib.sha256()
    _hash_files(_render_inputs(build), hasher)
    render_key = hasher.hexdigest()
    key_file = build / "html" / KEY_FILE
    if key_file.exists() and key_file.read_text() == render_key:
        print(f"render: unchanged, cached ({build / 'html' / 'index.html'})")
        return build / "html"
    source = build / "source"
    if source.exists():
        shutil.rmtree(source)
    (source / "book").mkdir(parents=True)
    for name in RENDER_FILES:
        shutil.copy2(REPO_ROOT / name, source / name)
    for page in BOOK_DIR.glob("*.md"):
        shutil.copy2(page, source / "book" / page.name)
    for stage in discover_stages():
        executed = build / "executed" / f"{stage}.ipynb"
        if not executed.exists():
            raise SystemExit(f"cannot render: stage {stage} has not been executed ({executed} missing); "
                             f"run `python -m ra_lib run` first")
        shutil.copy2(executed, source / "book" / executed.name)
    import jupyter_server_mathjax

    shutil.copytree(Path(jupyter_server_mathjax.__file__).parent / "static", source / "_vendor" / "mathjax")
    for folder in ("figures", "_ext"):
        shutil.copytree(BOOK_DIR / folder, source / "book" / folder, ignore=shutil.ignore_patterns("__pycache__"))
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(source), "--path-output",
               str(build / "render")]
    if strict:
        command += ["-W", "--keep-going"]
    print("rendering:", " ".join(command[1:]), flush=True)
    completed = subprocess.run(command, cwd=REPO_ROOT)
    if completed.returncode != 0:
        raise SystemExit(f"jupyter-book build failed (exit {completed.returncode})")
    html = build / "html"
    if html.exists():
        shutil.rmtree(html)
    shutil.move(str(build / "render" / "_build" / "html"), str(html))
    key_file.write_text(render_key)
    print(f"book: {html / 'index.html'}")
    return html


def _parse_param(text: str) -> tuple[str, object]:
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--param expects [stage:]key=value, got {text!r}")
    return name, yaml.safe_load(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ra_lib", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="execute stages with papermill, then render")
    run_p.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    run_p.add_argument("--manifest", default="data_manifests/synthetic_quick.yaml")
    run_p.add_argument("--stages", nargs="*", help="default: every stage")
    run_p.add_argument("--build-dir", default="_build")
    run_p.add_argument("--param", action="append", type=_parse_param, default=[],
                       help="[stage:]key=value papermill parameter (value parsed as YAML)")
    run_p.add_argument("--force", action="store_true", help="ignore the stage cache")
    run_p.add_argument("--no-render", action="store_true")
    render_p = sub.add_parser("render", help="render already executed stages")
    render_p.add_argument("--build-dir", default="_build")
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            run(args.profile, args.manifest, args.stages, args.build_dir, dict(args.param), args.force,
                not args.no_render)
        else:
            render(args.build_dir)
    except StageFailed as error:
        print(f"\nERROR: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
