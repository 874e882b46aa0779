import pandas as pd
import pytest

from ra_lib.cohort.sites import HAND_SITES
from ra_lib.stages.grading.site_priors import expected_grade, site_priors, unlocated_sites


def test_site_priors_count_grades_outside_the_held_out_fold():
    scores = pd.DataFrame({"patient": ["A", "A", "B", "C", "C"],
                           "kind": ["erosion", "jsn", "erosion", "erosion", "jsn"],
                           "site": ["MCP2", "MCP2", "MCP2", "MCP2", "MCP2"], "grade": [0, 4, 2, 5, None]})
    folds = pd.DataFrame({"patient": ["A", "B", "C"], "fold": [1, 2, 0]})
    priors = site_priors(scores, folds, held_out_fold=0)
    assert priors["erosion"]["MCP2"] == [0.5, 0, 0.5, 0, 0, 0]  # C's grade 5 is held out
    assert priors["jsn"]["MCP2"] == [0, 0, 0, 0, 1.0]
    assert expected_grade(priors, "erosion", "MCP2") == pytest.approx(1.0)
    assert expected_grade(priors, "erosion", "radius") is None


def test_unlocated_sites_are_the_hand_sites_not_given():
    located = {(site.kind, site.site) for site in HAND_SITES[1:]}
    assert unlocated_sites(located) == [HAND_SITES[0]]
    assert unlocated_sites(set()) == list(HAND_SITES)
