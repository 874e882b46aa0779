"""The joints of one hand scored: found by stage 2's detector, cut as stage 2's crop store cuts them, given
P(damaged) by stage 3 and a grade distribution by stage 4.

Every hand site (:data:`ra_lib.cohort.sites.HAND_SITES`, one row per kind and site) gets a row, found or
not: ``detection`` is ``found``, ``not_found`` (likelihood below stage 2's cut-off, outside the image, or a
landmark the detector never learnt) or ``not_scored`` (no detector, or the hand's side is unknown), with
the reason. Coordinates are pixels of the upright radiograph. A hand whose every site has a grade
distribution (or, for a landmark the detector never learnt, stage 4's grade shares of the site among the
training patients) also gets the sum of its grades (:func:`joint_sum`), its SvdH score by paper 002's route.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ra_lib.cohort import sites
from ra_lib.stages.detection.crops import cut_crops, with_phalanx
from ra_lib.stages.grading import crps
from ra_lib.stages.grading.bundle import grade_summary
from ra_lib.stages.grading.data import MAX_CLASSES, PROBA_COLUMNS
from ra_lib.stages.grading.regression import INTERVAL
from ra_lib.stages.grading.site_priors import SitePriors

#: Per-joint values besides the site and its detection (``None`` when not predicted).
PREDICTION_KEYS = ("p_damaged", "grade_pred", "grade_expected", "grade_q10", "grade_q90", *PROBA_COLUMNS)
DETECTIONS = ("found", "not_found", "not_scored")
#: Per-hand values of :func:`joint_sum`.
JOINT_SUM_KEYS = ("joint_sum", "joint_sum_q10", "joint_sum_q90", "sites_graded", "sites_filled")
#: The hand's key of its sum's distribution (probabilities of the sums 0, 1, ...): in its record, not its table.
SUM_DISTRIBUTION = "joint_sum_distribution"
#: The reason of a site whose landmark the detector never learnt.
NOT_LEARNT = "a landmark the detector did not learn (not labelled in its cohort)"


def hand_mirroring(side: str, thumb_side: str | None, mirrored_sides: frozenset[str]) -> tuple[bool, bool] | None:
    """Whether to mirror a hand for the detector (thumb on the right, stage 2's convention) and its crops
    (to right-hand orientation, as the crop store does): by its side (``R`` / ``L``), else by its predicted
    thumb side; ``None`` when neither is known."""
    if side in ("L", "R"):
        return side in mirrored_sides, side == "L"
    if thumb_side in ("left", "right"):
        thumb_left = thumb_side == "left"
        return thumb_left, thumb_left != ("R" in mirrored_sides)
    return None


def _row(site, detection: str, reason: str = "", x=None, y=None, likelihood=None) -> dict:
    return {"kind": site.kind, "site": site.site, "group": site.group, "landmark": site.landmark, "x": x, "y": y,
            "likelihood": likelihood, "detection": detection, "reason": reason, **dict.fromkeys(PREDICTION_KEYS)}


def unscored_joints(reason: str) -> list[dict]:
    """Every site of a hand, not scored for ``reason``."""
    return [_row(site, "not_scored", reason) for site in sites.HAND_SITES]


def hand_joints(image: np.ndarray, hands: list[dict], models) -> list[dict]:
    """The site rows of every hand of the upright grey ``image`` (each with its ``hand_index``); ``models``:
    :class:`~ra_lib.stages.scoring.models.ScoringModels`."""
    rows = []
    for index, hand in enumerate(hands):
        joints = (score_joints(image, hand, models) if models.detection is not None else
                  unscored_joints("no joint-detection model"))
        rows += [{"hand_index": index, **joint} for joint in joints]
    return rows


def score_joints(image: np.ndarray, hand: dict, models) -> list[dict]:
    """The site rows of one hand (``hand``: ``x0``, ``x1``, ``hand``, ``thumb_side``; ``mirrored`` is added:
    whether the detector saw it mirrored) of the upright grey ``image``; ``models``:
    :class:`~ra_lib.stages.scoring.models.ScoringModels` with a detector."""
    detector = models.detection
    mirroring = hand_mirroring(hand["hand"], hand.get("thumb_side"), detector.mirrored_sides)
    if mirroring is None:
        return unscored_joints("the hand's side is unknown (no laterality and no orientation model)")
    to_thumb_right, mirror_crops = mirroring
    hand["mirrored"] = to_thumb_right
    found = detector.detect(image, hand["x0"], hand["x1"], to_thumb_right).set_index("landmark", drop=False)
    height, width = image.shape
    rows = []
    for site in sites.HAND_SITES:
        if site.landmark not in found.index:
            rows.append(_row(site, "not_found", NOT_LEARNT))
            continue
        point = found.loc[site.landmark]
        x, y, likelihood = float(point["x"]), float(point["y"]), float(point["likelihood"])
        reason = ""
        if not (0 <= x < width and 0 <= y < height):
            reason = "centre outside the image"
        elif not likelihood >= detector.p_cutoff:
            reason = f"likelihood {likelihood:.3g} below the detector's cut-off {detector.p_cutoff:g}"
        rows.append(_row(site, "not_found" if reason else "found", reason, x, y, likelihood))
    found_rows = [row for row in rows if row["detection"] == "found"]
    if found_rows:
        _predict(image, found, found_rows, mirror_crops, models)
    return rows


def _crops(image: np.ndarray, centres: pd.DataFrame, geometry: dict, mirror_crops: bool, cache: dict) -> dict:
    """Crop-store crops of ``centres`` by landmark, cut once per crop geometry."""
    key = (int(geometry["crop_size"]), float(geometry["field_of_view"]))
    if key not in cache:
        cut, _ = cut_crops(image, centres, [mirror_crops] * len(centres), *key)
        cache[key] = dict(zip(centres["landmark"], cut.astype(np.float32)))
    return cache[key]


def _predict(image: np.ndarray, found: pd.DataFrame, rows: list[dict], mirror_crops: bool, models) -> None:
    """Fill P(damaged) and the grade distribution of the ``found`` site rows, kind by kind."""
    centres = with_phalanx(found.reset_index(drop=True))
    cache: dict = {}
    for kind in sites.KINDS:
        of_kind = [row for row in rows if row["kind"] == kind]
        if not of_kind:
            continue
        if models.damage is not None:
            crops = _crops(image, centres, models.damage.crop_geometry, mirror_crops, cache)
            stack = np.stack([crops[row["landmark"]] for row in of_kind])
            for row, p in zip(of_kind, models.damage.predict(stack, kind, [row["group"] for row in of_kind])):
                row["p_damaged"] = None if np.isnan(p) else float(p)
        if models.grades is not None:
            crops = _crops(image, centres, models.grades.crop_geometry, mirror_crops, cache)
            grades = models.grades.predict(np.stack([crops[row["landmark"]] for row in of_kind]), kind)
            if grades is None:
                continue
            padded = np.zeros((len(of_kind), MAX_CLASSES))
            padded[:, :grades.probabilities.shape[1]] = grades.probabilities
            summary = grade_summary(grades.probabilities)
            for i, row in enumerate(of_kind):
                row.update({name: float(values[i]) for name, values in summary.items()})
                row["grade_pred"] = int(grades.grade_pred[i])
                row.update(zip(PROBA_COLUMNS, map(float, padded[i])))


def joint_sum(joints: list[dict], priors: SitePriors | None = None) -> dict:
    """One hand's SvdH score as the sum of its sites' grades (``joints``: its site rows).

    ``joint_sum`` is the expected sum; ``joint_sum_q10`` and ``joint_sum_q90`` end the 10-90 % interval of
    the sum's distribution (:data:`SUM_DISTRIBUTION`, kept with the hand for its patient's score), the sites'
    grade distributions convolved as if independent (joints that worsen together would widen it);
    ``sites_graded`` counts the sites with a grade distribution. A site whose landmark the detector never
    learnt (:data:`NOT_LEARNT`) takes its grade distribution among the training patients from ``priors``
    (stage 4's :func:`~ra_lib.stages.grading.site_priors.site_priors`), counted in ``sites_filled``. The sum
    is ``None`` unless every site of :data:`ra_lib.cohort.sites.HAND_SITES` has a distribution (a partial sum
    would understate it).
    """
    graded = [[joint[column] for column in PROBA_COLUMNS] for joint in joints
              if joint.get(PROBA_COLUMNS[0]) is not None]
    filled = [(priors or {}).get(joint["kind"], {}).get(joint["site"]) for joint in joints
              if joint.get(PROBA_COLUMNS[0]) is None and joint.get("reason") == NOT_LEARNT]
    filled = [probabilities for probabilities in filled if probabilities is not None]
    out = {**dict.fromkeys(JOINT_SUM_KEYS[:3]), "sites_graded": len(graded), "sites_filled": len(filled),
           SUM_DISTRIBUTION: None}
    if len(graded) + len(filled) < len(sites.HAND_SITES):
        return out
    distribution = np.ones(1)
    for probabilities in graded + filled:
        distribution = np.convolve(distribution, probabilities)
    distribution = np.trim_zeros(distribution / distribution.sum(), "b")  # grades no kind has
    out.update(zip(JOINT_SUM_KEYS[:3], sum_summary(distribution)), **{SUM_DISTRIBUTION: distribution.tolist()})
    return out


def sum_summary(distribution: np.ndarray) -> tuple[float, float, float]:
    """The expected value and the :data:`~ra_lib.stages.grading.regression.INTERVAL` interval's ends of a
    distribution over the sums 0, 1, 2, ..."""
    survival = crps.survival_from_probabilities(distribution[None] / distribution.sum())
    low, high = crps.quantiles(survival, INTERVAL)[0]
    return float(crps.expected_value(survival)[0]), float(low), float(high)
