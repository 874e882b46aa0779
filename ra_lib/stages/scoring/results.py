"""Scored images kept between runs, and the output tables made from them.

Each image's result lies in ``<out>/.cache/<key>.json`` where the key hashes the file's content, the
model bundles' fingerprint, the settings that change a result and the ra_lib version; its verdict PNG in
``<out>/images/<image_key>.png``. Both are written atomically, the PNG first, so a result on disk is
always complete and a re-run skips it. The tables are written only once every image is done.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from ra_lib.core.artifacts import atomic_path
from ra_lib.core.bundles import ra_lib_version
from ra_lib.stages.scoring.image_scoring import FLAGS
from ra_lib.stages.scoring.inputs import ScoringInput

CACHE_DIR = ".cache"
OVERLAY_DIR = "images"
IMAGE_COLUMNS = ["image_key", "source", "image_id", "patient", "status", "flags", "reasons", "format", "width",
                 "height", "selection", "p_one_hand", "p_both_hands", "score_unit", "overall_score", "hands",
                 "overlay"]
HAND_COLUMNS = ["image_key", "image_id", "patient", "hand", "x0", "x1", "score"]
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


def image_rows(inputs: list[ScoringInput], keys: list[str], store: ResultStore) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-image and per-hand tables, one image row per input in input order."""
    images, hands = [], []
    for item, key in zip(inputs, keys):
        record = store.load(key)
        image_key = record["image_key"]
        overlay = store.overlay_dir / f"{image_key}.png"
        images.append({
            **{c: record.get(c) for c in IMAGE_COLUMNS}, "image_key": image_key, "source": item.source,
            "image_id": item.image_id, "patient": item.patient,
            "status": "flagged" if record["flags"] else "scored",
            "flags": ";".join(record["flags"]), "reasons": "; ".join(record["reasons"]),
            "hands": len(record["hands"]),
            "overlay": f"{OVERLAY_DIR}/{overlay.name}" if overlay.is_file() else None})
        for hand in record["hands"]:
            hands.append({"image_key": image_key, "image_id": item.image_id, "patient": item.patient,
                          "hand": hand["hand"], "x0": hand["x0"], "x1": hand["x1"], "score": hand.get("score")})
    image_table = pd.DataFrame(images, columns=IMAGE_COLUMNS)
    image_table = image_table.astype({"width": "Int64", "height": "Int64", "p_one_hand": float, "p_both_hands": float,
                                      "overall_score": float})
    hand_table = pd.DataFrame(hands, columns=HAND_COLUMNS).astype({"score": float})
    return image_table, hand_table


def flag_counts(images: pd.DataFrame) -> dict[str, int]:
    """Images carrying each flag (an image may carry several)."""
    flags = images["flags"].fillna("").str.split(";")
    return {flag: int(flags.map(lambda f, flag=flag: flag in f).sum()) for flag in FLAGS}
