"""The comparison figures of the cohort page draw every cohort, and leave out what no cohort has."""
from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd

from ra_lib.cohort import comparison, comparison_figures

matplotlib.use("Agg")


def _sample(name, n_images=3, with_spacing=True):
    images = pd.DataFrame({"image_id": [f"{name}{k}" for k in range(n_images)], "view": "left_hand",
                           "width": 40, "height": 50, "coverage": np.linspace(0.2, 0.4, n_images),
                           "mean_intensity": 0.2, "hand_intensity": 0.6})
    histograms = np.full((n_images, comparison.HISTOGRAM_BINS), 1 / comparison.HISTOGRAM_BINS)
    spacing = pd.DataFrame({"hand_id": ["h:L"], "mcp_gap": [0.5], "pip_gap": [0.7]}) if with_spacing \
        else comparison.finger_spacing(pd.DataFrame(columns=["hand_id", "landmark", "x", "y"]))
    return comparison.ImageSample(name, n_images, images, histograms, histograms, spacing)


def test_histograms_have_one_line_per_cohort_in_each_panel():
    fig = comparison_figures.plot_histograms([_sample("a"), _sample("b")])
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]


def test_spacing_panels_are_left_out_when_no_cohort_has_landmarks():
    with_landmarks = comparison_figures.plot_distributions([_sample("a"), _sample("b", with_spacing=False)])
    without = comparison_figures.plot_distributions([_sample(name, with_spacing=False) for name in "ab"])
    assert len(with_landmarks.axes) == 3 and len(without.axes) == 1


def test_gallery_titles_name_cohort_and_index_only():
    cohort = SimpleNamespace(load_image=lambda image_id: np.zeros((50, 40), np.float32))
    fig = comparison_figures.plot_gallery([cohort, cohort], [_sample("synthetic"), _sample("real", n_images=2)],
                                          per_cohort=3)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["synthetic #1", "synthetic #2", "synthetic #3", "real #1", "real #2"]
