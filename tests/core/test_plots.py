import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ra_lib.core import plots


def test_grid_hides_spare_axes_and_markers_are_drawn():
    fig, axes = plots.image_grid(5, ncols=4)
    assert len(axes) == 5 and sum(ax.axison for ax in fig.axes) == 5
    plots.show_radiograph(axes[0], np.zeros((10, 10)), title="hand")
    plots.draw_landmarks(axes[0], pd.DataFrame({"landmark": ["mcp2", "radius"], "x": [2.0, 5.0], "y": [3.0, 8.0]}))
    assert len(axes[0].collections) == 2 and axes[0].get_title() == "hand"
    plt.close(fig)


def test_legend_merges_groups_of_one_colour():
    fig = plt.figure()
    plots.group_legend(fig, kinds=("erosion", "jsn"))
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["PIP-IP / PIP", "MCP", "CMC-M / CMC", "wrist"]
    plt.close(fig)


def test_show_saves_displays_with_alt_text_and_closes(tmp_path, monkeypatch):
    import IPython.display
    import pytest

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    plots.show(fig, " Grades by joint group. ", tmp_path / "grades.png")
    (image,) = shown
    data, metadata = image._repr_png_()
    assert metadata == {"alt": "Grades by joint group."}
    assert image.data[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "grades.png").read_bytes() == image.data
    assert not plt.fignum_exists(fig.number)
    with pytest.raises(ValueError, match="alt text"):
        plots.show(plt.figure(), "  ")
    plt.close("all")
