"""What stages agree on, defined once: stage ids and the flat headline of each stage's ``metrics.json``.

A stage id is also its notebook's name (``book/<id>.py``) and its artifact folder. Each stage package
declares the headline names it writes (``HEADLINE_NAMES``); :func:`headline` checks a result's
numbers against them, so every cohort and profile gives the same names (``docs/ARTIFACTS.md``).
"""
from __future__ import annotations

import math
from typing import Iterable, Mapping

COHORT = "00_cohort"
SELECTION = "01_image_selection"
DETECTION = "02_joint_detection"
CLASSIFICATION = "03_joint_classification"
GRADING = "04_joint_grading"
OVERALL_SCORE = "05_overall_score"
COMPARISONS = "06_comparisons"
SCORING = "07_scoring"
#: Every stage in run order.
STAGES = (COHORT, SELECTION, DETECTION, CLASSIFICATION, GRADING, OVERALL_SCORE, COMPARISONS, SCORING)

METRICS_FILE = "metrics.json"


def headline(names: Iterable[str], values: Mapping[str, float | None]) -> dict[str, float | None]:
    """The flat headline: exactly ``names``, each a float or ``None`` (not measured on this cohort).

    Raises ``ValueError`` naming undeclared or missing names, so a stage cannot drift from its contract.
    """
    names = list(names)
    extra, missing = sorted(set(values) - set(names)), sorted(set(names) - set(values))
    if extra or missing:
        raise ValueError(f"headline does not match its declared names: undeclared {extra}, missing {missing}")
    out = {}
    for name in names:
        value = values[name]
        value = None if value is None else float(value)
        out[name] = None if value is None or not math.isfinite(value) else value
    return out
