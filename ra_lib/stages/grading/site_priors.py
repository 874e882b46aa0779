"""The grade distribution of each hand site among a cohort's training patients.

A site no detector can locate (its landmark is not labelled in the cohort, e.g. RA2's wrist) has no crop and
so no predicted grade. To still give a hand a score on the whole SvdH scale, its sum of grades takes such a
site's grade distribution among the training patients instead: the score of an average hand at that site,
whose spread widens the sum's interval. It ignores that joints worsen together, so it is a floor, not a model.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ra_lib.cohort import sites
from ra_lib.stages.grading.data import N_CLASSES

#: ``{kind: {site: probabilities}}``, one probability per grade of the kind.
SitePriors = dict[str, dict[str, list[float]]]


def site_priors(scores: pd.DataFrame, folds: pd.DataFrame, held_out_fold: int) -> SitePriors:
    """Per kind and hand site, the share of each grade among the graded sites of the patients outside
    ``held_out_fold`` (``scores``: the cohort's score table; ``folds``: its ``patient, fold`` table).

    A site nobody outside the fold graded is left out.
    """
    kept = set(folds.loc[folds["fold"].astype(int) != held_out_fold, "patient"])
    graded = scores[scores["patient"].isin(kept)].dropna(subset=["grade"])
    priors: SitePriors = {}
    for (kind, site), rows in graded.groupby(["kind", "site"]):
        if kind not in N_CLASSES:
            continue
        counts = np.bincount(rows["grade"].astype(int), minlength=N_CLASSES[kind])[:N_CLASSES[kind]]
        priors.setdefault(kind, {})[site] = (counts / counts.sum()).tolist()
    return priors


def unlocated_sites(located: set[tuple[str, str]]) -> list[sites.Site]:
    """The hand sites (:data:`ra_lib.cohort.sites.HAND_SITES`) not among the ``(kind, site)`` pairs ``located``."""
    return [site for site in sites.HAND_SITES if (site.kind, site.site) not in located]


def expected_grade(priors: SitePriors, kind: str, site: str) -> float | None:
    """The mean grade of one site under ``priors`` (``None`` when they lack it)."""
    probabilities = priors.get(kind, {}).get(site)
    return None if probabilities is None else float(np.dot(np.arange(len(probabilities)), probabilities))
