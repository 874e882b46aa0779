"""From the crop store to model inputs: usable joints, left/right hand pairs, samples and class balance.

* Flagged crops (stage 2 marked the detection unreliable) and crops without a grade are left out
  and counted.
* The two hands of a *visit* are paired: the hands of one both-hands radiograph, or a left and a
  right radiograph of the same visit (a ``visit`` column of the images table, else the same study
  date), or, when the images carry neither (the RA2 layout), the only left and the only right hand
  of a patient. :func:`hand_pairs` says for every hand how it was paired.
* A pair lacking one hand, or a sample lacking a crop, keeps its other crops: the missing input is
  a zero image whose target is masked out of the loss and which gets no prediction. Nothing is
  dropped; the number of masked inputs is reported.
* Class balance (paper: geometric augmentation "until the total was about 10,000 with no class
  imbalance"): a sample is *positive* when any of its labels is non-intact; :func:`balance` tops up
  each class with copies drawn with replacement.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ra_lib.cohort.sites import HANDS, sites_in_group
from ra_lib.stages.classification.models import MODEL_TYPES, n_inputs

#: Crop-store columns this stage reads (``crops.csv`` of stage 2).
INDEX_COLUMNS = ("crop_idx", "hand_id", "image_id", "patient", "hand", "kind", "site", "group", "x", "y",
                 "flagged", "grade")
#: How a left and a right hand were paired (:func:`hand_pairs`); ``unpaired``: no contralateral hand.
PAIRINGS = ("image", "visit", "study_date", "patient", "unpaired")
#: Models whose input holds both hands.
TWO_HAND_MODELS = ("mimo_local", "mimo_both_hands")
HAND_KEYS = ["hand_id", "image_id", "patient", "hand"]


# --- hands and their pairs -----------------------------------------------------------------------
def hand_pairs(hands: pd.DataFrame, images: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per hand (``hand_id, image_id, patient, hand``) with its ``pair`` key and ``pairing``.

    A hand's visit is its image's ``visit`` value (when the images table has that column), else the
    patient and study date, else (no date) the patient when that patient has exactly one undated left
    and one undated right hand, else its own image. Within a visit the i-th left hand pairs with the
    i-th right hand (by id). ``pairing`` is how a formed pair was found (``image`` when both hands are
    on one radiograph; see :data:`PAIRINGS`), ``unpaired`` for a hand without a contralateral twin.
    """
    hands = hands.drop_duplicates("hand_id")[HAND_KEYS].reset_index(drop=True)
    visit_of, date_of = {}, {}
    if images is not None:
        ids = images["image_id"].astype(str)
        date_of = dict(zip(ids, images["study_date"].astype("string").fillna("")))
        if "visit" in images:
            visit_of = dict(zip(ids, images["visit"].astype("string").fillna("")))
    image, patient = hands["image_id"].astype(str), hands["patient"].astype(str)
    visit = image.map(visit_of).fillna("")
    date = image.map(date_of).fillna("")
    undated = (visit == "") & (date == "")
    per_patient = hands[undated].groupby("patient")["hand"].agg(lambda h: sorted(h) == sorted(HANDS))
    only_pair = undated & patient.map(per_patient).eq(True)
    found = np.select([visit != "", date != "", only_pair], ["visit", "study_date", "patient"], "image")
    key = np.select([visit != "", date != "", only_pair],
                    [patient + "|visit " + visit, patient + "|date " + date, patient + "|only"], image)
    hands = hands.assign(visit=key, found=found).sort_values(["visit", "hand", "hand_id"])
    hands["pair"] = hands["visit"] + "#" + hands.groupby(["visit", "hand"]).cumcount().astype(str)
    sides = hands.groupby("pair")["hand"].transform("nunique")
    one_image = hands.groupby("pair")["image_id"].transform("nunique") == 1
    hands["pairing"] = np.where(sides < 2, "unpaired", np.where(one_image, "image", hands["found"]))
    return hands.sort_index()[[*HAND_KEYS, "pair", "pairing"]]


