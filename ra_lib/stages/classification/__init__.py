"""Stage 3 (paper 001): per-joint intact (grade 0) vs non-intact (grade >= 1) classification.

Four networks (:mod:`.models`: SISO, MIMO local, MIMO one-hand, MIMO both-hands) are trained per
kind and joint group on stage 2's crop store (:mod:`.samples`), in paper 001's 8-fold
patient-disjoint cross-validation (:mod:`.train`), and scored with the readers (:mod:`.evaluate`,
:mod:`.figures`). :func:`run` does it all and returns a :class:`ClassificationResult`.
"""
from ra_lib.core.contracts import CLASSIFICATION as STAGE
from ra_lib.stages.classification.evaluate import HEADLINE_NAMES
from ra_lib.stages.classification.settings import PROFILES, ClassificationSettings
from ra_lib.stages.classification.stage import ClassificationResult, run

__all__ = ["STAGE", "ClassificationSettings", "PROFILES", "HEADLINE_NAMES", "run", "ClassificationResult"]
