"""Stage 6 end to end: :func:`run` reads the upstream artifacts and computes every table of the page.

A section whose upstream stage has not run is left out (its table is ``None`` and
:meth:`ComparisonsResult.note` says why); a stage without a headline leaves its published numbers
without a book value. Neither is an error.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from ra_lib.core import artifacts as store
from ra_lib.core.contracts import CLASSIFICATION, GRADING, OVERALL_SCORE, headline
from ra_lib.evaluation import published
from ra_lib.evaluation.readers import reader_rows
from ra_lib.stages.comparisons import grading, inputs, scores, table4
from ra_lib.stages.comparisons.headline import HEADLINE_NAMES, headline_table, headline_values, missing_headlines_note
from ra_lib.stages.comparisons.settings import ComparisonsSettings
from ra_lib.stages.comparisons.tables import recomputed, records

#: Artifact file of each table of :class:`ComparisonsResult` (attribute -> file name).
TABLE_FILES = {"table4": "table4_ci.csv", "pr_auc": "pr_auc_definitions.csv", "model_vs_reader": "model_vs_reader.csv",
               "agreement": "overall_agreement.csv", "error_comparisons": "overall_error_comparisons.csv",
               "grading": "grading_ci.csv", "grading_mcnemar": "grading_mcnemar.csv", "book_vs_papers": "headline.csv"}


@dataclass(frozen=True)
class ComparisonsResult:
    """Every table of the page; a table is ``None`` when its upstream stage has not run.

    ``table4``, ``pr_auc``, ``model_vs_reader``: paper 001 (stage 3, its out-of-fold rows with the
    cohort's readers' calls appended); ``agreement``, ``error_comparisons``: paper 003
    (stage 5); ``grading``, ``grading_mcnemar``: paper 004 (stage 4); ``book_vs_papers``: the
    published headline numbers beside the book's; ``missing_tables`` / ``missing_headlines``: stage
    -> why its predictions / its headline could not be read.
    """

    settings: ComparisonsSettings
    book_vs_papers: pd.DataFrame
    table4: pd.DataFrame | None = None
    pr_auc: pd.DataFrame | None = None
    model_vs_reader: pd.DataFrame | None = None
    agreement: pd.DataFrame | None = None
    error_comparisons: pd.DataFrame | None = None
    grading: pd.DataFrame | None = None
    grading_mcnemar: pd.DataFrame | None = None
    missing_tables: dict[str, str] = field(default_factory=dict)
    missing_headlines: dict[str, str] = field(default_factory=dict)

    @property
    def has_readers(self) -> bool:
        """Whether the cohort's readers graded any joint stage 3 predicted."""
        return self.model_vs_reader is not None and len(self.model_vs_reader) > 0

    def headline(self) -> dict[str, float | None]:
        """Stage 6's flat headline (:data:`HEADLINE_NAMES`)."""
        return headline(HEADLINE_NAMES, headline_values(self.book_vs_papers))

    def note(self, stage: str) -> str:
        """Markdown for a section whose upstream ``stage`` has not run; empty when it has."""
        if stage not in self.missing_tables:
            return ""
        return f"**Stage `{stage}` has not been run**: {self.missing_tables[stage]}. This part of the page is skipped."

    def headline_note(self) -> str:
        """Markdown naming the stages whose headline is missing; empty when none is."""
        return missing_headlines_note(self.missing_headlines)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The computed tables by artifact file name (:data:`TABLE_FILES`)."""
        return {name: getattr(self, attribute) for attribute, name in TABLE_FILES.items()
                if getattr(self, attribute) is not None}

    def write_tables(self, folder: str | Path) -> list[Path]:
        """Write :meth:`tables` as CSV files into ``folder`` (the stage's artifact folder)."""
        return [store.write_table(table, Path(folder) / name) for name, table in self.tables().items()]

    def details(self) -> dict:
        """The detail tables of ``metrics.json`` (strict JSON), beside the headline."""
        t4 = self.table4
        return {
            "stages_missing": sorted(self.missing_tables), "headlines_missing": sorted(self.missing_headlines),
            "table4_all_joints": None if t4 is None else records(t4.loc[t4["region"] == "all", [
                "kind", "model", "metric", "estimate", "lower", "upper", "n", "n_pos", "diff", "p_holm",
                "significant"]]),
            "overall": None if self.agreement is None else records(self.agreement),
            "grading": None if self.grading is None else records(self.grading),
            "book_vs_papers": records(self.book_vs_papers[["id", "book_name", "value", "book", "status", "recomputed",
                                                           "recomputed_lower", "recomputed_upper",
                                                           "recomputed_matches"]]),
        }


def _read(loader: Callable, stage: str, root, missing: dict[str, str]) -> pd.DataFrame | None:
    try:
        return loader(root)
    except store.MissingArtifactError as error:
        missing[stage] = str(error)
        return None


def run(settings: ComparisonsSettings, *, artifacts_root: str | Path, cohort, seed: int = 0) -> ComparisonsResult:
    """Every comparison of the page from the artifacts under ``artifacts_root`` and the cohort's readers."""
    boot = {"n_boot": settings.n_boot, "seed": seed, "alpha": settings.alpha}
    missing: dict[str, str] = {}
    parts: dict[str, pd.DataFrame] = {}
    own = []
    oof = _read(inputs.load_oof, CLASSIFICATION, artifacts_root, missing)
    if oof is not None:
        predictions = pd.concat([oof, reader_rows(cohort.readers, oof)], ignore_index=True)
        parts["table4"] = table4.table4_ci(predictions, threshold=settings.threshold, **boot)
        parts["pr_auc"] = table4.pr_auc_definitions(predictions)
        parts["model_vs_reader"] = table4.reader_comparisons(predictions, regions=("all",),
                                                             threshold=settings.threshold, **boot)
        own.append(table4.table4_recomputed(parts["table4"]))
    score_predictions = _read(inputs.load_score_predictions, OVERALL_SCORE, artifacts_root, missing)
    if score_predictions is not None:
        parts["agreement"] = scores.score_agreement(score_predictions, split=settings.split, **boot)
        parts["error_comparisons"] = scores.error_comparisons(score_predictions, split=settings.split)
        own.append(scores.scores_recomputed(parts["agreement"], split=settings.split))
    grades = _read(inputs.load_grade_predictions, GRADING, artifacts_root, missing)
    if grades is not None:
        parts["grading"] = grading.grading_ci(grades, split=settings.split, **boot)
        parts["grading_mcnemar"] = grading.grading_mcnemar(grades, split=settings.split)
        own.append(grading.grading_recomputed(parts["grading"]))
    headlines, missing_headlines = inputs.read_headlines(artifacts_root)
    own_numbers = pd.concat(own, ignore_index=True) if own else recomputed("", [])
    book_vs_papers = headline_table(published.headline(), headlines, own_numbers)
    return ComparisonsResult(settings=settings, book_vs_papers=book_vs_papers, missing_tables=missing,
                             missing_headlines=missing_headlines, **parts)
