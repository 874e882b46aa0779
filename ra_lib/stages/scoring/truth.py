"""Scored images beside a cohort's truth: selection agreement and per-hand score error."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ra_lib.cohort import schema
from ra_lib.stages.overall_score.targets import hand_scores
from ra_lib.stages.selection.data import VIEW_TO_CLASS


@dataclass
class TruthComparison:
    """``images``: per scored image its true class and whether the selection agrees; ``hands``: per scored
    hand with a true overall score, the prediction and its error."""

    images: pd.DataFrame
    hands: pd.DataFrame

    @property
    def selection_agreement(self) -> float | None:
        """Share of the images with a selection whose selection is the true class."""
        selected = self.images[self.images["selection"].notna()]
        return float(selected["agrees"].mean()) if len(selected) else None

    @property
    def hand_score_mae(self) -> float | None:
        """Mean absolute error of the hand scores against the true ones."""
        return float(self.hands["error"].abs().mean()) if len(self.hands) else None

    def agreement_table(self) -> pd.DataFrame:
        """Images per true class and selection."""
        return pd.crosstab(self.images["view_true"], self.images["selection"].fillna("(none)")).rename_axis(
            index="true class", columns="selection")


def compare(images: pd.DataFrame, hands: pd.DataFrame, cohort) -> TruthComparison:
    """Scoring's ``images`` / ``hands`` tables (of a cohort's images) beside ``cohort``'s views and scores.

    A one-hand image of unknown side is matched to the image's one hand in the cohort.
    """
    views = cohort.images.set_index("image_id")["view"]
    compared = images[["image_key", "image_id", "selection", "flags"]].copy()
    compared["view_true"] = compared["image_id"].map(views).map(VIEW_TO_CLASS)
    compared["agrees"] = compared["selection"] == compared["view_true"]

    truth = hand_scores(cohort.scores)
    truth = truth[truth["complete"]].set_index("hand_id")["score"]
    only_hand = cohort.hands.groupby("image_id")["hand"].agg(lambda h: h.iloc[0] if len(h) == 1 else None)
    scored = hands[hands["score"].notna()].copy()
    side = np.where(scored["hand"] == "unknown", scored["image_id"].map(only_hand), scored["hand"])
    scored["hand_id"] = [schema.hand_id(i, s) if isinstance(s, str) else None
                         for i, s in zip(scored["image_id"], side)]
    scored["score_true"] = scored["hand_id"].map(truth)
    scored = scored[scored["score_true"].notna()]
    scored["error"] = scored["score"] - scored["score_true"]
    return TruthComparison(compared.reset_index(drop=True),
                           scored[["image_key", "hand_id", "hand", "score_true", "score", "error"]].reset_index(
                               drop=True))
