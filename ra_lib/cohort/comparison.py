"""Two cohorts' radiographs side by side: intensities, how much of the frame the hand fills, image size and
finger spacing, measured on a bounded, reproducible sample of each cohort's hand images.

Images are read as every stage reads them (:func:`ra_lib.cohort.imageio.read_image`: each image scaled to
[0, 1] by its own window or range, bone bright). The hand's share of the frame is a simple foreground
estimate: an Otsu threshold on the image downsampled to :data:`FOREGROUND_SIDE` pixels on its long side,
so everything brighter than the background counts (soft tissue, bone, forearm, burnt-in markers, and
unexposed collimated borders, which are bright too). Finger spacing needs landmarks: the median distance
between neighbouring MCP (or PIP) centres of fingers 2-5, over the hand's proximal-phalanx length, so it
does not depend on pixel size.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ra_lib.cohort.cohort import Cohort, load_cohort
from ra_lib.cohort.paths import display_path
from ra_lib.cohort.schema import VIEW_TO_HANDS
from ra_lib.core.errors import ManifestError, Problem

#: Images measured per cohort at most.
MAX_IMAGES = 60
#: Bins of the intensity histograms over [0, 1].
HISTOGRAM_BINS = 32
#: Long side, in pixels, of the downsampled image the foreground threshold is found on.
FOREGROUND_SIDE = 128
#: Joint rows whose neighbouring centres (fingers 2-5) give the finger spacing.
SPACING_ROWS = ("mcp", "pip")


@dataclass(frozen=True)
class ImageSample:
    """What :func:`describe_images` measured on one cohort.

    ``hand_images``: how many of the cohort's images show hands; ``images``: one row per measured image
    (image_id, view, width, height, coverage, mean_intensity, hand_intensity); ``frame_histograms`` and
    ``hand_histograms``: per image, the share of its pixels (all, or only the foreground) in each of
    :data:`HISTOGRAM_BINS` intensity bins; ``spacing``: one row per hand with landmarks (hand_id, mcp_gap,
    pip_gap), NaN where a row's joints are missing.
    """

    cohort: str
    hand_images: int
    images: pd.DataFrame
    frame_histograms: np.ndarray
    hand_histograms: np.ndarray
    spacing: pd.DataFrame

    def mean_histogram(self, region: str = "frame") -> np.ndarray:
        """The cohort's histogram (``"frame"`` or ``"hand"``): per-image shares averaged, each image weighing
        the same."""
        histograms = self.frame_histograms if region == "frame" else self.hand_histograms
        return histograms.mean(axis=0) if len(histograms) else np.full(HISTOGRAM_BINS, np.nan)


def load_reference(manifest_path) -> Cohort:
    """The cohort to compare with; a :class:`ManifestError` that names its manifest when it cannot be loaded.

    Loading warnings stay in the cohort's ``warnings`` (``python -m ra_lib.cohort check`` lists them).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return load_cohort(manifest_path)
    except ManifestError as error:
        first = Problem(display_path(manifest_path), None, "compare_manifest",
                        "the cohort to compare with cannot be loaded")
        raise ManifestError([first, *error.problems]) from None