def pairing_summary(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per pairing method (:data:`PAIRINGS`): hands and left/right hand pairs."""
    hands = pairs["pairing"].value_counts().reindex(list(PAIRINGS), fill_value=0)
    paired = pairs[pairs["pairing"] != "unpaired"].drop_duplicates("pair")["pairing"].value_counts()
    return pd.DataFrame({"pairing": list(PAIRINGS), "hands": hands.to_numpy(),
                         "hand_pairs": paired.reindex(list(PAIRINGS), fill_value=0).to_numpy()})


# --- joints --------------------------------------------------------------------------------------
def joint_table(index: pd.DataFrame, folds: pd.DataFrame, kind: str,
                pairs: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict]:
    """Usable crops of one kind with ``label`` (grade >= 1), ``fold`` and hand ``pair``; and counts.

    ``pairs``: :func:`hand_pairs` of the crop store's hands (``None``: pairs within each image only).
    Flagged and ungraded crops are left out; the counts say how many.
    """
    missing = [c for c in INDEX_COLUMNS if c not in index.columns]
    if missing:
        raise ValueError(f"crop index (crops.csv) lacks column(s) {missing}")
    crops = index[index["kind"] == kind]
    flagged = crops["flagged"].astype(bool)
    ungraded = crops["grade"].isna() & ~flagged
    joints = crops[~flagged & ~ungraded].copy()
    duplicated = joints.duplicated(["hand_id", "site"])
    if duplicated.any():
        row = joints[duplicated].iloc[0]
        raise ValueError(f"crop index has two usable {kind} crops for hand {row.hand_id} site {row.site}")
    fold_of = folds.drop_duplicates("patient").set_index("patient")["fold"]
    unknown = sorted(set(joints["patient"]) - set(fold_of.index))
    if unknown:
        raise ValueError(f"{len(unknown)} patient(s) of the crop index have no fold, e.g. {unknown[:3]}")
    joints["fold"] = joints["patient"].map(fold_of).astype(int)
    joints["label"] = (joints["grade"] >= 1).astype(np.float32)
    pair_of = (pairs if pairs is not None else hand_pairs(joints)).set_index("hand_id")["pair"]
    joints["pair"] = joints["hand_id"].map(pair_of).fillna(joints["hand_id"])
    counts = {"kind": kind, "crops": int(len(crops)), "flagged": int(flagged.sum()),
              "ungraded": int(ungraded.sum()), "used": int(len(joints)), "non_intact": int(joints["label"].sum()),
              "contralateral_pairs": contralateral_pairs(joints)}
    return joints.reset_index(drop=True), counts


def contralateral_pairs(joints: pd.DataFrame) -> int:
    """Joints of a left/right hand pair whose twin on the other hand is usable too (counted once per pair)."""
    if joints.empty:
        return 0
    return int((joints.groupby(["pair", "site"])["hand"].nunique() == len(HANDS)).sum())


def group_summary(joints: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Per joint group of ``kind``: usable joints, non-intact joints and their share (prevalence)."""
    table = joints.groupby("group", sort=False)["label"].agg(joints="size", non_intact="sum").reset_index()
    table["non_intact"] = table["non_intact"].astype(int)
    return table.assign(kind=kind, prevalence=table["non_intact"] / table["joints"])[
        ["kind", "group", "joints", "non_intact", "prevalence"]]


# --- samples -------------------------------------------------------------------------------------
@dataclass
class Samples:
    """The inputs of one model type on one joint group: ``rows[i, j]`` is the joint-table row of
    crop ``j`` of sample ``i`` (``-1``: missing input)."""

    model_type: str
    kind: str
    group: str
    joints: pd.DataFrame
    rows: np.ndarray
    fold: np.ndarray

    @property
    def crop_idx(self) -> np.ndarray:
        return np.where(self.rows >= 0, self.joints["crop_idx"].to_numpy()[self.rows], -1)

    @property
    def labels(self) -> np.ndarray:
        return np.where(self.rows >= 0, self.joints["label"].to_numpy()[self.rows], np.nan).astype(np.float32)

    @property
    def positive(self) -> np.ndarray:
        return (np.nan_to_num(self.labels) > 0).any(axis=1)

    def counts(self) -> dict:
        """Samples, masked inputs and samples lacking a whole hand (MIMO local / both-hands)."""
        missing = self.rows < 0
        half = self.rows.shape[1] // 2
        lacking_hand = (missing[:, :half].all(axis=1) | missing[:, half:].all(axis=1)
                        if self.model_type in TWO_HAND_MODELS else np.zeros(len(self.rows), bool))
        return {"kind": self.kind, "group": self.group, "model": self.model_type, "samples": int(len(self.rows)),
                "masked_inputs": int(missing.sum()), "samples_missing_hand": int(lacking_hand.sum())}


def build_samples(joints: pd.DataFrame, kind: str, group: str, model_type: str) -> Samples:
    """Samples of ``model_type`` for one joint group from :func:`joint_table`'s output for ``kind``."""
    sites = [s.site for s in sites_in_group(kind, group)]
    sub = joints[joints["site"].isin(sites)]
    pos = pd.Series(sub.index, index=pd.MultiIndex.from_arrays([sub["pair"], sub["hand"], sub["site"]]))
    if model_type == "siso":
        keys = [[k] for k in pos.index]
    elif model_type == "mimo_one_hand":
        hands = sub[["pair", "hand"]].drop_duplicates().itertuples(index=False)
        keys = [[(pair, hand, s) for s in sites] for pair, hand in hands]
    elif model_type == "mimo_local":
        pair_sites = sub[["pair", "site"]].drop_duplicates().itertuples(index=False)
        keys = [[(pair, h, s) for h in HANDS] for pair, s in pair_sites]
    elif model_type == "mimo_both_hands":
        keys = [[(pair, h, s) for h in HANDS for s in sites] for pair in sub["pair"].unique()]
    else:
        raise ValueError(f"unknown model type {model_type!r}; expected one of {MODEL_TYPES}")
    lookup = pos.to_dict()
    width = n_inputs(model_type, len(sites))
    rows = np.array([[lookup.get(k, -1) for k in sample] for sample in keys], dtype=np.int64).reshape(len(keys), width)
    first = rows.max(axis=1) if len(rows) else np.empty(0, np.int64)
    fold = joints["fold"].to_numpy()[first] if len(rows) else np.empty(0, int)
    return Samples(model_type, kind, group, joints, rows, fold)


# --- class balance -------------------------------------------------------------------------------
def balance(positive: np.ndarray, train_size: int | None, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a class-balanced set and whether each is an augmented copy.

    Each class present gets ``max(train_size // 2, majority count)`` items (``train_size=None``:
    the majority count): all its originals once, then copies drawn with replacement. A class absent
    from the split stays absent.
    """
    positive = np.asarray(positive, bool)
    classes = [np.flatnonzero(positive), np.flatnonzero(~positive)]
    target = max([len(c) for c in classes] + [(train_size or 0) // 2])
    picked, augmented = [], []
    for members in classes:
        if not len(members):
            continue
        extra = rng.choice(members, size=max(target - len(members), 0), replace=True)
        picked.append(np.concatenate([members, extra]))
        augmented.append(np.r_[np.zeros(len(members), bool), np.ones(len(extra), bool)])
    if not picked:
        return np.empty(0, np.int64), np.empty(0, bool)
    return np.concatenate(picked), np.concatenate(augmented)
