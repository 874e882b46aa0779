"""Scored images kept between runs, and the output tables made from them.

Each image's result lies in ``<out>/.cache/<key>.json`` where the key hashes the file's content, the
model bundles' fingerprint, the settings that change a result and the ra_lib version; its verdict PNG in
``<out>/images/<image_key>.png``. Both are written atomically, the PNG first, so a result on disk is
always complete and a re-run skips it. The tables are written only once every image is done.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pandas as pd

from ra_lib.core.artifacts import atomic_path
from ra_lib.core.bundles import ra_lib_version
from ra_lib.stages.scoring.image_scoring import FLAGS
from ra_lib.stages.scoring.inputs import ScoringInput
from ra_lib.stages.scoring.joints import JOINT_SUM_KEYS, PREDICTION_KEYS, SUM_DISTRIBUTION
from ra_lib.stages.scoring.patients import patient_table

CACHE_DIR = ".cache"
OVERLAY_DIR = "images"
IMAGE_COLUMNS = ["image_key", "source", "image_id", "patient", "study_date", "status", "flags", "reasons", "format",
                 "width", "height", "orientation_pred", "rotation_pred", "thumb_side_pred", "selection", "p_one_hand",
                 "p_both_hands", "score_unit", "overall_score", "hands", "overlay"]
HAND_COLUMNS = ["image_key", "image_id", "patient", "hand", "x0", "x1", "thumb_side", "mirrored", "score",
                *JOINT_SUM_KEYS, "joints_found", "joints_not_found"]
JOINT_COLUMNS = ["image_key", "image_id", "patient", "hand", "kind", "site", "group", "landmark", "x", "y",
                 "likelihood", "detection", "reason", *PREDICTION_KEYS]
#: Characters of the content hash that name an image in the tables, its PNG and the report.
IMAGE_KEY_LENGTH = 16


def result_key(content_sha256: str, models_fingerprint: str, result_settings: dict) -> str:
    """The cache key of one image's result (the ra_lib version too: a new release scores again)."""
    text = json.dumps([content_sha256, models_fingerprint, result_settings, ra_lib_version()], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


class ResultStore:
    """The per-image results of one output folder."""

    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)
        self.cache_dir = self.out_dir / CACHE_DIR
        self.overlay_dir = self.out_dir / OVERLAY_DIR

    def _record_path(self, key: str) -> Path:
        return self.cache_dir / f"{key}.json"

    def has(self, key: str) -> bool:
        return self._record_path(key).is_file()

    def save(self, record: dict, png: bytes | None) -> None:
        """Keep one result: its PNG (when drawn), then its record."""
        if png is not None:
            with atomic_path(self.overlay_dir / f"{record['image_key']}.png") as tmp:
                tmp.write_bytes(png)
        with atomic_path(self._record_path(record["key"])) as tmp:
            tmp.write_text(json.dumps(record, sort_keys=True))

    def load(self, key: str) -> dict:
        return json.loads(self._record_path(key).read_text())


def output_tables(inputs: list[ScoringInput], keys: list[str],
                  store: ResultStore) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The per-image, per-hand, per-joint and per-patient (:func:`.patients.patient_table`) tables, one image
    row per input in input order."""
    images, hands, joints, distributions = [], [], [], []
    for item, key in zip(inputs, keys):
        record = store.load(key)
        image_key = record["image_key"]
        overlay = store.overlay_dir / f"{image_key}.png"
        images.append({
            **{c: record.get(c) for c in IMAGE_COLUMNS}, "image_key": image_key, "source": item.source,
            "image_id": item.image_id, "patient": item.patient, "study_date": item.study_date,
            "status": "flagged" if record["flags"] else "scored",
            "flags": ";".join(record["flags"]), "reasons": "; ".join(record["reasons"]),
            "hands": len(record["hands"]),
            "overlay": f"{OVERLAY_DIR}/{overlay.name}" if overlay.is_file() else None})
        owner = {"image_key": image_key, "image_id": item.image_id, "patient": item.patient}
        detections = Counter((joint["hand_index"], joint["detection"]) for joint in record["joints"])
        for index, hand in enumerate(record["hands"]):
            hands.append({**owner, **{c: hand.get(c) for c in HAND_COLUMNS[3:]},
                          "joints_found": detections[(index, "found")],
                          "joints_not_found": detections[(index, "not_found")]})
            distributions.append(hand.get(SUM_DISTRIBUTION))
        joints += [{**owner, "hand": record["hands"][joint["hand_index"]]["hand"],
                    **{c: joint.get(c) for c in JOINT_COLUMNS[4:]}} for joint in record["joints"]]
    image_table = pd.DataFrame(images, columns=IMAGE_COLUMNS)
    image_table = image_table.astype({"width": "Int64", "height": "Int64", "rotation_pred": "Int64",
                                      "p_one_hand": float, "p_both_hands": float, "overall_score": float})
    hand_table = pd.DataFrame(hands, columns=HAND_COLUMNS).astype(
        {"score": float, "mirrored": "boolean", **{c: float for c in JOINT_SUM_KEYS[:3]}, "sites_graded": "Int64",
         "sites_filled": "Int64"})
    joint_table = pd.DataFrame(joints, columns=JOINT_COLUMNS).astype(
        {"x": float, "y": float, "likelihood": float, "grade_pred": "Int64",
         **{c: float for c in PREDICTION_KEYS if c != "grade_pred"}})
    return image_table, hand_table, joint_table, patient_table(image_table, hand_table, distributions)


def flag_counts(images: pd.DataFrame) -> dict[str, int]:
    """Images carrying each flag (an image may carry several)."""
    flags = images["flags"].fillna("").str.split(";")
    return {flag: int(flags.map(lambda f, flag=flag: flag in f).sum()) for flag in FLAGS}
