"""Stage 2's figures and display tables: paper 001's Table 3 and Fig. 4 layouts, Fig. 5-style examples."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ra_lib.cohort import sites
from ra_lib.evaluation.published import DETECTION_DISTANCE_ERROR, DETECTION_TABLE3
from ra_lib.stages.detection.boxes import PAPER_PHALANX_PX
from ra_lib.stages.detection.evaluate import STATUSES, group_order, with_all_joints

#: The detectors shown in the example figure (the baseline has no image to look at).
EXAMPLE_DETECTORS = ("dlc", "frcnn")


def _table_rows(index) -> pd.MultiIndex:
    rows = [(k, g) for k in sites.KINDS for g in group_order(k) if (k, g) in index]
    return pd.MultiIndex.from_tuples(rows, names=["kind", "group"])


def format_table3(rates: pd.DataFrame) -> pd.DataFrame:
    """Table 3's layout: rows (kind, group), columns (detector, status), cells ``"correct/n (rate %)"``."""
    cells = rates.assign(cell=[f"{c}/{n} ({100 * r:.1f}%)" if n else "-"
                               for c, n, r in zip(rates["correct"], rates["n"], rates["rate"])])
    table = cells.pivot_table(index=["kind", "group"], columns=["detector", "status"], values="cell",
                              aggfunc="first")
    detectors = list(dict.fromkeys(rates["detector"]))
    columns = pd.MultiIndex.from_product([detectors, STATUSES], names=["detector", "status"])
    return table.reindex(index=_table_rows(table.index), columns=columns)


def paper_table3() -> pd.DataFrame:
    """Paper 001's Table 3 (DeepLabCut, %): rows (kind, group), columns intact / non-intact / total."""
    return pd.DataFrame(DETECTION_TABLE3).T


def format_distance_errors(errors: pd.DataFrame) -> pd.DataFrame:
    """Fig. 4's numbers: rows (kind, group), one column per detector, ``"mean ± SD (median)"`` in paper px,
    and paper 001's own ``"mean ± SD"``."""
    cells = errors.assign(cell=[f"{m:.0f} ± {s:.0f} ({md:.0f})" for m, s, md in
                                zip(errors["mean_paper_px"], errors["sd_paper_px"], errors["median_paper_px"])])
    table = cells.pivot_table(index=["kind", "group"], columns="detector", values="cell", aggfunc="first")
    table = table.reindex(index=_table_rows(table.index), columns=list(dict.fromkeys(errors["detector"])))
    table["paper 001"] = [f"{DETECTION_DISTANCE_ERROR[r][0]} ± {DETECTION_DISTANCE_ERROR[r][1]}" for r in table.index]
    return table


def plot_hand(ax, cohort, hand_id: str, evaluated: pd.DataFrame, detector: str, title: str | None = None) -> None:
    """Fig. 5 style: one hand, ground-truth centres (white), detections with their boxes.

    Boxes are green where the ground truth lies inside (correct), red otherwise; each landmark once.
    """
    from matplotlib.patches import Rectangle

    from ra_lib.core import plots

    hand = cohort.hands.set_index("hand_id").loc[hand_id]
    image = cohort.load_image(hand["image_id"])[:, int(hand["x0"]):int(hand["x1"])]
    plots.show_radiograph(ax, image, title)
    rows = evaluated[(evaluated["hand_id"] == hand_id) & (evaluated["detector"] == detector)]
    rows = rows.drop_duplicates("landmark")
    x0 = float(hand["x0"])
    ax.scatter(rows["x_true"] - x0, rows["y_true"], s=10, c="white", edgecolors="black", linewidths=0.4, zorder=3)
    for row in rows.dropna(subset=["x", "y"]).itertuples(index=False):
        colour = "#2a9d8f" if row.correct else "#e63946"
        ax.add_patch(Rectangle((row.x - x0 - row.box_w / 2, row.y - row.box_h / 2), row.box_w, row.box_h,
                               fill=False, edgecolor=colour, linewidth=0.8))
        ax.scatter(row.x - x0, row.y, s=8, c=colour, marker="x", linewidths=0.8, zorder=4)


