"""Build the book: generate the cohort, execute each stage notebook with papermill, render HTML.

    python -m ra_lib run --profile quick --manifest data_manifests/synthetic_quick.yaml
    python -m ra_lib run --profile smoke --manifest data_manifests/synthetic_smoke.yaml \
        --build-dir _build/smoke --stages 00_cohort 01_image_selection
    python -m ra_lib render
    python -m ra_lib kernel

Each stage (``ra_lib.core.contracts.STAGES``) is ``book/<stage>.py`` (jupytext percent format). It is
converted to a notebook, executed by papermill in the ``ra-book`` kernel, and written (atomically) to
``<build>/executed/<stage>.ipynb``. A stage is skipped when its notebook text, parameters, the ra_lib
modules it imports (transitively), the cohort and the upstream artifacts are unchanged. The terminal
shows a stage bar, one line per stage and a summary; kernel and papermill output go to
``<build>/logs/<stage>.log``. A failed stage stops the run with the stage, the cell, the error and its
log; stages that finished stay cached. ``<build>/build_info.json`` records the run for the intro page.
"""
from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from ra_lib.core import build_record
from ra_lib.core.stage_cache import KEY_FILE, hash_files, library_fingerprint, notebook_defaults, stage_key
from ra_lib.core.contracts import STAGES
from ra_lib.core.profiles import parse_assignment

LIBRARY_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = LIBRARY_DIR.parent
BOOK_DIR = REPO_ROOT / "book"
KERNEL_NAME = "ra-book"
KERNEL_DISPLAY_NAME = "Python (ra-book)"
#: The kernel's environment, set in its kernel spec: figures render inline (``plt.show()`` and
#: ``ra_lib.core.plots.show`` reach the notebook) whatever ``MPLBACKEND`` the calling shell exports.
KERNEL_ENV = {"MPLBACKEND": "module://matplotlib_inline.backend_inline"}
#: CurveZMQ keys for the kernel's sockets (where pyzmq has Curve): encrypted, so the kernel does not
#: warn about plain TCP.
KERNEL_MANAGER_CONFIG = {"KernelManager": {"transport_encryption": "auto"}}
#: Book files copied next to the executed notebooks for rendering.
RENDER_FILES = ("_config.yml", "_toc.yml", "references.bib")
#: A tqdm bar line ends in its timing bracket: "[00:01<00:02, 2.9it/s]" or "[00:01, 2.9it/s]".
PROGRESS_LINE = re.compile(r"\[(\d+:)?\d\d:\d\d(<[^\]]*)?(, [^\]]*)?\]\s*$")


class StageFailed(RuntimeError):
    """A stage notebook raised: carries the stage, the failing cell, the error and the stage's log."""


@dataclass
class StageResult:
    stage: str
    status: str  # "ran", "cached" or "failed"
    seconds: float
    peak_rss_mib: float


def discover_stages() -> list[str]:
    """The stages in run order (``STAGES``), checked against the notebooks ``book/NN_*.py``."""
    found = sorted(p.stem for p in BOOK_DIR.glob("[0-9][0-9]_*.py"))
    if found != list(STAGES):
        raise RuntimeError(f"the stage notebooks in {BOOK_DIR} ({found}) differ from "
                           f"ra_lib.core.contracts.STAGES ({list(STAGES)})")
    return list(STAGES)


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
    hash_files([p for p in tables if not p.name.startswith(".")], hasher)
    return hasher.hexdigest()


# -- the kernel and one stage -----------------------------------------------------------------------

