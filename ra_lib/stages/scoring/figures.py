"""The scoring chapter's tables and figures: the bundles used, the held-out images, a verdict gallery, the
hand scores and the joints beside the truth."""
from __future__ import annotations

import io
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from PIL import Image

from ra_lib.cohort.folds import HELD_OUT_FOLD
from ra_lib.core import bundles, contracts, plots
from ra_lib.stages.scoring.models import bundle_folder

#: The headline number shown beside each bundle.
BUNDLE_METRICS = {contracts.SELECTION: "accuracy/two_binary_fused",
                  contracts.DETECTION: "detection_rate/dlc_refined/erosion",
                  contracts.CLASSIFICATION: "roc_auc/siso/erosion",
                  contracts.GRADING: "balanced_accuracy/oversample_aug/erosion",
                  contracts.OVERALL_SCORE: "mae/IRB"}


def bundle_table(artifacts_root: str | Path, cohort_images: pd.DataFrame) -> pd.DataFrame:
    """Per bundle: whether it loads, its fingerprint, whether it was trained on this cohort, its test metric."""
    rows = []
    for stage, metric in BUNDLE_METRICS.items():
        try:
            bundle = bundles.load_bundle(bundle_folder(artifacts_root, stage), stage)
        except bundles.BundleError as error:
            reason = str(error).replace(f"{Path(artifacts_root)}{os.sep}", "")
            rows.append({"stage": stage, "bundle": f"none: {reason}", "models": "",
                         "trained on this cohort": None, "test metric": metric, "value": None})
            continue
        rows.append({"stage": stage, "bundle": bundle.fingerprint[:12], "models": ", ".join(bundle.models),
                     "trained on this cohort": bundle.cohort_fingerprint == bundles.cohort_fingerprint(cohort_images),
                     "test metric": metric, "value": bundle.headline.get(metric)})
    return pd.DataFrame(rows)


def held_out_images(cohort, max_images: int | None) -> tuple[list[str], str]:
    """Image ids of the patients of the held-out fold (:data:`ra_lib.cohort.folds.HELD_OUT_FOLD`, at most
    ``max_images``) and a sentence saying where they come from."""
    fold_of = dict(zip(cohort.folds["patient"], cohort.folds["fold"].astype(int)))
    ids = cohort.images.loc[cohort.images["patient"].map(fold_of) == HELD_OUT_FOLD, "image_id"].tolist()
    source = (f"the {len(ids)} images of the patients of fold {HELD_OUT_FOLD}, the fold every stage tested on and "
              "no saved model trained on")
    return ids[:max_images] if max_images else ids, source


def verdict_gallery(images: pd.DataFrame, out_dir: str | Path, n: int, ncols: int = 4):
    """The verdict PNGs of up to ``n`` images, flagged ones first (unreadable files have none)."""
    drawn = images[images["overlay"].notna()]
    drawn = drawn.assign(_flagged=drawn["status"] == "flagged").sort_values("_flagged", ascending=False,
                                                                           kind="stable").head(n)
    fig, axes = plots.image_grid(max(1, len(drawn)), ncols=ncols, size=3.0)
    for ax, row in zip(axes, drawn.itertuples(index=False)):
        ax.imshow(Image.open(io.BytesIO((Path(out_dir) / row.overlay).read_bytes())))
        ax.set_title(row.image_key, fontsize=8)
        ax.set_axis_off()
    return fig


def score_scatter(hands: pd.DataFrame):
    """Predicted against true hand score, with the identity line: stage 5's score and the sum of the predicted
    grades with its 10-90 % interval."""
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    direct, summed = hands[hands["score"].notna()], hands[hands["joint_sum"].notna()]
    if len(direct):
        ax.scatter(direct["score_true"], direct["score"], s=14, color="#2a9d8f", edgecolors="black",
                   linewidths=0.3, label="stage 5's score", zorder=3)
    if len(summed):
        ax.errorbar(summed["score_true"], summed["joint_sum"],
                    yerr=[summed["joint_sum"] - summed["joint_sum_q10"], summed["joint_sum_q90"] - summed["joint_sum"]],
                    fmt="o", ms=3.5, color="#e76f51", ecolor="#f4a261", elinewidth=0.8, label="sum of joint grades",
                    zorder=2)
    values = pd.concat([hands["score_true"], direct["score"], summed["joint_sum_q90"]]).dropna()
    top = max(1.0, float(values.max()) * 1.05)
    ax.plot([0, top], [0, top], color="#999999", lw=1, ls="--")
    ax.set_xlabel("true hand score (SvdH)")
    ax.set_ylabel("scored hand score")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    return fig


def joint_damage_figure(joints: pd.DataFrame):
    """Per kind, P(damaged) of the found joints with a true grade, split by whether they are damaged."""
    kinds = list(dict.fromkeys(joints["kind"])) or ["erosion"]
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.2 * len(kinds), 3.4), squeeze=False)
    bins = np.linspace(0, 1, 21)
    for ax, kind in zip(axes[0], kinds):
        part = joints[(joints["kind"] == kind) & joints["p_damaged"].notna()]
        for damaged, colour, label in ((False, "#2a9d8f", "intact (grade 0)"),
                                       (True, "#e76f51", "damaged (grade >= 1)")):
            values = part.loc[(part["grade_true"] >= 1) == damaged, "p_damaged"]
            ax.hist(values, bins=bins, color=colour, alpha=0.6, label=f"{label}: {len(values)}")
        ax.set_title(kind)
        ax.set_xlabel("P(damaged)")
        ax.set_ylabel("joints")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
