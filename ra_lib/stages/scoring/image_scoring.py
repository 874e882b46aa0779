"""One radiograph scored: read it, turn it upright, select it, cut its hands, score them and their joints,
and draw the verdict.

The result is a plain JSON-able record (no patient data: the caller adds the pseudonym) and the
verdict PNG's bytes. Every failure is a flag with a reason, never an exception: an unreadable file,
an image that is not a hand, an uncertain selection or a missing model. Hands, joints and the verdict
are in the pixels of the upright image (the stored one turned back by the predicted quarter turns).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ra_lib.cohort.hands import split_column
from ra_lib.cohort.imageio import read_image
from ra_lib.core import contracts, geometry
from ra_lib.core.errors import ImageReadError
from ra_lib.stages.scoring.joints import hand_joints, joint_sum
from ra_lib.stages.scoring.models import ScoringModels
from ra_lib.stages.scoring.overlay import draw_verdict
from ra_lib.stages.scoring.settings import ScoringSettings

#: Flag categories, in the order the report lists them.
FLAGS = ("unreadable", "not_a_hand", "uncertain_selection", "missing_model")


@dataclass(frozen=True)
class ScoringTask:
    """What a worker needs to score one file: its path, result key, image key and DICOM laterality."""

    path: str
    key: str
    image_key: str
    laterality: str = ""


def hand_spans(image: np.ndarray, selection: str, laterality: str) -> list[dict]:
    """The hands of a selected image: ``hand`` (``R``, ``L`` or ``unknown``) and columns ``x0:x1``.

    A both-hands image is split at :func:`ra_lib.cohort.hands.split_column`, the patient's right hand on
    the viewer's left (posteroanterior, as ingestion does without landmarks); a one-hand image is one
    hand whose side is the DICOM laterality, when given.
    """
    width = image.shape[1]
    if selection == "both_hands":
        split = split_column(image)
        return [{"hand": "R", "x0": 0, "x1": split}, {"hand": "L", "x0": split, "x1": width}]
    if selection == "one_hand":
        return [{"hand": laterality if laterality in ("L", "R") else "unknown", "x0": 0, "x1": width}]
    return []


#: The stages whose models score joints, and what each is called in a missing-model reason.
JOINT_MODELS = {contracts.DETECTION: ("detection", "joint-detection"),
                contracts.CLASSIFICATION: ("damage", "joint-classification"),
                contracts.GRADING: ("grades", "joint-grading")}


def score_task(task: ScoringTask, models: ScoringModels, settings: ScoringSettings) -> tuple[dict, bytes | None]:
    """The record of one file and its verdict PNG (``None`` when the file cannot be read)."""
    record = {"key": task.key, "image_key": task.image_key, "format": None, "width": None, "height": None,
              "orientation_pred": None, "rotation_pred": None, "thumb_side_pred": None,
              "selection": None, "p_one_hand": None, "p_both_hands": None, "score_unit": None,
              "overall_score": None, "hands": [], "joints": [], "flags": [], "reasons": []}

    def flag(category: str, reason: str) -> None:
        if category not in record["flags"]:
            record["flags"].append(category)
        record["reasons"].append(reason)

    try:
        image, meta = read_image(task.path)
    except ImageReadError as error:
        flag("unreadable", error.reason.replace(task.path, "the file").replace(Path(task.path).name, "the file"))
        return record, None
    record.update(format=meta["format"], width=int(image.shape[1]), height=int(image.shape[0]))
    if models.selection is None:
        flag("missing_model", f"no selection model: {models.missing.get(contracts.SELECTION, '')}")
        return record, draw_verdict(image, record, settings.overlay_side)
    image = _upright(image, record, models)
    record.update(models.selection.predict(image))
    if record["selection"] == "other":
        flag("not_a_hand", "selected as 'other': not a hand radiograph")
    if models.selection.uncertain(record["p_one_hand"], record["p_both_hands"], settings.uncertain_margin):
        flag("uncertain_selection", f"selection probabilities {record['p_one_hand']:.2f} / "
                                    f"{record['p_both_hands']:.2f} within {settings.uncertain_margin:g} of the "
                                    f"threshold {models.selection.threshold:g}")
    hands = hand_spans(image, record["selection"], task.laterality)
    if record["selection"] == "one_hand" and hands:
        hands[0]["thumb_side"] = record["thumb_side_pred"]
    if hands and models.score is None:
        flag("missing_model", f"no overall-score model: {models.missing.get(contracts.OVERALL_SCORE, '')}")
    elif hands:
        _score_hands(image, hands, record, models)
    if hands:
        for stage, (attribute, name) in JOINT_MODELS.items():
            if getattr(models, attribute) is None:
                flag("missing_model", f"no {name} model: {models.missing.get(stage, '')}")
        record["joints"] = hand_joints(image, hands, models)
        for index, hand in enumerate(hands):
            hand.update(joint_sum([joint for joint in record["joints"] if joint["hand_index"] == index],
                                  None if models.grades is None else models.grades.site_priors))
    record["hands"] = hands
    return record, draw_verdict(image, record, settings.overlay_side)


def _upright(image: np.ndarray, record: dict, models: ScoringModels) -> np.ndarray:
    """``image`` turned upright by the predicted orientation (recorded in ``record``: the class, the stored
    image's counter-clockwise rotation in degrees and the likelier thumb side of a single hand); as it is
    without the orientation model."""
    orientation = models.selection.orient(image)
    if orientation is None:
        return image
    turns = int(orientation["rot90_k_pred"])
    record.update(orientation_pred=orientation["orientation_pred"], rotation_pred=90 * turns,
                  thumb_side_pred=orientation["thumb_side_pred"])
    return geometry.undo_orientation(image, turns, False)


def _score_hands(image: np.ndarray, hands: list[dict], record: dict, models: ScoringModels) -> None:
    """Add each hand's score (unit ``hand``) or the radiograph's (unit ``image``, both hands only) to ``record``."""
    model = models.score
    record["score_unit"] = model.unit
    if model.unit == "image":
        if record["selection"] == "both_hands":
            record["overall_score"] = model.predict(image)
        return
    for hand in hands:
        crop = image[:, hand["x0"]:hand["x1"]]
        hand["score"] = model.predict(geometry.mirror(crop) if hand["hand"] == "L" else crop)
    record["overall_score"] = float(sum(h["score"] for h in hands))
