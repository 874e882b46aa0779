"""Scoring's settings: one frozen dataclass and its ``smoke`` / ``quick`` / ``paper`` profiles."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ScoringSettings:
    """Every knob of scoring new radiographs.

    ``max_images``: the book scores at most this many held-out images (``None``: all; the command line
    scores every input). ``workers``: local dask workers (0: one process, ``None``: the machine's cores).
    ``uncertain_margin``: an image whose deciding selection probability lies within this margin of the
    selection threshold is flagged for a human look. ``overlay_side``: longest side of each verdict PNG.
    ``held_out_fold``: ``None`` (new radiographs) averages stage 3's fold models; a cohort fold takes that
    fold's model alone, the one that never trained on it, to score the patients of that fold.
    """

    max_images: int | None
    workers: int | None
    uncertain_margin: float = 0.1
    overlay_side: int = 512
    held_out_fold: int | None = None

    def __post_init__(self) -> None:
        if self.max_images is not None and self.max_images < 1:
            raise ValueError(f"max_images must be at least 1 or None, got {self.max_images!r}")
        if self.workers is not None and self.workers < 0:
            raise ValueError(f"workers must be >= 0 or None, got {self.workers!r}")
        if not 0 <= self.uncertain_margin < 0.5:
            raise ValueError(f"uncertain_margin must lie in [0, 0.5), got {self.uncertain_margin!r}")
        if self.held_out_fold is not None and self.held_out_fold < 0:
            raise ValueError(f"held_out_fold must be a fold number (>= 0) or None, got {self.held_out_fold!r}")
        if self.overlay_side < 64:
            raise ValueError(f"overlay_side must be at least 64 pixels, got {self.overlay_side!r}")

    def result_settings(self) -> dict:
        """The knobs that change a scored image's result (part of its cache key)."""
        return {k: v for k, v in asdict(self).items() if k not in ("max_images", "workers")}


PROFILES = {
    "smoke": ScoringSettings(max_images=8, workers=0, overlay_side=256),
    "quick": ScoringSettings(max_images=None, workers=2),
    "paper": ScoringSettings(max_images=None, workers=None),
}