def install_kernel() -> Path:
    """Install (or update) the ``ra-book`` kernel spec of this Python, with :data:`KERNEL_ENV`."""
    from ipykernel.kernelspec import install
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    def current():
        try:
            return KernelSpecManager().get_kernel_spec(KERNEL_NAME)
        except NoSuchKernel:
            return None

    spec = current()
    if spec is None or spec.argv[0] != sys.executable or any(spec.env.get(k) != v for k, v in KERNEL_ENV.items()):
        install(kernel_name=KERNEL_NAME, display_name=KERNEL_DISPLAY_NAME, prefix=sys.prefix, env=dict(KERNEL_ENV))
        spec = current()
        if any(spec.env.get(k) != v for k, v in KERNEL_ENV.items()):
            raise RuntimeError(f"the kernel spec {spec.resource_dir} shadows the one installed into {sys.prefix}: "
                               f"remove it (jupyter kernelspec remove {KERNEL_NAME})")
    return Path(spec.resource_dir)


def _without_progress(text: str) -> str:
    """``text`` less its progress-bar lines (and blank ones)."""
    return "".join(ln + "\n" for ln in re.split(r"[\r\n]+", text) if ln.strip() and not PROGRESS_LINE.search(ln))


def _tidy(notebook, stage: str, target: Path) -> None:
    """Drop progress-bar output (it is in the stage log) and record repository-relative paths."""
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.outputs:
            if output.output_type == "stream" and output.name == "stderr":
                output.text = _without_progress(output.text)
                if not output.text:
                    continue
            kept.append(output)
        cell.outputs = kept
    notebook.metadata.papermill.update(input_path=f"{BOOK_DIR.name}/{stage}.py", output_path=_repo_relative(target))


def _execute(stage: str, parameters: dict, executed_dir: Path, log: Path) -> None:
    import jupytext
    import nbformat
    import papermill as pm
    import zmq
    from traitlets.config import Config

    notebook = jupytext.read(BOOK_DIR / f"{stage}.py")
    notebook.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": KERNEL_DISPLAY_NAME, "language": "python"}
    executed_dir.mkdir(parents=True, exist_ok=True)
    source = executed_dir / f".{stage}.input.ipynb"
    nbformat.write(notebook, source)
    target = executed_dir / f"{stage}.ipynb"
    partial = executed_dir / f".{stage}.partial.ipynb"
    (executed_dir / f"{stage}.params.yaml").write_text(yaml.safe_dump(parameters, sort_keys=True))
    try:
        executed = pm.execute_notebook(str(source), str(partial), parameters=parameters, kernel_name=KERNEL_NAME,
                                       cwd=str(REPO_ROOT), progress_bar=False, log_output=True,
                                       config=Config(KERNEL_MANAGER_CONFIG if zmq.has("curve") else {}))
    except pm.PapermillExecutionError as error:
        line = next((ln for ln in reversed(error.source.splitlines()) if ln.strip()), "")
        raise StageFailed(f"stage {stage} failed in cell [{error.exec_count}] ({line.strip()[:80]}): "
                          f"{error.ename}: {error.evalue}\n(the partly executed notebook is "
                          f"{_repo_relative(partial)}; its log {_repo_relative(log)})") from None
    _tidy(executed, stage, target)
    nbformat.write(executed, partial)
    os.replace(partial, target)
    source.unlink()


# -- the terminal and the logs ----------------------------------------------------------------------

def _terminal(stream):
    """A stream that keeps writing where ``stream`` writes now, even while fd 1 and 2 go to a log."""
    try:
        return os.fdopen(os.dup(stream.fileno()), "w", buffering=1, encoding="utf-8", errors="replace")
    except (AttributeError, OSError, ValueError):  # not backed by a file descriptor (e.g. captured)
        return stream


