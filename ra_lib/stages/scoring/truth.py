"""Scored images beside a cohort's truth: selection agreement, per-hand score error and per-joint agreement."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ra_lib.cohort import schema
from ra_lib.evaluation.joints import joint_agreement
from ra_lib.stages.overall_score.targets import hand_scores
from ra_lib.stages.scoring.results import JOINT_COLUMNS
from ra_lib.stages.selection.data import VIEW_TO_CLASS


@dataclass
class TruthComparison:
    """``images``: per scored image its true class and whether the selection agrees; ``hands``: per scored
    hand with a true overall score, stage 5's prediction and the sum of its predicted grades with their
    errors; ``joints``: per found joint with a true grade, its predictions and ``grade_true``."""

    images: pd.DataFrame
    hands: pd.DataFrame
    joints: pd.DataFrame

    @property
    def selection_agreement(self) -> float | None:
        """Share of the images a selection model selected whose selection is the true class (``None`` when the
        class was assumed: stage 1's cohort held one class)."""
        selected = self.images[self.images["selection"].notna() & self.images["p_one_hand"].notna()]
        return float(selected["agrees"].mean()) if len(selected) else None

    @property
    def hand_score_mae(self) -> float | None:
        """Mean absolute error of stage 5's hand scores against the true ones."""
        return _mean_or_none(self.hands["error"].abs())

    @property
    def hand_joint_sum_mae(self) -> float | None:
        """Mean absolute error of the hands' sums of predicted grades against the true scores."""
        return _mean_or_none(self.hands["joint_sum_error"].abs())

    @property
    def joint_sum_coverage(self) -> float | None:
        """Share of the true hand scores inside the joint sum's 10-90 % interval."""
        rows = self.hands[self.hands["joint_sum"].notna()]
        inside = (rows["joint_sum_q10"] <= rows["score_true"]) & (rows["score_true"] <= rows["joint_sum_q90"])
        return _mean_or_none(inside.astype(float))

    def hand_score_summary(self) -> str:
        """One sentence on the hands' two overall scores against the truth: their errors and the sum's coverage."""
        coverage = self.joint_sum_coverage
        return (f"{len(self.hands)} hand(s) scored with a true score. Mean absolute error on the 0-140 hand scale: "
                f"stage 5's score {_rounded(self.hand_score_mae)} (its own test error is its bundle's metric "
                f"above), the sum of joint grades {_rounded(self.hand_joint_sum_mae)} on "
                f"{int(self.hands['joint_sum'].notna().sum())} hand(s) with every site graded or filled"
                + ("" if coverage is None else f"; {100 * coverage:.0f} % of the true scores lie inside its interval")
                + ".")

    def joint_agreement(self) -> pd.DataFrame:
        """Per kind: P(damaged) and the grades against the true grades
        (:func:`ra_lib.evaluation.joints.joint_agreement`)."""
        return joint_agreement(self.joints)

    def agreement_table(self) -> pd.DataFrame:
        """Images per true class and selection."""
        return pd.crosstab(self.images["view_true"], self.images["selection"].fillna("(none)")).rename_axis(
            index="true class", columns="selection")


def _mean_or_none(values: pd.Series) -> float | None:
    values = values.dropna()
    return float(values.mean()) if len(values) else None


def _hand_ids(table: pd.DataFrame, cohort) -> list[str | None]:
    """The cohort's hand id of each row (``image_id``, ``hand``); a hand of unknown side is the image's only
    hand in the cohort (``None`` when it has two)."""
    only_hand = cohort.hands.groupby("image_id")["hand"].agg(lambda h: h.iloc[0] if len(h) == 1 else None)
    side = np.where(table["hand"] == "unknown", table["image_id"].map(only_hand), table["hand"])
    return [schema.hand_id(i, s) if isinstance(s, str) else None for i, s in zip(table["image_id"], side)]


def compare(images: pd.DataFrame, hands: pd.DataFrame, cohort, joints: pd.DataFrame | None = None) -> TruthComparison:
    """Scoring's ``images`` / ``hands`` / ``joints`` tables (of a cohort's images) beside ``cohort``'s views,
    scores and grades.

    A one-hand image of unknown side is matched to the image's one hand in the cohort.
    """
    views = cohort.images.set_index("image_id")["view"]
    compared = images[["image_key", "image_id", "selection", "p_one_hand", "flags"]].copy()
    compared["view_true"] = compared["image_id"].map(views).map(VIEW_TO_CLASS)
    compared["agrees"] = compared["selection"] == compared["view_true"]

    truth = hand_scores(cohort.scores)
    truth = truth[truth["complete"]].set_index("hand_id")["score"]
    scored = hands[hands["score"].notna() | hands["joint_sum"].notna()].copy()
    scored["hand_id"] = _hand_ids(scored, cohort)
    scored["score_true"] = scored["hand_id"].map(truth)
    scored = scored[scored["score_true"].notna()]
    scored["error"] = scored["score"] - scored["score_true"]
    scored["joint_sum_error"] = scored["joint_sum"] - scored["score_true"]

    found = pd.DataFrame(columns=[*JOINT_COLUMNS, "hand_id", "grade_true"]) if joints is None else \
        joints[joints["detection"] == "found"].copy()
    if len(found):
        found["hand_id"] = _hand_ids(found, cohort)
        grades = cohort.scores.set_index(["hand_id", "kind", "site"])["grade"]
        found["grade_true"] = [grades.get(key) for key in zip(found["hand_id"], found["kind"], found["site"])]
        found = found[found["grade_true"].notna()]
    return TruthComparison(compared.reset_index(drop=True),
                           scored[["image_key", "hand_id", "hand", "score_true", "score", "error", "joint_sum",
                                   "joint_sum_q10", "joint_sum_q90", "joint_sum_error"]].reset_index(drop=True),
                           found.reset_index(drop=True))


def _rounded(value: float | None) -> str:
    return "none" if value is None else f"{value:.1f}"
