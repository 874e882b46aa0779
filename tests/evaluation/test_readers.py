"""ra_lib.evaluation.readers: the cohort's readers as rows of stage 3's out-of-fold table."""
import pandas as pd
import pytest

from fixtures.comparisons_artifacts import fake_oof, fake_readers
from ra_lib.core.errors import RaDataError
from ra_lib.evaluation.readers import JOINT_KEYS, OOF_COLUMNS, READER_PREFIX, reader_rows


def test_reader_rows_are_calls_on_predicted_joints():
    oof = fake_oof()
    readers = fake_readers(oof)
    extra = readers.iloc[:1].assign(hand_id="NOT-PREDICTED:L")
    rows = reader_rows(pd.concat([readers, extra]), oof)
    assert list(rows.columns) == list(OOF_COLUMNS)
    assert set(rows["model"]) == {READER_PREFIX + "r1", READER_PREFIX + "r2"}
    assert "NOT-PREDICTED:L" not in set(rows["hand_id"])
    merged = rows.merge(readers.assign(model=READER_PREFIX + readers["reader_id"]), on=["model", *JOINT_KEYS])
    assert len(merged) == len(readers)
    assert (merged["probability"] == (merged["grade"] >= 1)).all()
    truth = oof.drop_duplicates(JOINT_KEYS).set_index(JOINT_KEYS)["label"]
    assert (rows.set_index(JOINT_KEYS)["label"] == truth.reindex(rows.set_index(JOINT_KEYS).index)).all()


def test_ungraded_joints_are_absent_for_that_reader():
    oof = fake_oof()
    readers = fake_readers(oof)
    readers.loc[readers.index[:5], "grade"] = None
    rows = reader_rows(readers, oof)
    assert len(rows) == len(readers) - 5


def test_empty_readers_table_gives_no_rows():
    oof = fake_oof()
    rows = reader_rows(fake_readers(oof).iloc[:0], oof)
    assert rows.empty and list(rows.columns) == list(OOF_COLUMNS)


def test_readers_table_without_a_column_is_refused():
    oof = fake_oof()
    with pytest.raises(RaDataError, match=r"missing column\(s\) \['grade'\]"):
        reader_rows(fake_readers(oof).drop(columns=["grade"]), oof)
