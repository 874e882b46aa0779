"""What stage 6 reads: the prediction tables of stages 3-5 and the headlines of stages 1-5, by contract.

Tables are read with :func:`ra_lib.core.artifacts.read_table` and checked against their contract
columns (docs/ARTIFACTS.md): a missing column or an empty value raises
:class:`ra_lib.core.errors.RaDataError` naming the file, the column and the line. An upstream stage
that has not run raises :class:`ra_lib.core.artifacts.MissingArtifactError` naming the stage.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from ra_lib.core import artifacts as store
from ra_lib.core.contracts import CLASSIFICATION, DETECTION, GRADING, OVERALL_SCORE, SELECTION
from ra_lib.core.errors import RaDataError
from ra_lib.evaluation.readers import OOF_COLUMNS

#: Stage 4's ``grade_predictions.csv`` and stage 5's ``predictions.csv`` columns this stage relies on.
GRADE_COLUMNS = ("hand_id", "patient", "kind", "site", "split", "method", "grade_true", "grade_pred")
SCORE_COLUMNS = ("patient", "variant", "score_true", "score_pred", "split")
#: The stages whose headlines the book-vs-papers table reads, in run order.
HEADLINE_STAGES = (SELECTION, DETECTION, CLASSIFICATION, GRADING, OVERALL_SCORE)


def read_stage_table(stage: str, name: str, columns: Iterable[str], root=store.DEFAULT_ROOT) -> pd.DataFrame:
    """An upstream table with its contract columns checked (missing ones named with the file)."""
    table = store.read_table(stage, name, root)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise RaDataError(f"{root}/{stage}/{name}: missing column(s) {missing}; it has {list(table.columns)}")
    return table


def _no_missing(table: pd.DataFrame, columns: Iterable[str], where: str) -> None:
    for column in columns:
        absent = table[column].isna().to_numpy()
        if absent.any():
            row = int(np.flatnonzero(absent)[0]) + 2  # CSV line: header is line 1
            raise RaDataError(f"{where}: column {column!r} has {int(absent.sum())} empty value(s), first on line {row}")


def load_oof(root=store.DEFAULT_ROOT) -> pd.DataFrame:
    """Stage 3's out-of-fold predictions (``oof_predictions.csv``)."""
    table = read_stage_table(CLASSIFICATION, "oof_predictions.csv", OOF_COLUMNS, root)
    _no_missing(table, ("patient", "kind", "group", "model", "probability", "label"),
                f"{root}/{CLASSIFICATION}/oof_predictions.csv")
    return table


def load_grade_predictions(root=store.DEFAULT_ROOT) -> pd.DataFrame:
    """Stage 4's per-joint grade predictions (``grade_predictions.csv``)."""
    table = read_stage_table(GRADING, "grade_predictions.csv", GRADE_COLUMNS, root)
    _no_missing(table, ("patient", "kind", "split", "method", "grade_pred"), f"{root}/{GRADING}/grade_predictions.csv")
    return table


def load_score_predictions(root=store.DEFAULT_ROOT) -> pd.DataFrame:
    """Stage 5's overall-score predictions (``predictions.csv``, keyed by ``hand_id`` or ``image_id``)."""
    table = read_stage_table(OVERALL_SCORE, "predictions.csv", SCORE_COLUMNS, root)
    where = f"{root}/{OVERALL_SCORE}/predictions.csv"
    id_column(table, where)
    _no_missing(table, SCORE_COLUMNS, where)
    return table


def id_column(predictions: pd.DataFrame, where: str = "stage 5 predictions") -> str:
    """``hand_id`` or ``image_id``: the unit of stage 5's predictions."""
    for column in ("hand_id", "image_id"):
        if column in predictions.columns:
            return column
    raise RaDataError(f"{where}: needs a hand_id or image_id column; it has {list(predictions.columns)}")


def read_headlines(root: str | Path = store.DEFAULT_ROOT, stages: Iterable[str] = HEADLINE_STAGES
                   ) -> tuple[dict[str, dict], dict[str, str]]:
    """The headline of every stage that has one, and for each other stage why not.

    Returns ``(headlines, missing)``: ``headlines[stage]`` is the flat ``{name: number or None}`` of
    :func:`ra_lib.core.artifacts.read_headline`; ``missing[stage]`` is the reason a stage has none
    (no ``metrics.json``, or one written before headlines existed).
    """
    headlines, missing = {}, {}
    for stage in stages:
        try:
            headlines[stage] = store.read_headline(stage, root)
        except store.MissingArtifactError as error:
            missing[stage] = str(error)
    return headlines, missing
