"""Descriptive tables of a cohort: what the cohort page shows before any model runs."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ra_lib.cohort import sites

#: Paper 001 Table 2: non-intact / total joints per group (226 images of 40 patients).
PAPER001_TABLE2 = pd.DataFrame(
    [("erosion", "PIP-IP", 125, 1130), ("erosion", "MCP", 143, 1130), ("erosion", "CMC-M", 131, 452),
     ("erosion", "wrist", 470, 904), ("erosion", "all", 869, 3616),
     ("jsn", "PIP", 342, 904), ("jsn", "MCP", 254, 1130), ("jsn", "CMC", 350, 678),
     ("jsn", "wrist", 461, 678), ("jsn", "all", 1407, 3390)],
    columns=["kind", "group", "non_intact", "total"],
)


def overview(cohort) -> pd.DataFrame:
    """One-row-per-quantity counts: patients, images, hands, scored sites."""
    counts = {
        "patients": cohort.images["patient"].nunique(),
        "images": len(cohort.images),
        "hands": len(cohort.hands),
        "scored sites": len(cohort.scores),
        "landmarks": len(cohort.landmarks),
        "reader gradings": len(cohort.readers),
    }
    return pd.DataFrame({"count": counts})


def views(cohort) -> pd.DataFrame:
    """Images per view and per DICOM body-part tag (blank tags shown as '(blank)')."""
    body = cohort.images["body_part"].fillna("").replace("", "(blank)")
    return pd.crosstab(cohort.images["view"], body, margins=True, margins_name="total")


def non_intact_by_group(scores: pd.DataFrame) -> pd.DataFrame:
    """Share of non-intact joints (grade >= 1) per paper-001 group, beside paper 001 Table 2."""
    group_of = {(s.kind, s.site): s.group for s in sites.HAND_SITES}
    df = scores.assign(group=[group_of.get(k) for k in zip(scores["kind"], scores["site"])],
                       non_intact=scores["grade"] >= 1)
    df = df[df["group"].notna()]
    per_group = df.groupby(["kind", "group"])["non_intact"].agg(non_intact="sum", total="size").reset_index()
    overall = df.groupby("kind")["non_intact"].agg(non_intact="sum", total="size").reset_index()
    table = pd.concat([per_group, overall.assign(group="all")], ignore_index=True)
    table["cohort %"] = 100 * table["non_intact"] / table["total"]
    paper = PAPER001_TABLE2.assign(**{"paper 001 %": 100 * PAPER001_TABLE2["non_intact"] / PAPER001_TABLE2["total"]})
    table = table.merge(paper[["kind", "group", "paper 001 %"]], on=["kind", "group"], how="left")
    order = {(k, g): i for i, (k, g) in enumerate(zip(PAPER001_TABLE2["kind"], PAPER001_TABLE2["group"]))}
    table["_order"] = [order.get(k, 99) for k in zip(table["kind"], table["group"])]
    return table.sort_values("_order").drop(columns="_order").reset_index(drop=True)


def grade_distribution(scores: pd.DataFrame) -> pd.DataFrame:
    """Joints per grade and kind (columns: grade 0..5)."""
    return pd.crosstab(scores["kind"], scores["grade"].astype(int))


def left_right_agreement(scores: pd.DataFrame) -> pd.DataFrame:
    """Per group: how often the same site of both hands of one image is equally intact/non-intact."""
    df = scores.assign(non_intact=scores["grade"] >= 1)
    wide = df.pivot_table(index=["image_id", "kind", "site"], columns="hand", values="non_intact", aggfunc="first")
    if not {"L", "R"} <= set(wide.columns):
        return pd.DataFrame(columns=["kind", "group", "pairs", "agreement %"])
    wide = wide.dropna(subset=["L", "R"]).reset_index()
    group_of = {(s.kind, s.site): s.group for s in sites.HAND_SITES}
    wide["group"] = [group_of.get(k) for k in zip(wide["kind"], wide["site"])]
    wide["agree"] = wide["L"].astype(bool) == wide["R"].astype(bool)
    out = wide.groupby(["kind", "group"])["agree"].agg(pairs="size", agree="mean").reset_index()
    out["agreement %"] = 100 * out.pop("agree")
    return out


def hand_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Per hand: erosion, JSN and total SvdH score (sites scored on that hand)."""
    per = scores.pivot_table(index="hand_id", columns="kind", values="grade", aggfunc="sum", fill_value=0)
    per = per.reindex(columns=list(sites.KINDS), fill_value=0)
    per["total"] = per.sum(axis=1)
    return per.reset_index()


def summarise_scores(values: pd.Series) -> dict:
    """Mean, SD, median and range of a score series (for captions)."""
    arr = np.asarray(values, dtype=float)
    return {"mean": arr.mean(), "sd": arr.std(ddof=1) if arr.size > 1 else np.nan,
            "median": np.median(arr), "min": arr.min(), "max": arr.max()}


def view_examples(images: pd.DataFrame, per_view: int = 1, seed: int = 0) -> pd.DataFrame:
    """Up to ``per_view`` images of each view, drawn reproducibly, views in schema order."""
    from ra_lib.cohort.schema import VIEWS

    picked = [images[images["view"] == view].sample(frac=1.0, random_state=seed).head(per_view) for view in VIEWS]
    return pd.concat(picked, ignore_index=True)
