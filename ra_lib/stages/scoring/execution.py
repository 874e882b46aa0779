"""Running the scoring tasks: in this process, or on a dask.distributed cluster (local or a user's).

On a cluster each worker loads the models once (:func:`_worker_models`, cached per worker process),
scores batches of images and sends back each image's record and PNG; this process writes them as they
arrive. Scoring is a pure
function of the file and the models, so the results equal the single-process ones.
"""
from __future__ import annotations

import logging
import os
import resource
from functools import lru_cache
from typing import Callable, Sequence

from tqdm import tqdm

from ra_lib.stages.scoring.image_scoring import ScoringTask, score_task
from ra_lib.stages.scoring.models import ModelSource, ScoringModels
from ra_lib.stages.scoring.settings import ScoringSettings

OnResult = Callable[[ScoringTask, dict, "bytes | None"], None]
#: Most images one dask task scores.
MAX_BATCH = 16


def default_workers() -> int:
    """The machine's cores."""
    return os.cpu_count() or 1


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@lru_cache(maxsize=2)
def _worker_models(source: ModelSource) -> ScoringModels:
    return source.load()


def _score_batch_on_worker(tasks: Sequence[ScoringTask], source: ModelSource, settings: ScoringSettings) -> list:
    models = _worker_models(source)
    return [score_task(task, models, settings) for task in tasks]


def batches(tasks: Sequence[ScoringTask], workers: int) -> list[list[ScoringTask]]:
    """Tasks in batches (at most :data:`MAX_BATCH`), about eight per worker, to keep the scheduler's share small."""
    size = max(1, min(MAX_BATCH, len(tasks) // (8 * max(1, workers))))
    return [list(tasks[start:start + size]) for start in range(0, len(tasks), size)]


def run_tasks(tasks: Sequence[ScoringTask], source: ModelSource, settings: ScoringSettings, on_result: OnResult,
              workers: int = 0, scheduler: str | None = None, progress: bool = True,
              models: ScoringModels | None = None) -> list[float]:
    """Score every task, calling ``on_result(task, record, png)`` for each in this process.

    ``scheduler`` (an address) uses that cluster; else ``workers`` > 0 starts a local one, 0 scores here
    (with ``models`` when already loaded). Returns the peak resident memory (MiB) of each process that scored.
    """
    bar = tqdm(total=len(tasks), desc="scoring", unit="image", disable=not progress)
    try:
        if scheduler is None and workers == 0:
            models = models or source.load()
            for task in tasks:
                on_result(task, *score_task(task, models, settings))
                bar.update()
            return [peak_rss_mib()]
        return _run_on_cluster(tasks, source, settings, on_result, workers, scheduler, bar)
    finally:
        bar.close()


def _run_on_cluster(tasks, source, settings, on_result, workers, scheduler, bar) -> list[float]:
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
    client = Client(cluster if cluster is not None else scheduler)
    try:
        groups = batches(tasks, len(client.nthreads()))
        futures = {client.submit(_score_batch_on_worker, group, source, settings, pure=False): group
                   for group in groups}
        for future in as_completed(futures):
            for task, (record, png) in zip(futures[future], future.result()):
                on_result(task, record, png)
            future.release()
            bar.update(len(futures[future]))
        return list(client.run(peak_rss_mib).values())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