@contextmanager
def _output_to(log: Path):
    """Send what this process and its children (the kernel) write to stdout / stderr to ``log``,
    with papermill's log (cell outputs included)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = (os.dup(1), os.dup(2))
    descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    os.close(descriptor)
    handler = logging.FileHandler(log)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    papermill_log = logging.getLogger("papermill")
    papermill_log.addHandler(handler)
    papermill_log.setLevel(logging.INFO)
    try:
        yield
    finally:
        papermill_log.removeHandler(handler)
        handler.close()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)


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


# -- the run ----------------------------------------------------------------------------------------

def run(profile: str, manifest: str, stages: list[str] | None = None, build_dir: str = "_build",
        params: dict | None = None, force: bool = False, render_html: bool = True) -> list[StageResult]:
    """Run stages in order (all by default), then render. Returns one result per stage."""
    build = (REPO_ROOT / build_dir).resolve()
    all_stages = discover_stages()
    wanted = stages or all_stages
    unknown = sorted(set(wanted) - set(all_stages))
    if unknown:
        raise SystemExit(f"unknown stage(s) {unknown}; stages are {all_stages}")
    out, err = _terminal(sys.stdout), _terminal(sys.stderr)
    try:
        results = _run_stages(profile, REPO_ROOT / manifest, wanted, build, params or {}, force, out, err)
        if render_html:
            render(build_dir, out=out)
    finally:
        for stream in (out, err):
            if stream not in (sys.stdout, sys.stderr):
                stream.close()
    return results


def _run_stages(profile: str, manifest_path: Path, wanted: list[str], build: Path, params: dict, force: bool,
                out, err) -> list[StageResult]:
    from tqdm import tqdm

    all_stages = discover_stages()
    logs, artifacts = build / "logs", build / "artifacts"
    with _output_to(logs / "cohort.log"):
        install_kernel()
        cohort_fingerprint = prepare_cohort(manifest_path.resolve())
    results: list[StageResult] = []
    for stage in tqdm(wanted, desc="stages", unit="stage", file=err, leave=False):
        parameters = {"manifest": _repo_relative(manifest_path), "profile": profile,
                      "artifacts": _repo_relative(artifacts), **_stage_params(params, stage)}
        notebook = BOOK_DIR / f"{stage}.py"
        upstream = [artifacts / s for s in all_stages if s < stage]
        key = stage_key(notebook, parameters, cohort_fingerprint, upstream, library_fingerprint(notebook, LIBRARY_DIR))
        key_file = artifacts / stage / KEY_FILE
        if not force and (build / "executed" / f"{stage}.ipynb").exists() and key_file.exists() \
                and key_file.read_text() == key:
            tqdm.write(f"  {stage}: unchanged, cached", file=out)
            results.append(StageResult(stage, "cached", 0.0, 0.0))
            continue
        key_file.unlink(missing_ok=True)
        start = time.perf_counter()
        with _sample_peak_rss() as peak:
            try:
                with _output_to(logs / f"{stage}.log"):
                    _execute(stage, parameters, build / "executed", logs / f"{stage}.log")
            except StageFailed:
                results.append(StageResult(stage, "failed", time.perf_counter() - start, peak["mib"]))
                print_summary(results, out)
                raise
        (artifacts / stage).mkdir(parents=True, exist_ok=True)
        key_file.write_text(key)
        results.append(StageResult(stage, "ran", time.perf_counter() - start, peak["mib"]))
        build_record.write_stage_run(build / "executed" / f"{stage}.run.json", asdict(results[-1]),
                                     {**notebook_defaults(notebook), **parameters})
        tqdm.write(f"  {stage}: ran in {results[-1].seconds:.1f} s", file=out)
    with _output_to(logs / "build_info.log"):
        build_record.write_build_info(build, all_stages)
    print_summary(results, out)
    return results


def _repo_relative(path: Path) -> str:
    """A path as the notebooks see it (they run in the repository root): relative when inside it."""
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
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


def print_summary(results: list[StageResult], out=None) -> None:
    """A closing table: stage, status, wall time, peak RSS (runner + kernel, sampled)."""
    out = out or sys.stdout
    lines = [f"\n{'stage':<28}{'status':<9}{'seconds':>9}{'peak RSS MiB':>14}"]
    lines += [f"{r.stage:<28}{r.status:<9}{r.seconds:>9.1f}{r.peak_rss_mib:>14.0f}" for r in results]
    lines.append(f"{'total':<37}{sum(r.seconds for r in results):>9.1f}\n")
    print("\n".join(lines), file=out, flush=True)


# -- rendering --------------------------------------------------------------------------------------

def _render_inputs(build: Path) -> list[Path]:
    """Every file the rendered HTML depends on (besides the "About this build" box)."""
    files = [REPO_ROOT / name for name in RENDER_FILES] + sorted(BOOK_DIR.glob("*.md"))
    files += sorted((BOOK_DIR / "figures").glob("*")) + sorted((BOOK_DIR / "_ext").glob("*.py"))
    return files + sorted((build / "executed").glob("[0-9][0-9]_*.ipynb"))


def render(build_dir: str = "_build", strict: bool = True, out=None) -> Path:
    """Render the executed notebooks and the book's pages to ``<build>/html`` with Jupyter Book.

    Skipped when the HTML was built from exactly the same inputs. Jupyter Book's output goes to
    ``<build>/logs/render.log``.
    """
    out = out or sys.stdout
    build = (REPO_ROOT / build_dir).resolve()
    hasher = hashlib.sha256()
    hash_files(_render_inputs(build), hasher)
    about = build_record.build_info_markdown(build)
    hasher.update(about.encode())
    render_key = hasher.hexdigest()
    html, log = build / "html", build / "logs" / "render.log"
    key_file = html / KEY_FILE
    if key_file.exists() and key_file.read_text() == render_key:
        print(f"  render: unchanged, cached ({_repo_relative(html / 'index.html')})", file=out, flush=True)
        return html
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
    (source / "book" / build_record.BUILD_INFO_PAGE).write_text(about)
    _copy_mathjax(source / "_vendor" / "mathjax")
    for folder in ("figures", "_ext"):
        shutil.copytree(BOOK_DIR / folder, source / "book" / folder, ignore=shutil.ignore_patterns("__pycache__"))
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(source), "--path-output",
               str(build / "render")]
    if strict:
        command += ["-W", "--keep-going"]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as fh:
        completed = subprocess.run(command, cwd=REPO_ROOT, stdout=fh, stderr=subprocess.STDOUT)
    if completed.returncode != 0:
        lines = re.sub(r"\x1b\[[0-9;]*m", "", log.read_text(errors="replace")).splitlines()
        tail = "\n".join([ln for ln in lines if "WARNING" in ln or "ERROR" in ln][:20] or lines[-25:])
        raise SystemExit(f"{tail}\njupyter-book build failed (exit {completed.returncode}); "
                         f"the whole output is in {_repo_relative(log)}")
    if html.exists():
        shutil.rmtree(html)
    shutil.move(str(build / "render" / "_build" / "html"), str(html))
    key_file.write_text(render_key)
    print(f"  render: {_repo_relative(html / 'index.html')}", file=out, flush=True)
    return html


def _copy_mathjax(target: Path) -> None:
    """MathJax 3 (TeX input, SVG output: no web fonts) from the ``django-static-mathjax`` package."""
    import mathjax

    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    combined = {p.name for p in es5.glob("*.js")} - {"tex-svg.js"}
    shutil.copytree(es5, target, ignore=lambda folder, names: combined & set(names) if Path(folder) == es5 else ())


# -- command line -----------------------------------------------------------------------------------

def _parse_param(text: str) -> tuple[str, object]:
    try:
        return parse_assignment(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--param expects [stage:]key=value, got {text!r}") from None


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
    sub.add_parser("kernel", help=f"install the {KERNEL_NAME!r} kernel spec of this Python")
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            run(args.profile, args.manifest, args.stages, args.build_dir, dict(args.param), args.force,
                not args.no_render)
        elif args.command == "render":
            render(args.build_dir)
        else:
            print(f"kernel {KERNEL_NAME!r}: {install_kernel()}")
    except StageFailed as error:
        print(f"\nERROR: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
