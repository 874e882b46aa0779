"""Latent disease, per-joint SvdH grades, eroded-surface percentages and simulated readers.

A liability-threshold model. Each patient has a disease *severity* (z-score) and a
disease *duration* (years, log-normal as in paper 001 Table 1); together they give a
standard-normal disease load. Every site of every hand gets a standard-normal
liability::

    L = sqrt(v_patient) * load + sqrt(v_group) * G[kind group]      (same on both hands)
        + sqrt(v_joint) * C[landmark]                                (same joint, both hands and kinds)
        + sqrt(1 - v_patient - v_group - v_joint) * E[hand, site]    (independent)

and grade ``k`` is reached when ``L + progression * years`` passes the threshold
``Phi^-1(1 - rate * step**(k - 1))``: the baseline non-intact rate of the site's
paper-001 group is ``rate`` and each further grade keeps a fraction ``step``. The
liabilities are fixed per patient and the progression is non-negative, so damage
never decreases between visits. Left/right agreement follows from the latent
correlation ``v_patient + v_group + v_joint`` (larger ``v_joint`` at the wrist).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ra_lib.cohort.sites import EROSION, GROUPS, HAND_LANDMARKS, HANDS, JSN, Site, hand_sites

SITES: tuple[Site, ...] = tuple(hand_sites())
EROSION_SITES: tuple[Site, ...] = tuple(hand_sites(EROSION))
_GROUP_KEYS = [(kind, g) for kind in (EROSION, JSN) for g in GROUPS[kind]]
_SITE_GROUP = np.array([_GROUP_KEYS.index((s.kind, s.group)) for s in SITES])
_SITE_LANDMARK = np.array([HAND_LANDMARKS.index(s.landmark) for s in SITES])
_SITE_WRIST = np.array([s.group == "wrist" for s in SITES])
MAX_GRADES = np.array([s.max_grade for s in SITES])
#: Ratingen bands of eroded joint surface (%), per SvdH erosion grade.
SURFACE_BANDS = {0: (0, 0), 1: (1, 20), 2: (21, 40), 3: (41, 60), 4: (61, 80), 5: (81, 100)}


def _erosion_rates() -> dict[str, float]:
    return {"PIP-IP": 0.11, "MCP": 0.13, "CMC-M": 0.29, "wrist": 0.52}


def _jsn_rates() -> dict[str, float]:
    return {"PIP": 0.38, "MCP": 0.22, "CMC": 0.52, "wrist": 0.68}


@dataclass(frozen=True)
class GradeParams:
    """Settings of the grade model (defaults: paper 001 Table 2 imbalance)."""

    erosion_rates: dict[str, float] = field(default_factory=_erosion_rates)
    jsn_rates: dict[str, float] = field(default_factory=_jsn_rates)
    erosion_step: float = 0.45
    jsn_step: float = 0.45
    var_patient: float = 0.35
    var_group: float = 0.15
    var_joint: float = 0.20
    var_joint_wrist: float = 0.35
    severity_share: float = 0.6
    duration_mean_years: float = 11.4
    duration_sd_years: float = 9.7
    progression_per_year: float = 0.05
    nonprogressor_fraction: float = 0.3

    def __post_init__(self):
        for kind, rates in ((EROSION, self.erosion_rates), (JSN, self.jsn_rates)):
            if set(rates) != set(GROUPS[kind]):
                raise ValueError(f"{kind} rates must name the groups {GROUPS[kind]}, got {sorted(rates)}")
            if not all(0.0 < r < 1.0 for r in rates.values()):
                raise ValueError(f"{kind} rates must lie in (0, 1): {rates}")
        if self.var_patient + self.var_group + max(self.var_joint, self.var_joint_wrist) >= 1.0:
            raise ValueError("var_patient + var_group + var_joint(_wrist) must be < 1")

    def rate(self, site: Site) -> float:
        return (self.erosion_rates if site.kind == EROSION else self.jsn_rates)[site.group]

    def latent_correlation(self, site: Site) -> float:
        """Correlation of the two hands' liabilities at one site."""
        return self.var_patient + self.var_group + (self.var_joint_wrist if site.group == "wrist" else self.var_joint)


@dataclass(frozen=True)
class ReaderParams:
    """A simulated reader. A grade-g site is called non-intact with probability
    ``1 - (1 - sensitivity) ** g``; an intact one stays intact with ``specificity``."""

    reader_id: str
    sensitivity: float
    specificity: float
    grade_noise: float = 0.3  # probability of being one grade off on a detected site


#: Calibrated loosely on paper 001 Table 4's three surgeons (cautious, liberal, balanced).
DEFAULT_READERS = (
    ReaderParams("sim_reader_1", 0.55, 0.93),
    ReaderParams("sim_reader_2", 0.88, 0.70),
    ReaderParams("sim_reader_3", 0.78, 0.82),
)


