"""Scoring new radiographs with the trained book (issue #18): no training, only the bundles of a build.

Stage 1's bundle turns each image upright and selects it (one hand, both hands, other; paper 000's two
binary models fused); stage 2's finds each hand's joints, stage 3's gives them P(damaged), stage 4's a grade
distribution, stage 5's the overall SvdH score of each hand. Modules: :mod:`.settings`, :mod:`.inputs`
(files, folders, manifests, pseudonyms), :mod:`.models` (the bundles), :mod:`.image_scoring` (one image),
:mod:`.joints` (one hand's joints), :mod:`.overlay` (its verdict PNG), :mod:`.results` (resumable per-image
results and the tables), :mod:`.execution` (one process or dask), :mod:`.report` (HTML), :mod:`.truth`
(against a cohort's truth) and :mod:`.stage` (:func:`run`). The command line is ``python -m ra_lib.score``.
"""
from ra_lib.stages.scoring.settings import PROFILES, ScoringSettings
from ra_lib.stages.scoring.stage import HEADLINE_NAMES, STAGE, ScoringResult, run

__all__ = ["STAGE", "ScoringSettings", "PROFILES", "HEADLINE_NAMES", "run", "ScoringResult"]
