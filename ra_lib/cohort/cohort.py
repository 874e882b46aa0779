"""The loaded cohort: :func:`load_cohort` checks, pseudonymises and splits hands; :func:`check` only reports.

A :class:`Cohort`'s tables follow the ``COHORT_*`` contracts of :mod:`ra_lib.cohort.schema`
(patient identifiers replaced by pseudonyms, one row per hand where relevant).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ra_lib.cohort import schema
from ra_lib.cohort.hands import hand_table
from ra_lib.cohort.imageio import read_image
from ra_lib.cohort.manifest import Manifest, load_manifest
from ra_lib.cohort.privacy import pseudonym
from ra_lib.cohort.validation import CheckedTables, validate
from ra_lib.core.errors import ManifestError, Problem


@dataclass
class Cohort:
    """A loaded, pseudonymised cohort; tables follow the ``COHORT_*`` contracts of :mod:`ra_lib.cohort.schema`."""

    manifest: Manifest
    data_root: Path
    images: pd.DataFrame
    hands: pd.DataFrame
    scores: pd.DataFrame
    landmarks: pd.DataFrame
    readers: pd.DataFrame
    folds: pd.DataFrame
    foot_scores: pd.DataFrame
    warnings: list[Problem] = field(default_factory=list)
    #: Counter-clockwise quarter turns given to an image as it loads (:func:`ra_lib.cohort.upright.upright_cohort`);
    #: the tables describe the turned image.
    quarter_turns: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._paths = dict(zip(self.images["image_id"], self.images["path"]))
        self._hands = {h: (i, s, x0, x1) for h, i, s, x0, x1 in
                       zip(self.hands["hand_id"], self.hands["image_id"], self.hands["hand"],
                           self.hands["x0"], self.hands["x1"])}

    def image_path(self, image_id: str) -> Path:
        """Absolute path of one image file."""
        if image_id not in self._paths:
            raise KeyError(f"image {image_id!r} is not in cohort {self.manifest.cohort!r}")
        return self.data_root / self._paths[image_id]

    def load_image(self, image_id: str) -> np.ndarray:
        """The whole radiograph as float32 in [0, 1], bone bright (see :func:`ra_lib.cohort.imageio.read_image`),
        turned by its :attr:`quarter_turns`."""
        image = read_image(self.image_path(image_id))[0]
        turns = self.quarter_turns.get(image_id, 0)
        if not turns:
            return image
        from ra_lib.core import geometry  # torch: imported only when an image is turned

        return geometry.rotate90(image, turns)

    def load_hand(self, hand_id: str, size: int | tuple[int, int] | None = None,
                  mirror_to_right: bool = False) -> np.ndarray:
        """One hand: the image's columns ``x0:x1``, float32 in [0, 1].

        Anatomy is kept as imaged; ``mirror_to_right=True`` flips left hands horizontally for
        models that want one canonical orientation. ``size`` (``(height, width)`` or an int for
        a square) resizes with :func:`ra_lib.core.geometry.resize` (bilinear, antialiased when
        shrinking) without keeping the aspect ratio.
        """
        from ra_lib.core import geometry  # torch: imported only when a hand is cut, not to check a cohort

        if hand_id not in self._hands:
            raise KeyError(f"hand {hand_id!r} is not in cohort {self.manifest.cohort!r}")
        image_id, hand, x0, x1 = self._hands[hand_id]
        crop = self.load_image(image_id)[:, x0:x1]
        if mirror_to_right and hand == "L":
            crop = geometry.mirror(crop)
        if size is not None:
            crop = np.clip(geometry.resize(crop, size), 0.0, 1.0)  # float rounding may step past 1
        return np.ascontiguousarray(crop, dtype=np.float32)


def load_cohort(manifest_or_path: Manifest | str | Path, data_root: str | Path | None = None) -> Cohort:
    """Load, check and pseudonymise a cohort; raise :class:`ManifestError` listing every problem."""
    manifest = manifest_or_path if isinstance(manifest_or_path, Manifest) else load_manifest(manifest_or_path)
    checked, problems = validate(manifest, data_root, deep=False)
    if checked is None or any(p.severity == "error" for p in problems):
        raise ManifestError(problems)
    cohort = _assemble(checked)
    cohort.warnings = problems
    if problems:
        warnings.warn(f"cohort {manifest.cohort!r} loaded with {len(problems)} warning(s), first: {problems[0]}",
                      stacklevel=2)
    return cohort


def check(manifest_or_path: Manifest | str | Path, deep: bool = False,
          data_root: str | Path | None = None) -> list[Problem]:
    """Every problem of a cohort (errors and warnings), without loading it; ``deep`` also decodes every image.

    A manifest that cannot be read gives its own problems; writes nothing but the salt file.
    """
    try:
        manifest = manifest_or_path if isinstance(manifest_or_path, Manifest) else load_manifest(manifest_or_path)
    except ManifestError as exc:
        return exc.problems
    return validate(manifest, data_root, deep)[1]


def _assemble(checked: CheckedTables) -> Cohort:
    salt = checked.salt
    images = checked.images.copy()
    images["patient"] = images["patient_id"].map(lambda p: pseudonym(p, salt))
    patient_of = dict(zip(images["image_id"], images["patient"]))
    landmarks = checked.landmarks.copy()
    landmarks["hand_id"] = [schema.hand_id(i, h) for i, h in zip(landmarks["image_id"], landmarks["hand"])]
    paths = dict(zip(images["image_id"], images["path"]))
    hands = hand_table(images, landmarks, lambda image_id: read_image(checked.data_root / paths[image_id])[0])

    scores = checked.scores.copy()
    scores["hand_id"] = [schema.hand_id(i, h) for i, h in zip(scores["image_id"], scores["hand"])]
    scores["patient"] = scores["image_id"].map(patient_of)
    if "eroded_pct" not in scores.columns:
        scores["eroded_pct"] = np.nan
    scores["eroded_pct"] = pd.to_numeric(scores["eroded_pct"], errors="coerce")
    readers = checked.readers.copy()
    readers["hand_id"] = [schema.hand_id(i, h) for i, h in zip(readers["image_id"], readers["hand"])]
    feet = checked.foot_scores.copy()
    feet["patient"] = feet["image_id"].map(patient_of)
    feet = feet.rename(columns={"hand": "foot"})
    folds = checked.folds.assign(patient=checked.folds["patient_id"].map(lambda p: pseudonym(p, salt)))

    return Cohort(
        manifest=checked.manifest, data_root=checked.data_root,
        images=_typed(images, schema.COHORT_IMAGE_COLUMNS, width=int, height=int),
        hands=_typed(hands, schema.COHORT_HAND_COLUMNS, x0=int, x1=int),
        scores=_typed(scores, schema.COHORT_SCORE_COLUMNS, grade=int, eroded_pct=float),
        landmarks=_typed(landmarks, schema.COHORT_LANDMARK_COLUMNS, x=float, y=float),
        readers=_typed(readers, schema.COHORT_READER_COLUMNS, grade=int),
        folds=_typed(folds, schema.COHORT_FOLD_COLUMNS, fold=int).sort_values("patient", ignore_index=True),
        foot_scores=_typed(feet, schema.COHORT_FOOT_SCORE_COLUMNS, grade=int),
    )


def _typed(df: pd.DataFrame, columns, **dtypes) -> pd.DataFrame:
    out = pd.DataFrame({c: df[c] if c in df.columns else pd.Series(dtype=object) for c in columns})
    for column, dtype in dtypes.items():
        out[column] = out[column].astype(dtype)
    for column in columns:
        if column not in dtypes:
            out[column] = out[column].astype(object)
    return out.reset_index(drop=True)