def sample_images(images: pd.DataFrame, max_images: int = MAX_IMAGES, seed: int = 0) -> pd.DataFrame:
    """Up to ``max_images`` of the images showing hands (every image when none does), drawn reproducibly."""
    hands = images[images["view"].map(lambda view: bool(VIEW_TO_HANDS.get(view)))]
    pool = hands if len(hands) else images
    return pool.sort_values("image_id").sample(n=min(max_images, len(pool)), random_state=seed)


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """The intensity in [0, 1] that best splits ``values`` into two classes (Otsu); the maximum for a blank image."""
    counts, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    low_weight = np.cumsum(counts)[:-1].astype(float)
    high_weight = counts.sum() - low_weight
    low_sum = np.cumsum(counts * centres)[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        low_mean, high_mean = low_sum / low_weight, ((counts * centres).sum() - low_sum) / high_weight
        between = np.nan_to_num(low_weight * high_weight * (low_mean - high_mean) ** 2)
    if not (between > 0).any():
        return float(np.max(values))
    return float(edges[np.argmax(between) + 1])


def downsampled(image: np.ndarray, side: int = FOREGROUND_SIDE) -> np.ndarray:
    """``image`` shrunk (antialiased) so its long side is at most ``side`` pixels, aspect ratio kept."""
    from ra_lib.core import geometry  # torch: imported only when images are measured

    scale = side / max(image.shape)
    if scale >= 1:
        return image
    return geometry.resize(image, (max(1, round(image.shape[0] * scale)), max(1, round(image.shape[1] * scale))))


def intensity_histogram(values: np.ndarray, bins: int = HISTOGRAM_BINS) -> np.ndarray:
    """Share of ``values`` in each of ``bins`` equal bins over [0, 1] (all zero for no values)."""
    counts = np.histogram(values, bins=bins, range=(0.0, 1.0))[0]
    return counts / max(1, counts.sum())


def measure_image(image: np.ndarray) -> dict:
    """Size, foreground share (``coverage``), mean intensity of the frame and of its foreground, and the
    frame's and foreground's intensity histograms of one image in [0, 1]."""
    small = downsampled(image)
    threshold = otsu_threshold(small)
    hand = image[image > threshold]
    return {"width": image.shape[1], "height": image.shape[0], "coverage": float((small > threshold).mean()),
            "mean_intensity": float(image.mean()), "hand_intensity": float(hand.mean()) if hand.size else np.nan,
            "frame_histogram": intensity_histogram(image), "hand_histogram": intensity_histogram(hand)}


def _distance(wide: pd.DataFrame, a: str, b: str) -> pd.Series | None:
    if ("x", a) not in wide or ("x", b) not in wide:
        return None
    return np.hypot(wide[("x", a)] - wide[("x", b)], wide[("y", a)] - wide[("y", b)])


def finger_spacing(landmarks: pd.DataFrame) -> pd.DataFrame:
    """Per hand with landmarks (hand_id, landmark, x, y): ``mcp_gap`` and ``pip_gap``, the median distance
    between neighbouring centres of fingers 2-5 over the hand's proximal-phalanx length; NaN where unmeasurable,
    and a hand with neither measurable is left out."""
    from ra_lib.stages.detection.boxes import phalanx_lengths  # the detection package: only when measuring

    columns = ["hand_id", *(f"{row}_gap" for row in SPACING_ROWS)]
    if landmarks.empty:
        return pd.DataFrame(columns=columns)
    wide = landmarks.pivot_table(index="hand_id", columns="landmark", values=["x", "y"], aggfunc="first")
    phalanx = phalanx_lengths(landmarks)
    spacing = pd.DataFrame(index=wide.index)
    for row in SPACING_ROWS:
        gaps = [_distance(wide, f"{row}{finger}", f"{row}{finger + 1}") for finger in range(2, 5)]
        gaps = [gap for gap in gaps if gap is not None]
        median = pd.concat(gaps, axis=1).median(axis=1) if gaps else pd.Series(np.nan, index=wide.index)
        spacing[f"{row}_gap"] = median / phalanx.reindex(wide.index)
    return spacing.dropna(how="all").reset_index()[columns]


def describe_images(cohort: Cohort, max_images: int = MAX_IMAGES, seed: int = 0) -> ImageSample:
    """Measure up to ``max_images`` hand images of ``cohort`` (:func:`sample_images`) and their hands' spacing."""
    picked = sample_images(cohort.images, max_images, seed)
    measured = [measure_image(cohort.load_image(image_id)) for image_id in picked["image_id"]]
    table = pd.DataFrame([{k: v for k, v in m.items() if not k.endswith("_histogram")} for m in measured],
                         columns=["width", "height", "coverage", "mean_intensity", "hand_intensity"])
    table.insert(0, "image_id", picked["image_id"].to_numpy())
    table.insert(1, "view", picked["view"].to_numpy())

    def stacked(key: str) -> np.ndarray:
        return np.array([m[key] for m in measured]).reshape(len(measured), HISTOGRAM_BINS)

    hand_images = int(cohort.images["view"].map(lambda view: bool(VIEW_TO_HANDS.get(view))).sum())
    landmarks = cohort.landmarks[cohort.landmarks["image_id"].isin(picked["image_id"])]
    return ImageSample(cohort.manifest.cohort, hand_images, table, stacked("frame_histogram"),
                       stacked("hand_histogram"), finger_spacing(landmarks))


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Earth mover's distance between two histograms over [0, 1] with equal bins, in intensity units
    (how far, on average, one histogram's pixels must move to match the other)."""
    a, b = np.asarray(a, float) / np.sum(a), np.asarray(b, float) / np.sum(b)
    return float(np.abs(np.cumsum(a - b)).sum() / len(a))


def histogram_distances(first: ImageSample, second: ImageSample) -> dict[str, float]:
    """:func:`histogram_distance` of the two cohorts' mean histograms, of the whole frame and of the hand."""
    return {region: histogram_distance(first.mean_histogram(region), second.mean_histogram(region))
            for region in ("frame", "hand")}


def summary_table(samples: list[ImageSample]) -> pd.DataFrame:
    """One column per cohort: how many images were measured, and the median of each measurement (in percent)."""
    def column(sample: ImageSample) -> dict[str, float]:
        images, spacing = sample.images, sample.spacing
        return {
            "hand images in the cohort": sample.hand_images,
            "images measured": len(images),
            "width (px)": images["width"].median(),
            "height (px)": images["height"].median(),
            "hand share of the frame (%)": 100 * images["coverage"].median(),
            "mean intensity of the frame (% of full scale)": 100 * images["mean_intensity"].median(),
            "mean intensity of the hand (% of full scale)": 100 * images["hand_intensity"].median(),
            "hands with landmarks": len(spacing),
            "MCP gap (% of proximal phalanx)": 100 * spacing["mcp_gap"].median() if len(spacing) else np.nan,
            "PIP gap (% of proximal phalanx)": 100 * spacing["pip_gap"].median() if len(spacing) else np.nan,
        }

    table = pd.DataFrame({sample.cohort: column(sample) for sample in samples})
    table.index.name = "median over the images measured"
    return table
