"""Scoring as one call: :func:`run` scores files with the bundles of a build and writes the outputs.

Outputs in ``out_dir``: ``images.parquet`` / ``images.csv`` (one row per input file), ``hands.parquet`` /
``hands.csv`` (one row per hand found), ``joints.parquet`` / ``joints.csv`` (one row per site of each
hand, found or not), ``patients.parquet`` / ``patients.csv`` (one row per pseudonymised patient visit:
both hands' score, :mod:`.patients`), ``images/<image_key>.png`` (the verdicts) and ``report.html``.
Results already on disk for the same file content, bundles and settings are reused (a re-run scores
only what is new); every file is written atomically and the tables only once every image is done.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pandas as pd
from tqdm import tqdm

from ra_lib.cohort.sites import KINDS
from ra_lib.core import contracts
from ra_lib.core.artifacts import atomic_path, write_table
from ra_lib.stages.scoring import report
from ra_lib.stages.scoring.execution import default_workers, run_tasks
from ra_lib.stages.scoring.image_scoring import FLAGS, ScoringTask
from ra_lib.stages.scoring.inputs import ScoringInput, content_key
from ra_lib.stages.scoring.models import ModelSource, ScoringModels
from ra_lib.stages.scoring.results import IMAGE_KEY_LENGTH, ResultStore, flag_counts, output_tables, result_key
from ra_lib.stages.scoring.settings import ScoringSettings
from ra_lib.stages.scoring.truth import TruthComparison

STAGE = contracts.SCORING
#: Every name of :meth:`ScoringResult.headline` (``docs/ARTIFACTS.md``).
HEADLINE_NAMES = ("images", "scored_images", "flagged_images", *(f"flagged/{flag}" for flag in FLAGS),
                  "hands_scored", "joints_found", "joints_not_found", "selection_agreement", "hand_score_mae",
                  "hand_joint_sum_mae", "joint_sum_coverage",
                  *(f"joint_{name}/{kind}" for name in ("roc_auc", "grade_accuracy") for kind in KINDS))
#: The tables written (Parquet and CSV each).
TABLES = ("images", "hands", "joints", "patients")
#: The output files besides the verdict PNGs.
OUTPUT_FILES = (*(f"{table}.{suffix}" for table in TABLES for suffix in ("parquet", "csv")), "report.html")


@dataclass
class ScoringResult:
    """One scoring run: the tables written, how many images were reused from an earlier run, timings."""

    settings: ScoringSettings
    out_dir: Path
    images: pd.DataFrame
    hands: pd.DataFrame
    joints: pd.DataFrame
    patients: pd.DataFrame
    models: dict[str, str]  # stage -> the bundle used, or why none
    reused: int  # images whose result was already on disk
    seconds: float
    worker_peak_rss_mib: list[float] = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """The report's summary lines as a table."""
        return pd.DataFrame(report.summary_rows(self.images, self.hands, self.patients), columns=["what", "images"])

    def flagged(self) -> pd.DataFrame:
        """The flagged images with their flags and reasons."""
        return self.images.loc[self.images["status"] == "flagged", ["image_key", "selection", "flags", "reasons"]]

    def joint_summary(self) -> pd.DataFrame:
        """The report's joints per kind (:func:`.report.joint_summary`)."""
        return report.joint_summary(self.joints)

    def headline(self, truth: TruthComparison | None = None) -> dict[str, float | None]:
        """Counts of the run; agreement with the truth only when ``truth`` is given."""
        counts = flag_counts(self.images)
        detection = self.joints["detection"].value_counts()
        values = {**dict.fromkeys(HEADLINE_NAMES),
                  "images": len(self.images), "scored_images": int((self.images["status"] == "scored").sum()),
                  "flagged_images": int((self.images["status"] == "flagged").sum()),
                  **{f"flagged/{flag}": counts[flag] for flag in FLAGS},
                  "hands_scored": int(self.hands["score"].notna().sum()),
                  "joints_found": int(detection.get("found", 0)),
                  "joints_not_found": int(detection.get("not_found", 0)),
                  "selection_agreement": truth.selection_agreement if truth else None,
                  "hand_score_mae": truth.hand_score_mae if truth else None,
                  "hand_joint_sum_mae": truth.hand_joint_sum_mae if truth else None,
                  "joint_sum_coverage": truth.joint_sum_coverage if truth else None}
        if truth is not None:
            agreement = truth.joint_agreement().set_index("kind")
            for kind in agreement.index:
                values[f"joint_roc_auc/{kind}"] = agreement.at[kind, "roc_auc"]
                values[f"joint_grade_accuracy/{kind}"] = agreement.at[kind, "grade_accuracy"]
        return contracts.headline(HEADLINE_NAMES, values)


def run(inputs: Sequence[ScoringInput], artifacts_root: str | Path, out_dir: str | Path,
        settings: ScoringSettings, *, scheduler: str | None = None, progress: bool = True) -> ScoringResult:
    """Score ``inputs`` with the bundles under ``artifacts_root`` and write the outputs to ``out_dir``.

    ``settings.workers`` local dask workers (0: this process, ``None``: the machine's cores), or the
    cluster at ``scheduler``; both give the same tables as one process.
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    store = ResultStore(out_dir)
    models = ScoringModels.load(artifacts_root, settings.held_out_fold)
    source = ModelSource(str(Path(artifacts_root).resolve()), models.fingerprint,  # workers may run elsewhere
                         settings.held_out_fold)
    keys, tasks = [], {}
    for item in tqdm(inputs, desc="hashing", unit="file", disable=not progress, leave=False):
        content = content_key(item.path)
        key = result_key(content, models.fingerprint, settings.result_settings())
        keys.append(key)
        if not store.has(key):
            tasks.setdefault(key, ScoringTask(str(Path(item.path).resolve()), key, content[:IMAGE_KEY_LENGTH],
                                              item.laterality))
    workers = default_workers() if settings.workers is None else settings.workers
    memory = []
    if tasks:
        memory = run_tasks(list(tasks.values()), source, settings, lambda task, record, png: store.save(record, png),
                           workers=workers, scheduler=scheduler, progress=progress, models=models)
    tables = dict(zip(TABLES, output_tables(list(inputs), keys, store)))
    lines = dict(models.described)
    for name in OUTPUT_FILES[:-1]:
        write_table(tables[name.split(".")[0]], out_dir / name)
    with atomic_path(out_dir / "report.html") as tmp:
        tmp.write_text(report.render(tables["images"], tables["hands"], tables["joints"], lines,
                                     tables["patients"]))
    return ScoringResult(settings, out_dir, *tables.values(), lines, reused=len(set(keys)) - len(tasks),
                         seconds=time.perf_counter() - start, worker_peak_rss_mib=memory)
