"""Stage 4: per-joint grading with class-imbalance remedies and CDF regression with a CRPS loss (papers 002, 004).

Public API: :data:`STAGE`, :class:`GradingSettings` and its :data:`PROFILES`, :data:`HEADLINE_NAMES`,
:func:`run` and its :class:`GradingResult` (``headline()``); figures in :mod:`.figures`.
"""
from ra_lib.core.contracts import GRADING as STAGE
from ra_lib.stages.grading.pipeline import HEADLINE_NAMES, GradingResult, run
from ra_lib.stages.grading.settings import PROFILES, GradingSettings

__all__ = ["STAGE", "GradingSettings", "PROFILES", "HEADLINE_NAMES", "run", "GradingResult"]
