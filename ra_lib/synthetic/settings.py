"""Generator settings and the named cohort profiles."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .devices import DEVICES, OTHER_PARTS
from .grades import DEFAULT_READERS, GradeParams, ReaderParams
from .scenes import Framing

#: Bumped whenever the same settings would produce different files.
GENERATOR_VERSION = "5"
#: Hand-imaging patterns of one visit: one both-hands image, a left and a right image, or one hand only.
VISIT_PATTERNS = ("both_hands", "pair", "single")


def _default_patterns() -> dict[str, float]:
    return {"both_hands": 0.5, "pair": 0.45, "single": 0.05}


@dataclass(frozen=True)
class CohortSettings:
    """Everything that determines a cohort besides the seed."""

    n_patients: int
    n_visits: int  # hand-imaging visits in total (each patient has at least one)
    pixel_mm: float  # detector pixel pitch before each room's factor
    visit_patterns: dict[str, float] = field(default_factory=_default_patterns)
    other_fraction: float = 0.55  # share of non-hand images (paper 000: 55 %)
    other_pixel_factor: float = 1.4  # coarser pitch for trunk/limb rooms
    other_parts: tuple[str, ...] = OTHER_PARTS
    rotated_fraction: float = 0.06  # images turned by a quarter, half or three-quarter turn (uniform)
    dorsal_fraction: float = 0.0  # hand images in the dorsal display convention (scenes); archives: ~0.6
    margin_mm: tuple[float, float] = Framing.margin_mm  # free border around the hands (uniform range, mm)
    forearm_mm: tuple[float, float] = Framing.forearm_mm  # forearm shown below the radiocarpal joint (mm)
    collimated_fraction: float = Framing.collimated_fraction  # hand images with a white or black border
    other_edge_fraction: float = Framing.other_edge_fraction  # single hands beside the other hand's edge
    processing_spread: float = 0.3  # per-image log-normal spread of dose, blur and edge enhancement
    # images whose display window shows the direct-exposure background grey, not black, and that grey's
    # range (the real samples: 28 of 98 with a background above 0.05 of the range, up to about 0.5); archives
    # ~0.3 (ARCHIVE_DISPLAY)
    grey_background_fraction: float = 0.0
    grey_background_level: tuple[float, float] = (0.05, 0.5)
    female_fraction: float = 0.9  # paper 001: 36 of 40
    n_devices: int = len(DEVICES)
    grades: GradeParams = field(default_factory=GradeParams)
    readers: tuple[ReaderParams, ...] = DEFAULT_READERS

    def __post_init__(self):
        if self.n_patients < 1 or self.n_visits < self.n_patients:
            raise ValueError(f"need n_visits >= n_patients >= 1, got {self.n_visits} visits and "
                             f"{self.n_patients} patients")
        if set(self.visit_patterns) - set(VISIT_PATTERNS) or not sum(self.visit_patterns.values()) > 0:
            raise ValueError(f"visit_patterns must weight some of {VISIT_PATTERNS}: {self.visit_patterns}")
        for name in ("rotated_fraction", "dorsal_fraction", "collimated_fraction", "other_edge_fraction",
                     "grey_background_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1]: {getattr(self, name)}")
        for name in ("margin_mm", "forearm_mm"):
            lo, hi = getattr(self, name)
            if not 0.0 <= lo <= hi:
                raise ValueError(f"{name} must be a range (low, high) with 0 <= low <= high: {getattr(self, name)}")
        lo, hi = self.grey_background_level
        if not 0.0 <= lo <= hi < 1.0:
            raise ValueError(f"grey_background_level must be a range (low, high) with 0 <= low <= high < 1: "
                             f"{self.grey_background_level}")
        if self.processing_spread < 0:
            raise ValueError(f"processing_spread must be >= 0: {self.processing_spread}")
        if not 0.0 <= self.other_fraction < 1.0:
            raise ValueError(f"other_fraction must lie in [0, 1): {self.other_fraction}")
        if set(self.other_parts) - set(OTHER_PARTS):
            raise ValueError(f"unknown other_parts {set(self.other_parts) - set(OTHER_PARTS)}; known: {OTHER_PARTS}")
        if not 1 <= self.n_devices <= len(DEVICES):
            raise ValueError(f"n_devices must lie in 1..{len(DEVICES)}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


#: smoke: seconds, every view; quick: every stage can learn on 2 CPU cores; paper*: the papers' sizes
#: (paper001: 226 one-hand images of 40 patients; paper000: 1,047 images, 30 % one hand, 15 % both,
#: 55 % other; paper003: 3,818 both-hands images).
PROFILES: dict[str, dict] = {
    "smoke": dict(n_patients=8, n_visits=8, pixel_mm=1.05),  # 8 patients: one per cross-validation fold
    "quick": dict(n_patients=64, n_visits=128, pixel_mm=0.5),
    "paper001": dict(n_patients=40, n_visits=113, pixel_mm=0.175, visit_patterns={"pair": 1.0}, other_fraction=0.0),
    "paper000": dict(n_patients=157, n_visits=314, pixel_mm=0.175, visit_patterns={"both_hands": 0.5, "pair": 0.5}),
    "paper003": dict(n_patients=3818, n_visits=3818, pixel_mm=0.2, visit_patterns={"both_hands": 1.0},
                     other_fraction=0.0),
}
PROFILES["paper"] = PROFILES["paper001"]

#: Display conventions as in hospital archives (the real samples: 40 of 64 single hands thumb right, a
#: quarter of the images at each quarter turn, 28 of 98 with a grey background). Off by default: stages 2, 3
#: and 5 turn images upright by stage 1's predicted quarter turns, but stage 2 mirrors hands by side (one
#: display convention per side, read off the labelled hands), not yet by each image's predicted thumb side;
#: and stage 2's DeepLabCut, trained on 20 hands, finds fewer real joints when some of them have a grey
#: background (stage 1 equalises its inputs; stage 2 does not yet).
ARCHIVE_DISPLAY = {"rotated_fraction": 0.75, "dorsal_fraction": 0.6, "grey_background_fraction": 0.3}

_GRADE_FIELDS = {f.name for f in dataclasses.fields(GradeParams)}
_COHORT_FIELDS = {f.name for f in dataclasses.fields(CohortSettings)}


def resolve_settings(profile: str, **overrides) -> CohortSettings:
    """A profile's settings with overrides; grade-model fields (e.g. ``var_joint``) may be given flat."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(PROFILES)}")
    unknown = set(overrides) - _GRADE_FIELDS - _COHORT_FIELDS
    if unknown:
        raise ValueError(f"unknown generator setting(s) {sorted(unknown)}")
    grade_overrides = {k: v for k, v in overrides.items() if k in _GRADE_FIELDS}
    values = {**PROFILES[profile], **{k: v for k, v in overrides.items() if k in _COHORT_FIELDS}}
    if grade_overrides:
        values["grades"] = dataclasses.replace(values.get("grades", GradeParams()), **grade_overrides)
    return CohortSettings(**values)
