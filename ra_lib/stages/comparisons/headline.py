"""The book beside the papers: every published headline number next to the book's number for it.

The book's number is the upstream stage's own headline, ``read_headline(stage)[book_name]`` with
``book_name`` from :func:`ra_lib.evaluation.published.headline`. Where stage 6 recomputes the same
number from the stage's predictions (Table 4, Table 2, the overall score) its patient-bootstrap
interval is shown with it, and a recomputation that disagrees with the headline is flagged.
The papers measured their patients; the book measures its cohort: different data.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from ra_lib.stages.comparisons.tables import RECOMPUTED_COLUMNS, format_ci

#: Stage 6's own headline: how many published numbers there are, how many have a book value on this
#: build, and how many of stage 6's recomputations disagree with the upstream headline.
HEADLINE_NAMES = ("published_numbers", "compared_numbers", "recomputed_mismatches")

#: ``status`` of a book value, and what the table shows in its place when there is no number.
MEASURED = "measured"
NOT_MEASURED = "not measured on this cohort"
NO_HEADLINE = "stage headline missing"
NOT_IN_HEADLINE = "name not in the stage's headline"

#: Relative and absolute tolerance of "the recomputation agrees with the headline".
RTOL, ATOL = 1e-6, 1e-9


def book_value(headlines: Mapping[str, Mapping], stage: str, name: str) -> tuple[float, str]:
    """The book's number for ``name`` in ``stage``'s headline (nan when there is none) and its status."""
    if stage not in headlines:
        return np.nan, NO_HEADLINE
    if name not in headlines[stage]:
        return np.nan, NOT_IN_HEADLINE
    value = headlines[stage][name]
    return (np.nan, NOT_MEASURED) if value is None else (float(value), MEASURED)


def _agrees(book: float, value: float) -> bool:
    if np.isnan(book) or np.isnan(value):
        return bool(np.isnan(book) and np.isnan(value))
    return bool(np.isclose(book, value, rtol=RTOL, atol=ATOL))


def _shown(row, digits: int) -> str:
    if row.status != MEASURED:
        return row.status
    if row.recomputed_matches is True:
        return format_ci(row.book, row.recomputed_lower, row.recomputed_upper, digits)
    return f"{row.book:.{digits}f}"


def _source(row, digits: int) -> str:
    source = f"{row.stage} headline `{row.book_name}`"
    if row.recomputed_matches is True and not pd.isna(row.recomputed_lower):
        return f"{source}; interval: {row.recomputed_source}"
    if row.recomputed_matches is False:
        return f"{source}; stage 6 recomputes {row.recomputed:.{digits}f} from {row.recomputed_source}"
    return source


def headline_table(published: pd.DataFrame, headlines: Mapping[str, Mapping], recomputed: pd.DataFrame,
                   digits: int = 3) -> pd.DataFrame:
    """Every published headline number beside the book's.

    ``published``: :func:`ra_lib.evaluation.published.headline`; ``headlines``: the upstream stages'
    headlines (:func:`ra_lib.stages.comparisons.inputs.read_headlines`; a stage absent from it has
    none); ``recomputed``: stage 6's own estimates (:data:`RECOMPUTED_COLUMNS`). Columns: the
    published row's, ``published`` (text), ``book`` and ``status`` (:data:`MEASURED`, ...),
    ``recomputed``, its interval and source, ``recomputed_matches`` (True / False, None where stage 6
    does not recompute the number or the stage has no headline), ``book_value`` (text: the number with
    the interval where the recomputation agrees, else the status) and ``book_source``.
    """
    found = [book_value(headlines, stage, name) for stage, name in zip(published["stage"], published["book_name"])]
    own = recomputed[list(RECOMPUTED_COLUMNS)].drop_duplicates(["stage", "book_name"])
    table = published.assign(book=[v for v, _ in found], status=[s for _, s in found]).merge(
        own, on=["stage", "book_name"], how="left")
    table["recomputed_matches"] = pd.Series([
        None if pd.isna(source) or status in (NO_HEADLINE, NOT_IN_HEADLINE) else _agrees(book, value)
        for book, value, source, status in zip(table["book"], table["recomputed"], table["recomputed_source"],
                                               table["status"])], index=table.index, dtype=object)
    table["published"] = [("> " if rel == ">" else "") + f"{v:.4g}" for v, rel in
                          zip(table["value"], table["relation"])]
    table["book_value"] = [_shown(row, digits) for row in table.itertuples()]
    table["book_source"] = [_source(row, digits) for row in table.itertuples()]
    return table[["stage", "citation", "source", "quantity", "published", "book_value", "note", "book_source", "id",
                  "book_name", "value", "book", "status", *RECOMPUTED_COLUMNS[2:], "recomputed_matches"]]


def headline_values(table: pd.DataFrame) -> dict[str, int]:
    """Stage 6's headline numbers (:data:`HEADLINE_NAMES`) of a :func:`headline_table`."""
    return {"published_numbers": len(table), "compared_numbers": int((table["status"] == MEASURED).sum()),
            "recomputed_mismatches": sum(match is False for match in table["recomputed_matches"])}


def missing_headlines_note(missing: Mapping[str, str]) -> str:
    """Markdown naming the stages whose headline is missing (their numbers are shown as missing)."""
    if not missing:
        return ""
    lines = [f"* `{stage}`: {reason}" for stage, reason in missing.items()]
    return ("**Numbers missing**: these stages have no headline in their `metrics.json`, so their published "
            "numbers are shown without the book's value:\n" + "\n".join(lines))
