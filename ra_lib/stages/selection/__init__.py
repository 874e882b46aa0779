"""Stage 1, image selection (paper 000): which radiographs show one hand, both hands, or neither.

Paper 000 trains two binary CNNs on 252x252 inputs, Model 1 (one hand vs the rest) and Model 2 (both
hands vs the rest), and fuses them into three classes. :func:`run` also trains one three-class CNN
on the same split and evaluates the DICOM-tag baseline, the majority class and hands turned by 90
degrees, and an orientation model (quarter turn and thumb side, SHS_NET's 12 classes). Modules:
:mod:`.settings` (knobs, profiles), :mod:`.model` (the CNN), :mod:`.data` (labels, image cache,
fold-based split), :mod:`.augment` (Tables 1 and 2), :mod:`.train`, :mod:`.evaluate`,
:mod:`.orientation` (classes, exact variants, ``upright``), :mod:`.orientation_model` (its CNN and
training), :mod:`.orientation_evaluate` (``orientation.csv``, accuracies), :mod:`.upright` (the later stages' cohort
turned upright by ``orientation.csv``), :mod:`.stage` (:func:`run`, the result and its headline) and
:mod:`.figures` (the chapter's tables and figures).
"""
from ra_lib.stages.selection.settings import PROFILES, AugmentRanges, SelectionSettings
from ra_lib.stages.selection.stage import HEADLINE_NAMES, STAGE, SelectionResult, run

__all__ = ["STAGE", "SelectionSettings", "AugmentRanges", "PROFILES", "HEADLINE_NAMES", "run", "SelectionResult"]
