"""One row per patient visit: the patient's SvdH hand score at that visit, from both hands' scores.

A visit is a patient's images of one study date; all of a patient's images form one visit when the inputs
carry no date (PNG files, a manifest or DICOM files without one). A patient's hand score adds the left and
the right hand (SvdH's hand part, 0-280). It is given only when the visit's scored images hold exactly one
left and one right hand (or one both-hands radiograph that stage 5 scored as a whole); otherwise ``note``
says why not (a hand missing, several images of one side, from several visits or views that the inputs do
not tell apart, a hand of unknown side). ``joint_sum`` adds the two hands' sums of predicted grades, with
the 10-90 % interval of the two sum distributions convolved. Images without a patient (PNG and JPEG files)
have no row.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ra_lib.stages.scoring.joints import JOINT_SUM_KEYS, sum_summary

PATIENT_COLUMNS = ["patient", "study_date", "images", "hands_left", "hands_right", "score", *JOINT_SUM_KEYS[:3],
                   "note"]


def patient_table(images: pd.DataFrame, hands: pd.DataFrame, distributions: list[list[float] | None]
                  ) -> pd.DataFrame:
    """Per patient and study date of ``images`` (the output table): its images, hands by side and hand score.

    ``hands``: the hand table; ``distributions``: each hand row's joint-sum distribution (``None`` without one).
    """
    hands = hands.assign(distribution=distributions)
    rows = []
    visits = images[images["patient"].notna()].assign(study_date=images["study_date"].fillna(""))
    for (patient, date), own_images in visits.groupby(["patient", "study_date"], sort=True):
        own = hands[hands["image_key"].isin(own_images["image_key"])]
        left, right = own[own["hand"] == "L"], own[own["hand"] == "R"]
        row = {"patient": patient, "study_date": date or None, "images": own_images["image_key"].nunique(),
               "hands_left": len(left), "hands_right": len(right),
               "note": _pairing_problem(own, len(left), len(right))}
        if not row["note"]:
            pair = pd.concat([left, right])
            whole = own_images.loc[own_images["score_unit"] == "image", "overall_score"].dropna()
            if pair["score"].notna().all():
                row["score"] = float(pair["score"].sum())
            elif len(whole) == 1:
                row["score"] = float(whole.iloc[0])
            if all(d is not None for d in pair["distribution"]):
                distribution = np.convolve(*[np.asarray(d, dtype=float) for d in pair["distribution"]])
                row.update(zip(JOINT_SUM_KEYS[:3], sum_summary(distribution)))
        rows.append(row)
    return pd.DataFrame(rows, columns=PATIENT_COLUMNS).astype(
        {"images": "Int64", "hands_left": "Int64", "hands_right": "Int64",
         **{c: float for c in PATIENT_COLUMNS[5:9]}})


def _pairing_problem(hands: pd.DataFrame, n_left: int, n_right: int) -> str:
    """Why a visit's hands give no hand score ('' when they are one left and one right hand)."""
    if (~hands["hand"].isin(["L", "R"])).any():
        return "a hand of unknown side"
    if n_left > 1 or n_right > 1:
        return f"{n_left} left and {n_right} right hands: which of them belong together is not known"
    if n_left + n_right < 2:
        return "no left hand" if n_right else ("no right hand" if n_left else "no hand found")
    return ""
