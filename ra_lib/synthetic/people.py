"""Fake patient identities (PHI to be removed by de-identification) and visit calendars."""
from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass

import numpy as np

SURNAMES = ("DOE", "ROE", "SMITH", "JOHNSON", "BROWN", "TANAKA", "SATO", "MILLER", "GARCIA", "MARTIN", "MUELLER",
            "SCHMIDT", "ROSSI", "NGUYEN", "KIM", "LEE", "WANG", "CHEN", "SUZUKI", "WATANABE", "DUBOIS", "LOPEZ",
            "WILSON", "TAYLOR", "ANDERSON", "THOMAS", "MOORE", "JACKSON", "WHITE", "HARRIS", "CLARK", "LEWIS",
            "WALKER", "HALL", "YOUNG", "KING", "WRIGHT", "SCOTT", "GREEN", "BAKER")
FEMALE_NAMES = ("JANE", "MARY", "ANNA", "EMMA", "LINDA", "SUSAN", "KAREN", "HANAKO", "YUKI", "MARIA", "ELENA",
                "SOPHIE", "CLARA", "JULIA", "LAURA", "NANCY", "HELEN", "RUTH", "GRACE", "ALICE")
MALE_NAMES = ("JOHN", "RICHARD", "JAMES", "ROBERT", "PETER", "TARO", "KENJI", "CARLOS", "HANS", "LUCA", "PAUL",
              "DAVID", "MARK", "ERIC", "FRANK", "GEORGE", "HENRY", "IVAN", "OSCAR", "SAM")
FIRST_DAY = dt.date(2008, 1, 1)
LAST_FIRST_VISIT = dt.date(2017, 12, 31)


@dataclass(frozen=True)
class Person:
    mrn: str
    name: str  # DICOM PN, "FAMILY^GIVEN"
    sex: str  # "F" or "M"
    birth_date: dt.date
    first_visit: dt.date
    device: int  # the X-ray room of the patient's hospital


def sample_people(n: int, rng: np.random.Generator, n_devices: int, female_fraction: float) -> list[Person]:
    """``n`` fake patients; patient ``i`` is imaged on device ``i % n_devices`` (every room is used)."""
    numbers = rng.choice(9_000_000, size=n, replace=False) + 1_000_000
    female = rng.random(n) < female_fraction
    span = (LAST_FIRST_VISIT - FIRST_DAY).days
    people = []
    for i in range(n):
        given = rng.choice(FEMALE_NAMES if female[i] else MALE_NAMES)
        first = FIRST_DAY + dt.timedelta(days=int(rng.integers(0, span)))
        age_days = int(np.clip(rng.normal(61.5, 11.6), 25, 90) * 365.25)
        people.append(Person(f"MRN{numbers[i]}", f"{rng.choice(SURNAMES)}^{given}", "F" if female[i] else "M",
                             first - dt.timedelta(days=age_days), first, i % n_devices))
    return people


def visit_offsets_years(n: int, rng: np.random.Generator) -> np.ndarray:
    """Years from the first visit to each of ``n`` visits (intervals of 6 to 24 months)."""
    return np.concatenate([[0.0], np.cumsum(rng.uniform(0.5, 2.0, n - 1))]) if n > 1 else np.zeros(1)


def date_after(first: dt.date, years: float) -> dt.date:
    return first + dt.timedelta(days=int(round(years * 365.25)))


def study_key(seed: int, person: Person, date: dt.date) -> int:
    """A stable number per study (patient and day): the same for every image of the study."""
    return zlib.crc32(f"{seed}|{person.mrn}|{date.isoformat()}".encode())


def study_time(key: int) -> str:
    """DICOM TM between 08:00 and 17:00."""
    seconds = 8 * 3600 + key % (9 * 3600)
    return f"{seconds // 3600:02d}{seconds // 60 % 60:02d}{seconds % 60:02d}"


def age_string(birth: dt.date, on: dt.date) -> str:
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    return f"{years:03d}Y"
