"""Stage 6 settings: one frozen dataclass and its three profiles."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ComparisonsSettings:
    """Knobs of the statistics across stages.

    ``n_boot``: patient-bootstrap replicates of every interval and paired test (the smallest
    bootstrap p-value is ``2 / (n_boot + 1)``); ``alpha``: 1 - confidence level and the significance
    level after Holm's adjustment; ``threshold``: a joint is called non-intact when the model's
    probability is at least this; ``split``: the split of stages 4 and 5 that is evaluated.
    """

    n_boot: int = 2000
    alpha: float = 0.05
    threshold: float = 0.5
    split: str = "test"


PROFILES = {
    "smoke": ComparisonsSettings(n_boot=50),
    "quick": ComparisonsSettings(n_boot=500),
    "paper": ComparisonsSettings(n_boot=2000),
}
