"""Descriptive tables of a cohort: what the cohort page shows before any model runs, and its headline."""
from __future__ import annotations

import pandas as pd

from ra_lib.cohort import sites
from ra_lib.cohort.schema import VIEWS
from ra_lib.core.contracts import headline as checked_headline

#: The cohort page's ``metrics.json`` headline (see :func:`headline`).
HEADLINE_NAMES = ("images", "patients", "hands", "scored_sites", "landmarks", "reader_gradings", "readers",
                  "hand_pairs", "non_intact_share/erosion", "non_intact_share/jsn")

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


def hand_pairs(cohort) -> pd.DataFrame:
    """The left and right hand of one patient at one visit, both scored: columns ``L``, ``R`` (hand ids).

    A visit is a patient's study date (a cohort without dates, such as RA2, has one visit per
    patient). A visit with exactly one scored left and one scored right hand gives that pair;
    with more, only the two hands of each both-hands image pair up.
    """
    scored = cohort.hands[cohort.hands["hand_id"].isin(cohort.scores["hand_id"])]
    visits = scored.merge(cohort.images[["image_id", "study_date"]], on="image_id")
    pairs = []
    for _, visit in visits.groupby(["patient", "study_date"], sort=True):
        left, right = visit[visit["hand"] == "L"], visit[visit["hand"] == "R"]
        if len(left) == 1 and len(right) == 1:
            pairs.append((left["hand_id"].iloc[0], right["hand_id"].iloc[0]))
        else:
            both = sorted(set(left["image_id"]) & set(right["image_id"]))
            pairs += [(f"{image}:L", f"{image}:R") for image in both]
    return pd.DataFrame(pairs, columns=["L", "R"])


def left_right_agreement(scores: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Per group: how often the same site of a pair of hands (:func:`hand_pairs`) is equally intact/non-intact."""
    status = scores.assign(non_intact=scores["grade"] >= 1)[["hand_id", "kind", "site", "non_intact"]]
    wide = (pairs.merge(status, left_on="L", right_on="hand_id")
            .merge(status, left_on=["R", "kind", "site"], right_on=["hand_id", "kind", "site"], suffixes=("_L", "_R")))
    if wide.empty:
        return pd.DataFrame(columns=["kind", "group", "pairs", "agreement %"])
    group_of = {(s.kind, s.site): s.group for s in sites.HAND_SITES}
    wide["group"] = [group_of.get(k) for k in zip(wide["kind"], wide["site"])]
    wide["agree"] = wide["non_intact_L"] == wide["non_intact_R"]
    out = wide.groupby(["kind", "group"])["agree"].agg(pairs="size", agree="mean").reset_index()
    out["agreement %"] = 100 * out.pop("agree")
    return out


def hand_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Per hand: erosion, JSN and total SvdH score (sites scored on that hand)."""
    per = scores.pivot_table(index="hand_id", columns="kind", values="grade", aggfunc="sum", fill_value=0)
    per = per.reindex(columns=list(sites.KINDS), fill_value=0)
    per["total"] = per.sum(axis=1)
    return per.reset_index()


def view_examples(images: pd.DataFrame, per_view: int = 1, seed: int = 0) -> pd.DataFrame:
    """Up to ``per_view`` images of each view, drawn reproducibly, views in schema order."""
    picked = [images[images["view"] == view].sample(frac=1.0, random_state=seed).head(per_view) for view in VIEWS]
    return pd.concat(picked, ignore_index=True)


def headline(cohort) -> dict[str, float | None]:
    """Counts of the cohort, ``readers`` (distinct reader ids, None without readers), ``hand_pairs``
    (:func:`hand_pairs`) and the share of non-intact joints per kind (None without scores)."""
    counts = overview(cohort)["count"]
    share = {kind: (cohort.scores.loc[cohort.scores["kind"] == kind, "grade"] >= 1).mean()
             if (cohort.scores["kind"] == kind).any() else None for kind in sites.KINDS}
    return checked_headline(HEADLINE_NAMES, {
        "images": counts["images"], "patients": counts["patients"], "hands": counts["hands"],
        "scored_sites": counts["scored sites"], "landmarks": counts["landmarks"],
        "reader_gradings": counts["reader gradings"],
        "readers": cohort.readers["reader_id"].nunique() if len(cohort.readers) else None,
        "hand_pairs": len(hand_pairs(cohort)),
        "non_intact_share/erosion": share[sites.EROSION], "non_intact_share/jsn": share[sites.JSN]})


def description(cohort) -> str:
    """One paragraph (Markdown) naming the cohort the page ran on: its name, layout, whether it is synthetic."""
    manifest = cohort.manifest
    kind = ("a **synthetic** cohort generated by `ra_lib.synthetic` (phantom radiographs with known joint "
            "centres and grades)" if manifest.synthetic else "read from its files (not generated by the book)")
    text = f"This page ran on cohort **{manifest.cohort}** (`{manifest.format}` layout), {kind}."
    if manifest.description:
        text += f" {manifest.description.strip().rstrip('.')}."
    return text
