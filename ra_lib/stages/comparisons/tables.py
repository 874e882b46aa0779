"""Small table helpers shared by the stage's sections: interval cells, Holm within groups, JSON records."""
from __future__ import annotations

import pandas as pd

from ra_lib.evaluation import stats


def format_ci(estimate: float, lower: float, upper: float, digits: int = 2) -> str:
    """``"0.65 [0.55, 0.72]"``; the bare estimate without an interval, ``"-"`` when undefined.

    The interval's inner space is non-breaking, so a narrow table cell breaks only before the interval.
    """
    if pd.isna(estimate):
        return "-"
    if pd.isna(lower) or pd.isna(upper):
        return f"{estimate:.{digits}f}"
    return f"{estimate:.{digits}f} [{lower:.{digits}f},\u00a0{upper:.{digits}f}]"


def holm_within(table: pd.DataFrame, column: str, by: list[str]) -> pd.Series:
    """Holm-adjusted ``column`` within each group of ``by``."""
    if table.empty:
        return pd.Series(dtype=float)
    return table.groupby(by, sort=False)[column].transform(stats.adjust_pvalues, "holm")


def records(table: pd.DataFrame) -> list[dict]:
    """Rows as dicts with missing values as ``None`` (strict JSON for ``metrics.json``)."""
    return table.astype(object).where(table.notna(), None).to_dict("records")


#: Columns of a section's recomputed numbers under the upstream stages' headline names.
RECOMPUTED_COLUMNS = ("stage", "book_name", "recomputed", "recomputed_lower", "recomputed_upper", "recomputed_source")


def recomputed(stage: str, rows) -> pd.DataFrame:
    """A section's own estimates of numbers that ``stage`` reports in its headline: ``rows`` of
    ``(book_name, estimate, lower, upper, source)``, as a table of :data:`RECOMPUTED_COLUMNS`."""
    table = pd.DataFrame(list(rows), columns=list(RECOMPUTED_COLUMNS[1:]))
    table.insert(0, "stage", stage)
    return table.astype({c: float for c in RECOMPUTED_COLUMNS[2:5]})