def example_hands(cohort, hand_ids) -> dict[str, tuple[str, float]]:
    """The scored hands with the least and the most damage (sum of SvdH grades): label -> (hand_id, sum).

    Without scores on those hands, the first of ``hand_ids`` is the only example (sum NaN).
    """
    hand_ids = list(hand_ids)
    damage = cohort.scores[cohort.scores["hand_id"].isin(hand_ids)].groupby("hand_id")["grade"].sum()
    if damage.empty:
        return {"example": (hand_ids[0], float("nan"))} if hand_ids else {}
    return {"mild damage": (damage.idxmin(), float(damage.min())),
            "severe damage": (damage.idxmax(), float(damage.max()))}


def plot_examples(cohort, evaluated: pd.DataFrame, hand_ids, detectors=EXAMPLE_DETECTORS):
    """Fig. 5: one row per detector, one column per example of ``hand_ids`` (:func:`example_hands`);
    returns the figure."""
    import matplotlib.pyplot as plt

    examples = example_hands(cohort, hand_ids)
    fig, axes = plt.subplots(len(detectors), len(examples), figsize=(3.4 * len(examples), 4.4 * len(detectors)),
                             squeeze=False)
    for row, detector in enumerate(detectors):
        for col, (label, (hand_id, damage)) in enumerate(examples.items()):
            title = f"{detector}: {label}" + ("" if np.isnan(damage) else f" (SvdH {damage:.0f})")
            plot_hand(axes[row, col], cohort, hand_id, evaluated, detector, title=title)
    fig.tight_layout()
    return fig


def plot_distance_errors(evaluated: pd.DataFrame):
    """Fig. 4 style: distance error (paper pixels) per joint group, one box per detector; returns the figure."""
    import matplotlib.pyplot as plt

    data = evaluated.dropna(subset=["error_paper_px"])
    detectors = list(dict.fromkeys(data["detector"]))
    fig, axes = plt.subplots(1, len(sites.KINDS), figsize=(11, 3.6), sharey=True)
    width = 0.8 / max(len(detectors), 1)
    for ax, kind in zip(axes, sites.KINDS):
        groups = group_order(kind)
        part = with_all_joints(data[data["kind"] == kind])
        for d, detector in enumerate(detectors):
            values = [part[(part["group"] == g) & (part["detector"] == detector)]["error_paper_px"].to_numpy()
                      for g in groups]
            positions = np.arange(len(groups)) + (d - (len(detectors) - 1) / 2) * width
            box = ax.boxplot([v if len(v) else [np.nan] for v in values], positions=positions, widths=width * 0.9,
                             patch_artist=True, showfliers=False, medianprops={"color": "black"})
            for patch in box["boxes"]:
                patch.set_facecolor(plt.cm.tab10(d))
        ax.set_xticks(np.arange(len(groups)), groups, fontsize=8)
        ax.set_title("erosion" if kind == sites.EROSION else "JSN", fontsize=10)
        ax.set_yscale("log")
    axes[0].set_ylabel(f"distance error (px at a {PAPER_PHALANX_PX:.0f}-px phalanx)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=plt.cm.tab10(d)) for d in range(len(detectors))]
    fig.legend(handles, detectors, loc="upper center", ncol=len(detectors), frameon=False, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    return fig


def flags_by_landmark(flags: pd.DataFrame) -> pd.DataFrame:
    """Flagged / detections per landmark (rows) and detector (columns) from
    :meth:`ra_lib.stages.detection.pipeline.DetectionResult.flags_by_landmark`."""
    if flags.empty:
        return pd.DataFrame()
    cell = flags.assign(cell=[f"{f} / {n}" for f, n in zip(flags["flagged"], flags["detections"])])
    return cell.pivot_table(index="landmark", columns="detector", values="cell", aggfunc="first", sort=False)
