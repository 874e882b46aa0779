"""Patient identifiers never reach executed notebooks or rendered pages (smoke build of the synthetic cohort)."""
import re

import pytest

from book_pages import EXECUTED, HTML, fake_phi

pytestmark = pytest.mark.book


def _outputs():
    files = sorted(EXECUTED.glob("*.ipynb")) + sorted(HTML.rglob("*.html"))
    if not files:
        pytest.fail(f"no smoke build under {EXECUTED.parent}: run `make test` (it builds the smoke book first)")
    return files


def test_fake_phi_never_rendered():
    phi = fake_phi()
    assert phi, "the synthetic cohort carries no fake PHI: the check would pass vacuously"
    alternatives = "|".join(re.escape(v) for v in sorted(phi, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w])(?:{alternatives})(?![\w])", re.IGNORECASE)
    leaks = []
    for path in _outputs():
        for match in pattern.finditer(path.read_text(errors="ignore")):
            leaks.append(f"{path.name}: {match.group(0)!r}")
    assert not leaks, "patient identifiers found:\n" + "\n".join(leaks[:20])