@dataclass(frozen=True)
class Disease:
    """Latent state of ``n`` patients; arrays are indexed (patient, hand in HANDS order, site in SITES order)."""

    severity: np.ndarray
    duration_years: np.ndarray
    load: np.ndarray
    liability: np.ndarray
    progression: np.ndarray
    surface_u: np.ndarray  # uniform position inside the Ratingen band, erosion sites only


def thresholds(params: GradeParams) -> np.ndarray:
    """(site, grade 1..5) liability thresholds; +inf beyond a site's maximum grade."""
    out = np.full((len(SITES), 5), np.inf)
    for i, s in enumerate(SITES):
        step = params.erosion_step if s.kind == EROSION else params.jsn_step
        tail = params.rate(s) * step ** np.arange(s.max_grade)
        out[i, : s.max_grade] = stats.norm.isf(tail)
    return out


def sample_disease(n: int, params: GradeParams, rng: np.random.Generator) -> Disease:
    severity = rng.standard_normal(n)
    sigma = np.sqrt(np.log1p((params.duration_sd_years / params.duration_mean_years) ** 2))
    mu = np.log(params.duration_mean_years) - sigma ** 2 / 2
    z_duration = rng.standard_normal(n)
    duration = np.exp(mu + sigma * z_duration)
    load = np.sqrt(params.severity_share) * severity + np.sqrt(1 - params.severity_share) * z_duration
    group = rng.standard_normal((n, len(_GROUP_KEYS)))[:, _SITE_GROUP]
    joint = rng.standard_normal((n, len(HAND_LANDMARKS)))[:, _SITE_LANDMARK]
    noise = rng.standard_normal((n, len(HANDS), len(SITES)))
    v_joint = np.where(_SITE_WRIST, params.var_joint_wrist, params.var_joint)
    v_noise = 1.0 - params.var_patient - params.var_group - v_joint
    shared = (np.sqrt(params.var_patient) * load[:, None] + np.sqrt(params.var_group) * group
              + np.sqrt(v_joint) * joint)
    liability = shared[:, None, :] + np.sqrt(v_noise) * noise
    progressor = rng.random(n) >= params.nonprogressor_fraction
    progression = params.progression_per_year * np.exp(0.5 * severity - 0.125) * progressor
    surface_u = rng.random((n, len(HANDS), len(EROSION_SITES)))
    return Disease(severity, duration, load, liability, progression, surface_u)


def grades_at(disease: Disease, patients: np.ndarray, years: np.ndarray, params: GradeParams) -> np.ndarray:
    """Grades (visit, hand, site) for patient indices ``patients`` seen ``years`` after their first visit."""
    patients, years = np.asarray(patients), np.asarray(years, float)
    if np.any(years < 0):
        raise ValueError("visit times must not precede the first visit")
    shifted = disease.liability[patients] + (disease.progression[patients] * years)[:, None, None]
    return (shifted[..., None] > thresholds(params)[None, None]).sum(axis=-1).astype(np.int8)


def eroded_percent(erosion_grades: np.ndarray, surface_u: np.ndarray) -> np.ndarray:
    """Paper 004's target: eroded joint surface (%) in the Ratingen band of each SvdH erosion grade."""
    lo = np.array([SURFACE_BANDS[g][0] for g in range(6)])[erosion_grades]
    hi = np.array([SURFACE_BANDS[g][1] for g in range(6)])[erosion_grades]
    return np.rint(lo + surface_u * (hi - lo)).astype(np.int16)


def read_grades(true: np.ndarray, max_grade: np.ndarray, reader: ReaderParams,
                rng: np.random.Generator) -> np.ndarray:
    """One reader's re-grading of true grades (any shape)."""
    true = np.asarray(true, int)
    detect = rng.random(true.shape) < 1.0 - (1.0 - reader.sensitivity) ** true
    false_positive = rng.random(true.shape) >= reader.specificity
    off = rng.choice([-1, 0, 1], size=true.shape,
                     p=[reader.grade_noise / 2, 1 - reader.grade_noise, reader.grade_noise / 2])
    positive = np.clip(true + off, 1, max_grade)
    fp_grade = np.where(rng.random(true.shape) < 0.15, 2, 1)
    return np.where(true > 0, np.where(detect, positive, 0), np.where(false_positive, fp_grade, 0)).astype(np.int8)


def expected_lr_agreement(params: GradeParams, site: Site) -> float:
    """Model probability that both hands agree on intact vs non-intact at baseline."""
    tau = stats.norm.isf(params.rate(site))
    rho = params.latent_correlation(site)
    both_low = stats.multivariate_normal(mean=[0, 0], cov=[[1, rho], [rho, 1]]).cdf([tau, tau])
    return float(1.0 - 2.0 * stats.norm.cdf(tau) + 2.0 * both_low)
