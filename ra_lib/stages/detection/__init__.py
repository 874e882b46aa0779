"""Stage 2, joint detection: DeepLabCut (paper 001) and Faster R-CNN (paper 002) find the joint centres;
paper 001's detection rate and distance error, paper 002's box AP; the crop store for stages 3 and 4.

Modules: :mod:`.settings` (knobs, profiles), :mod:`.inputs` (hand frames, model inputs),
:mod:`.splits` (labelled hands), :mod:`.boxes` (paper 001's boxes), :mod:`.dlc`, :mod:`.frcnn`,
:mod:`.evaluate` (rates, distance errors, AP), :mod:`.crops` (the crop store), :mod:`.figures`,
:mod:`.pipeline` (:func:`run`).
"""
from ra_lib.core.contracts import DETECTION as STAGE
from ra_lib.stages.detection.crops import CropStore, load_crop_store, read_crop_store
from ra_lib.stages.detection.pipeline import HEADLINE_NAMES, DetectionResult, run
from ra_lib.stages.detection.settings import PROFILES, DetectionSettings

__all__ = ["STAGE", "DetectionSettings", "PROFILES", "HEADLINE_NAMES", "run", "DetectionResult", "CropStore",
           "read_crop_store", "load_crop_store"]
