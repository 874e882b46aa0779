"""Property: whatever one mutation does to a tiny cohort, ingestion gives a clear error naming the file or a
valid result, never an exception from inside the library, and writes nothing outside the data root.

Seeded (``derandomize``) and bounded to about a minute; ``bench/ingestion_fuzz.py`` runs the same
mutations longer and prints the outcome table.
"""
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures.cohort_fuzz import FORMATS, exercise, fresh_case, mutate

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
RULES_KEPT = ("clear error naming the file", "accepted")


@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz_bases")


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(fmt=st.sampled_from(FORMATS), rng=st.randoms(use_true_random=False))
def test_one_mutation_gives_a_clear_error_or_a_valid_cohort(bases, fmt, rng: random.Random):
    with tempfile.TemporaryDirectory() as tmp:
        manifest = fresh_case(bases, Path(tmp) / "case", fmt)
        mutation = mutate(manifest, rng)
        outcome, detail = exercise(manifest, mutation)
    assert outcome in RULES_KEPT, f"{fmt}: {mutation.family}: {mutation.action} -> {outcome}: {detail}"


def test_the_runner_sees_a_broken_rule(bases, tmp_path, monkeypatch):
    """The property is not vacuous: a library that raises, or writes beside the data root, is caught."""
    manifest = fresh_case(bases, tmp_path / "case", "native")
    mutation = mutate(manifest, random.Random(0))
    monkeypatch.setattr("fixtures.cohort_fuzz.check", lambda *a, **k: 1 / 0)
    assert exercise(manifest, mutation)[0] == "unhandled exception"
    monkeypatch.undo()

    def leaky_check(path, deep=False):
        (Path(path).parent / "leak.txt").write_text("x")
        return []
    monkeypatch.setattr("fixtures.cohort_fuzz.check", leaky_check)
    assert exercise(manifest, mutation)[0] == "write outside the data root"
