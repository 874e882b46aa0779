"""Exceptions for bad input data, each naming the file (and row/column) at fault."""
from __future__ import annotations

from dataclasses import dataclass


class RaDataError(ValueError):
    """Base class of the project's bad-input errors."""


class ImageReadError(RaDataError):
    """An image file cannot be opened or decoded; the message names the file and why."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class Problem:
    """One problem found in a cohort: where it is and what is wrong.

    ``row`` is the 1-based line number in a CSV file (the header is line 1), ``None`` for a
    problem with the whole file. ``severity`` is ``"error"`` (loading refuses the cohort)
    or ``"warning"`` (reported, loading goes on).
    """

    file: str
    row: int | None
    column: str | None
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}:{self.row}"
        column = f" {self.column}:" if self.column else ""
        level = " warning:" if self.severity == "warning" else ""
        return f"{where}:{column}{level} {self.message}"


class ManifestError(RaDataError):
    """A manifest or its cohort is invalid; ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the cohort:\n{lines}")
