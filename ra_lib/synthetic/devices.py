"""Simulated X-ray rooms: acquisition physics, DICOM flavour and body-part tagging habits.

Paper 000: "hand images may be registered as HAND or EXTREMITY, or foot images
registered as EXTREMITY" -- every room tags differently, some leave the tag blank.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .render import Detector

BODY_PARTS = ("hand", "chest", "abdomen", "foot", "knee", "pelvis", "spine", "shoulder")
OTHER_PARTS = BODY_PARTS[1:]

#: BodyPartExamined habits shared by all rooms for non-hand parts (tag, probability).
_COMMON_TAGS = {
    "chest": (("CHEST", 0.9), ("", 0.1)),
    "abdomen": (("ABDOMEN", 0.85), ("", 0.15)),
    "foot": (("FOOT", 0.55), ("EXTREMITY", 0.35), ("", 0.1)),
    "knee": (("KNEE", 0.6), ("EXTREMITY", 0.2), ("LEG", 0.1), ("", 0.1)),
    "pelvis": (("PELVIS", 0.6), ("HIP", 0.3), ("", 0.1)),
    "spine": (("LSPINE", 0.5), ("SPINE", 0.4), ("", 0.1)),
    "shoulder": (("SHOULDER", 0.7), ("EXTREMITY", 0.2), ("", 0.1)),
}


@dataclass(frozen=True)
class Device:
    name: str
    manufacturer: str
    model: str
    institution: str
    modality: str  # "CR" or "DX"
    photometric: str  # "MONOCHROME1" or "MONOCHROME2"
    pixel_factor: float  # x the profile's pixel size
    detector: Detector
    hand_tags: tuple[tuple[str, float], ...]
    kvp: float

    def body_part_tag(self, body_part: str, rng: np.random.Generator) -> str:
        options = self.hand_tags if body_part == "hand" else _COMMON_TAGS[body_part]
        tags, p = zip(*options)
        return str(tags[int(rng.choice(len(tags), p=np.array(p) / sum(p)))])


DEVICES = (
    Device("room_a", "SYNTHRAY", "DR-1000", "SYNTHETIC GENERAL HOSPITAL", "DX", "MONOCHROME2", 1.0,
           Detector(quanta_per_mm2=5.0e4, blur_mm=0.10, unsharp=0.4, gamma=0.7), (("HAND", 0.85), ("", 0.15)), 42.0),
    Device("room_b", "PHOSPHOR IMAGING", "CR-77", "SYNTHETIC GENERAL HOSPITAL", "CR", "MONOCHROME1", 0.9,
           Detector(quanta_per_mm2=3.0e4, blur_mm=0.16, scatter_fraction=0.1, unsharp=0.7, gain=700.0, gamma=0.6),
           (("EXTREMITY", 0.8), ("HAND", 0.1), ("", 0.1)), 48.0),
    Device("room_c", "SYNTHRAY", "DR-2000", "SYNTHETIC RHEUMATOLOGY CLINIC", "DX", "MONOCHROME2", 1.1,
           Detector(quanta_per_mm2=6.0e4, blur_mm=0.12, unsharp=0.3, gain=800.0, offset=150.0, gamma=0.75),
           (("", 0.6), ("HAND", 0.3), ("EXTREMITY", 0.1)), 45.0),
    Device("room_d", "PHOSPHOR IMAGING", "CR-90", "SYNTHETIC CITY HOSPITAL", "CR", "MONOCHROME1", 1.0,
           Detector(quanta_per_mm2=3.5e4, blur_mm=0.14, heel=0.09, unsharp=0.6, gain=720.0, offset=220.0, gamma=0.65),
           (("HAND", 0.5), ("EXTREMITY", 0.5)), 50.0),
)
