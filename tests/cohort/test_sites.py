from ra_lib.cohort import sites


def test_counts_match_svdh():
    assert len(sites.hand_sites("erosion")) == 16
    assert len(sites.hand_sites("jsn")) == 15
    assert sites.MAX_HAND_SCORE == 280
    assert len(sites.HAND_LANDMARKS) == 22


def test_paper001_groups_match_table2_totals():
    # Table 2 of paper 001 has 226 images: group totals / 226 = sites per group.
    expected = {("erosion", "PIP-IP"): 5, ("erosion", "MCP"): 5, ("erosion", "CMC-M"): 2, ("erosion", "wrist"): 4,
                ("jsn", "PIP"): 4, ("jsn", "MCP"): 5, ("jsn", "CMC"): 3, ("jsn", "wrist"): 3}
    for (kind, group), n in expected.items():
        assert len(sites.sites_in_group(kind, group)) == n


def test_ra2_columns_unique_and_lookup():
    columns = [s.ra2_column for s in sites.HAND_SITES]
    assert len(columns) == len(set(columns))
    assert sites.get_site("jsn", "capitate_scaphoid_lunate").ra2_column == "wrist_J__capnlun"
    assert sites.get_site("erosion", "mtp1", foot=True).max_grade == 10


def test_unknown_site_is_named():
    try:
        sites.get_site("erosion", "elbow")
    except KeyError as error:
        assert "erosion/elbow" in str(error)
    else:
        raise AssertionError("expected KeyError")
