"""The canonical Sharp/van der Heijde (SvdH) site catalogue.

Every table in the project names a scored joint by ``(kind, site)`` on a ``hand``
(``"L"`` or ``"R"``).  Detection works on *landmarks* (joint centres): a site's
landmark is shared between erosion and JSN where the joint is the same (MCP, PIP).
"""
from __future__ import annotations

from dataclasses import dataclass

EROSION = "erosion"
JSN = "jsn"
KINDS = (EROSION, JSN)
HANDS = ("L", "R")


@dataclass(frozen=True)
class Site:
    """One scored SvdH site of a hand (or foot)."""

    kind: str
    site: str
    label: str
    group: str  # paper 001 joint group (hands) or "foot"
    landmark: str
    max_grade: int
    ra2_column: str  # RA2-DREAM column suffix, e.g. "mcp_E__1"


def _hand_erosion() -> list[Site]:
    sites = [Site(EROSION, "ip", "thumb IP", "PIP-IP", "ip", 5, "mcp_E__ip")]
    sites += [Site(EROSION, f"pip{i}", f"PIP {i}", "PIP-IP", f"pip{i}", 5, f"pip_E__{i}") for i in range(2, 6)]
    sites += [Site(EROSION, f"mcp{i}", f"MCP {i}", "MCP", f"mcp{i}", 5, f"mcp_E__{i}") for i in range(1, 6)]
    sites += [
        Site(EROSION, "mc1", "first metacarpal base", "CMC-M", "mc1", 5, "wrist_E__mc1"),
        Site(EROSION, "trapezium", "trapezium (multangular)", "CMC-M", "trapezium", 5, "wrist_E__mul"),
        Site(EROSION, "scaphoid", "scaphoid (navicular)", "wrist", "scaphoid", 5, "wrist_E__nav"),
        Site(EROSION, "lunate", "lunate", "wrist", "lunate", 5, "wrist_E__lunate"),
        Site(EROSION, "radius", "distal radius", "wrist", "radius", 5, "wrist_E__radius"),
        Site(EROSION, "ulna", "distal ulna", "wrist", "ulna", 5, "wrist_E__ulna"),
    ]
    return sites


def _hand_jsn() -> list[Site]:
    sites = [Site(JSN, f"pip{i}", f"PIP {i}", "PIP", f"pip{i}", 4, f"pip_J__{i}") for i in range(2, 6)]
    sites += [Site(JSN, f"mcp{i}", f"MCP {i}", "MCP", f"mcp{i}", 4, f"mcp_J__{i}") for i in range(1, 6)]
    sites += [Site(JSN, f"cmc{i}", f"CMC {i}", "CMC", f"cmc{i}", 4, f"wrist_J__cmc{i}") for i in range(3, 6)]
    sites += [
        Site(JSN, "trapezium_scaphoid", "trapezium-scaphoid", "wrist", "trapezium_scaphoid", 4, "wrist_J__mna"),
        Site(JSN, "capitate_scaphoid_lunate", "capitate-scaphoid-lunate", "wrist",
             "capitate_scaphoid_lunate", 4, "wrist_J__capnlun"),
        Site(JSN, "radiocarpal", "radiocarpal", "wrist", "radiocarpal", 4, "wrist_J__radcar"),
    ]
    return sites


def _foot() -> list[Site]:
    sites = []
    for kind, letter, max_grade in ((EROSION, "E", 10), (JSN, "J", 4)):
        sites += [Site(kind, f"mtp{i}", f"MTP {i}", "foot", f"mtp{i}", max_grade, f"mtp_{letter}__{i}")
                  for i in range(1, 6)]
        sites.append(Site(kind, "toe_ip", "hallux IP", "foot", "toe_ip", max_grade, f"mtp_{letter}__ip"))
    return sites


HAND_SITES: tuple[Site, ...] = tuple(_hand_erosion() + _hand_jsn())
FOOT_SITES: tuple[Site, ...] = tuple(_foot())

#: Paper 001's joint groups, in its table order.
GROUPS = {EROSION: ("PIP-IP", "MCP", "CMC-M", "wrist"), JSN: ("PIP", "MCP", "CMC", "wrist")}
#: Paper 001 Table 4 reports "PIP-IP + MCP + CMC-M" (finger) and "wrist" separately.
FINGER_GROUPS = {EROSION: ("PIP-IP", "MCP", "CMC-M"), JSN: ("PIP", "MCP", "CMC")}

#: Union of hand landmarks, in a fixed order (22 joint centres per hand).
HAND_LANDMARKS: tuple[str, ...] = tuple(dict.fromkeys(s.landmark for s in HAND_SITES))

MAX_HAND_SCORE = sum(s.max_grade for s in HAND_SITES) * 2  # both hands: 280

_BY_KEY = {(s.kind, s.site): s for s in HAND_SITES}
_FOOT_BY_KEY = {(s.kind, s.site): s for s in FOOT_SITES}


def hand_sites(kind: str | None = None) -> list[Site]:
    """The hand sites, optionally of one kind (``"erosion"`` or ``"jsn"``)."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
    return [s for s in HAND_SITES if kind is None or s.kind == kind]


def get_site(kind: str, site: str, foot: bool = False) -> Site:
    """Look up one site; raise ``KeyError`` naming it when unknown."""
    table = _FOOT_BY_KEY if foot else _BY_KEY
    try:
        return table[(kind, site)]
    except KeyError:
        raise KeyError(f"unknown SvdH {'foot' if foot else 'hand'} site {kind}/{site}") from None


def sites_in_group(kind: str, group: str) -> list[Site]:
    """The hand sites of one paper-001 joint group, in catalogue order."""
    if group not in GROUPS.get(kind, ()):
        raise KeyError(f"unknown {kind} group {group!r}; expected one of {GROUPS.get(kind)}")
    return [s for s in hand_sites(kind) if s.group == group]

