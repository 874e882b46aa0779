import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ra_lib.stages.classification.evaluate import evaluation_table, pr_curves  # noqa: E402
from ra_lib.stages.classification.figures import plot_pr_curves, showcase_figure  # noqa: E402


def oof_both_kinds():
    rng = np.random.default_rng(0)
    rows = []
    for kind, sites in (("erosion", [("mcp2", "MCP"), ("lunate", "wrist")]), ("jsn", [("mcp2", "MCP")])):
        for model in ("siso", "mimo_local"):
            for hand in ("L", "R"):
                for site, group in sites:
                    rows.append({"hand_id": f"img:{hand}", "patient": "P-0000000000", "hand": hand, "kind": kind,
                                 "site": site, "group": group, "fold": 0, "model": model,
                                 "probability": rng.random(), "label": int(hand == "L")})
    return pd.DataFrame(rows)


def test_pr_curves_figure_has_a_panel_per_kind_and_region():
    oof = oof_both_kinds()
    fig = plot_pr_curves(pr_curves(oof), evaluation_table(oof))
    assert len(fig.axes) == 2 * 3
    assert {line.get_label() for line in fig.axes[0].get_lines()} >= {"SISO", "MIMO local"}


def test_showcase_figure_draws_the_hands_of_one_image():
    oof = oof_both_kinds()
    index = oof.drop_duplicates(["hand_id", "kind", "site"])[["hand_id", "kind", "site"]].assign(
        image_id="img", x=1.0, y=2.0)
    loaded = []
    fig, caption = showcase_figure(oof, index, lambda image_id: loaded.append(image_id) or np.zeros((8, 8)))
    assert loaded == ["img"] and len(fig.axes) == 2 * 2
    assert "P-0000000000" in caption and "2 hand(s)" in caption
