"""Human readers scored like a model: their per-joint calls as rows of stage 3's out-of-fold table."""
from __future__ import annotations

import pandas as pd

from ra_lib.core.errors import RaDataError

#: Stage 3's out-of-fold prediction columns (``oof_predictions.csv``, docs/ARTIFACTS.md).
OOF_COLUMNS = ("hand_id", "patient", "hand", "kind", "site", "group", "fold", "model", "probability", "label")
#: The cohort's readers table columns these rows are made from.
READER_COLUMNS = ("reader_id", "hand_id", "kind", "site", "grade")
#: A reader's rows carry ``model = READER_PREFIX + reader_id``.
READER_PREFIX = "reader "
JOINT_KEYS = ["hand_id", "kind", "site"]


def reader_rows(readers: pd.DataFrame, oof: pd.DataFrame) -> pd.DataFrame:
    """Readers' calls (grade >= 1) on the joints stage 3 predicted, as OOF rows (``model = "reader <id>"``).

    ``probability`` is the 0/1 call; truth (``label``) and the other columns come from the OOF table.
    Joints a reader did not grade are absent for that reader.
    """
    missing = [c for c in READER_COLUMNS if c not in readers.columns]
    if missing:
        raise RaDataError(f"cohort readers table: missing column(s) {missing}")
    truth = oof.drop_duplicates(JOINT_KEYS).drop(columns=["model", "probability"])
    calls = readers.dropna(subset=["grade"]).merge(truth, on=JOINT_KEYS, how="inner")
    return calls.assign(model=READER_PREFIX + calls["reader_id"].astype(str),
                        probability=(calls["grade"] >= 1).astype(float))[list(OOF_COLUMNS)]
