"""Stage contracts: the headline checker, and docs/ARTIFACTS.md listing exactly the names each stage writes."""
import importlib
import itertools
import re
from pathlib import Path

import pytest

from ra_lib.core import contracts

DOC = Path(__file__).resolve().parents[2] / "docs" / "ARTIFACTS.md"
#: Where each stage declares its ``HEADLINE_NAMES``.
DECLARING_MODULES = {
    contracts.COHORT: "ra_lib.cohort.summary",
    contracts.SELECTION: "ra_lib.stages.selection",
    contracts.DETECTION: "ra_lib.stages.detection",
    contracts.CLASSIFICATION: "ra_lib.stages.classification",
    contracts.GRADING: "ra_lib.stages.grading",
    contracts.OVERALL_SCORE: "ra_lib.stages.overall_score",
    contracts.COMPARISONS: "ra_lib.stages.comparisons",
    contracts.SCORING: "ra_lib.stages.scoring",
}


def expand(pattern: str) -> list[str]:
    """``a/{x,y}/{1,2}`` -> the four names it stands for."""
    parts = re.split(r"\{([^}]*)\}", pattern)
    choices = [[p] if i % 2 == 0 else p.split(",") for i, p in enumerate(parts)]
    return ["".join(combo) for combo in itertools.product(*choices)]


def documented_names() -> dict[str, set[str]]:
    """Headline names per stage from the doc's ``### <stage id>`` sections (each backticked name of a table's first column)."""
    names: dict[str, set[str]] = {}
    stage = None
    in_headlines = False
    for line in DOC.read_text().splitlines():
        if line.startswith("## "):
            in_headlines = line.strip() == "## Headline names"
            stage = None
        elif in_headlines and line.startswith("### "):
            stage = line[4:].strip().strip("`")
            names[stage] = set()
        elif in_headlines and stage and line.startswith("| `"):
            first_cell = line.split("|")[1]
            for pattern in re.findall(r"`([^`]+)`", first_cell):
                names[stage].update(expand(pattern))
    return names


def test_headline_keeps_declared_names_and_nulls_non_finite():
    out = contracts.headline(["a/x", "b"], {"a/x": 0.5, "b": float("nan")})
    assert out == {"a/x": 0.5, "b": None}


@pytest.mark.parametrize("values, message", [({"a": 1.0}, "missing \\['b'\\]"),
                                             ({"a": 1.0, "b": 2.0, "c": 3.0}, "undeclared \\['c'\\]")])
def test_headline_rejects_names_off_the_contract(values, message):
    with pytest.raises(ValueError, match=message):
        contracts.headline(["a", "b"], values)


def test_expand_braces():
    assert expand("x/{a,b}/{1,2}") == ["x/a/1", "x/a/2", "x/b/1", "x/b/2"]


def test_every_stage_is_documented_and_declared():
    assert set(DECLARING_MODULES) == set(contracts.STAGES)
    assert set(documented_names()) == set(contracts.STAGES)


@pytest.mark.parametrize("stage", contracts.STAGES)
def test_documented_headline_names_match_the_code(stage):
    declared = importlib.import_module(DECLARING_MODULES[stage]).HEADLINE_NAMES
    assert len(declared) == len(set(declared)), "a headline name is declared twice"
    assert set(declared) == documented_names()[stage]
