"""Column contracts of the cohort tables.

Two layers:

* **Manifest tables** (what a user or the synthetic generator writes, read through a
  manifest in ``data_manifests/``): may carry real patient identifiers.
* **Cohort tables** (what ``ra_lib.cohort.load_cohort`` returns and every stage uses):
  patient identifiers are replaced by pseudonyms; one row per *hand* where relevant, so
  both-hands and one-hand radiographs flow through the same per-hand tables.
"""
from __future__ import annotations

#: Radiograph views. A both-hands image holds the patient's right hand on the viewer's
#: left (PA convention) unless landmarks say otherwise.
VIEWS = ("left_hand", "right_hand", "both_hands", "other")
VIEW_TO_HANDS = {"left_hand": ("L",), "right_hand": ("R",), "both_hands": ("L", "R"), "other": ()}

# --- manifest tables (inputs) -------------------------------------------------------
#: images: one row per radiograph file. ``path`` is relative to the manifest's data root.
IMAGE_COLUMNS = ("image_id", "path", "patient_id", "study_date", "view")
IMAGE_OPTIONAL = ("body_part",)
#: joint_scores: long form, one row per (image, hand, kind, site).
SCORE_COLUMNS = ("image_id", "hand", "kind", "site", "grade")
SCORE_OPTIONAL = ("eroded_pct",)  # paper 004's Ratingen target, erosion rows only, 0-100
#: landmarks: joint centres in pixel coordinates of the full image (x right, y down).
LANDMARK_COLUMNS = ("image_id", "hand", "landmark", "x", "y")
#: readers: independent re-gradings, same keys as joint_scores plus ``reader_id``.
READER_COLUMNS = ("reader_id", "image_id", "hand", "kind", "site", "grade")
#: folds (optional): patient-disjoint cross-validation folds.
FOLD_COLUMNS = ("patient_id", "fold")

# --- cohort tables (pseudonymised, what stages read) --------------------------------
#: ``patient`` is a salted-hash pseudonym (``P-`` + 10 hex digits); ``hand_id`` is
#: ``f"{image_id}:{hand}"``; ``width`` and ``height`` are pixels of the image as the cohort shows it.
COHORT_IMAGE_COLUMNS = ("image_id", "path", "patient", "study_date", "view", "body_part", "width", "height")
COHORT_HAND_COLUMNS = ("hand_id", "image_id", "patient", "hand", "x0", "x1")  # column span in image
COHORT_SCORE_COLUMNS = ("hand_id", "image_id", "patient", "hand", "kind", "site", "grade", "eroded_pct")
COHORT_LANDMARK_COLUMNS = ("hand_id", "image_id", "hand", "landmark", "x", "y")
COHORT_READER_COLUMNS = ("reader_id", "hand_id", "kind", "site", "grade")
COHORT_FOLD_COLUMNS = ("patient", "fold")
#: RA2 feet, never mixed into the per-hand scores.
COHORT_FOOT_SCORE_COLUMNS = ("image_id", "patient", "foot", "kind", "site", "grade")


def hand_id(image_id: str, hand: str) -> str:
    """The id of one hand in one radiograph."""
    return f"{image_id}:{hand}"
