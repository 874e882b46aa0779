"""ra_lib.stages.comparisons.tables: interval cells, Holm within groups, JSON records, recomputed numbers."""
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from ra_lib.stages.comparisons import tables


def test_format_ci():
    assert tables.format_ci(0.654, 0.55, 0.72) == "0.65 [0.55,\u00a00.72]"
    assert tables.format_ci(0.654, np.nan, 0.72, digits=3) == "0.654"
    assert tables.format_ci(np.nan, 0.1, 0.2) == "-"


def test_holm_within_groups_matches_statsmodels():
    table = pd.DataFrame({"g": ["a", "a", "b", "a", "b"], "p": [0.01, 0.04, 0.03, 0.02, 0.5]})
    got = tables.holm_within(table, "p", ["g"])
    a = table["g"] == "a"
    assert got[a].tolist() == pytest.approx(multipletests(table.loc[a, "p"], method="holm")[1].tolist())
    assert got[~a].tolist() == pytest.approx(multipletests(table.loc[~a, "p"], method="holm")[1].tolist())
    assert tables.holm_within(table.iloc[:0], "p", ["g"]).empty


def test_records_are_strict_json():
    rows = tables.records(pd.DataFrame({"a": [1.0, np.nan], "b": ["x", None]}))
    assert rows == [{"a": 1.0, "b": "x"}, {"a": None, "b": None}]


def test_recomputed_has_its_columns_also_when_empty():
    table = tables.recomputed("s", [("m/x", 0.5, 0.4, 0.6, "here"), ("m/y", 1, None, None, "there")])
    assert tuple(table.columns) == tables.RECOMPUTED_COLUMNS
    assert table["stage"].tolist() == ["s", "s"] and np.isnan(table.loc[1, "recomputed_lower"])
    assert tuple(tables.recomputed("s", []).columns) == tables.RECOMPUTED_COLUMNS
