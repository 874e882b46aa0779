"""Stage 6: statistics across stages, from the artifacts of stages 1-5 alone.

Paper 001 Table 4 with confidence intervals and tests against SISO and the readers (:mod:`.table4`),
paper 003's agreement criteria and paired tests (:mod:`.scores`), paper 004 Table 2 with intervals
and McNemar tests (:mod:`.grading`), and every published headline number beside the book's
(:mod:`.headline`). Intervals are patient-clustered percentile bootstraps
(:func:`ra_lib.evaluation.bootstrap.bootstrap_ci`): joints and hands of one patient are not independent.
"""
from ra_lib.core.contracts import COMPARISONS as STAGE
from ra_lib.stages.comparisons.headline import HEADLINE_NAMES
from ra_lib.stages.comparisons.settings import PROFILES, ComparisonsSettings
from ra_lib.stages.comparisons.stage import ComparisonsResult, run

__all__ = ["STAGE", "ComparisonsSettings", "PROFILES", "HEADLINE_NAMES", "run", "ComparisonsResult"]
