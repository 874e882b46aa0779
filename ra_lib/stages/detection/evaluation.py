"""Stage 2 evaluation: paper 001's detection rate and distance error, paper 002's box AP at IoU 0.5.

Also the pieces both detectors share: the :class:`HandFrame` that maps a hand's model input
(``size`` x ``size``, left hands mirrored to right-hand orientation) to full-image pixels, the
detections table, and the trivial baseline (mean landmark position in normalised hand coordinates).

Paper 001 (Miyama et al. 2022, "Procedure for evaluation of detection model") resizes images so the
median proximal-phalanx length matches, then draws a box around each detected centre (250 x 250 px
for PIP, IP, MCP and CMC-M, 500 x 300 for the radius, 300 x 300 for the rest); a detection is correct
when the box holds the joint. Here the image is not resized: the box is scaled instead, by
``phalanx / PAPER_PHALANX_PX`` (:func:`ra_lib.stages.detection.crops.box_size_px`), and "holds the joint" means the
ground-truth centre lies in the box. Distance errors are reported at the paper's scale (pixels of an
image whose median proximal phalanx is ``PAPER_PHALANX_PX`` long) and as a fraction of the phalanx.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from ra_lib.stages.detection import crops
from ra_lib.evaluation import metrics
from ra_lib.cohort import sites

#: Stage-level settings per profile: ``n_train`` hands labelled for both detectors (paper 001: 20
#: images), ``n_test`` more held out for DeepLabCut's own error, the crop store's side in pixels and
#: which centres it is cut around (``"dlc"``, ``"frcnn"`` or ``"truth"``).
PROFILES = {
    # smoke trains the detectors for one epoch: every detection is flagged, so the crops that feed
    # stages 3-4 are cut at the true joint centres (only in smoke; the page says which centres it used).
    "smoke": dict(n_train=3, n_test=1, crop_size=32, crop_centres="truth"),
    "quick": dict(n_train=20, n_test=6, crop_size=64, crop_centres="dlc"),
    "paper": dict(n_train=20, n_test=20, crop_size=224, crop_centres="dlc"),
}
#: Paper 001 Table 3 (DeepLabCut, 206 test radiographs): correct detection rate in % per joint group.
PAPER_TABLE3 = {
    ("erosion", "PIP-IP"): {"intact": 99.5, "non-intact": 90.8, "total": 98.5},
    ("erosion", "MCP"): {"intact": 99.6, "non-intact": 83.1, "total": 97.5},
    ("erosion", "CMC-M"): {"intact": 99.3, "non-intact": 93.4, "total": 97.6},
    ("erosion", "wrist"): {"intact": 100.0, "non-intact": 96.3, "total": 98.1},
    ("erosion", "All joints"): {"intact": 99.6, "non-intact": 92.9, "total": 98.0},
    ("jsn", "PIP"): {"intact": 99.0, "non-intact": 91.6, "total": 96.2},
    ("jsn", "MCP"): {"intact": 98.2, "non-intact": 86.8, "total": 95.6},
    ("jsn", "CMC"): {"intact": 99.7, "non-intact": 98.7, "total": 99.2},
    ("jsn", "wrist"): {"intact": 100.0, "non-intact": 99.8, "total": 99.8},
    ("jsn", "All joints"): {"intact": 98.9, "non-intact": 95.2, "total": 97.3},
}
#: Paper 001 Fig. 4 as given in its text: distance error mean and SD (pixels, scale not stated).
PAPER_DISTANCE_ERROR = {
    ("erosion", "PIP-IP"): (3.4, 3.5), ("erosion", "MCP"): (3.0, 2.6), ("erosion", "CMC-M"): (3.1, 2.9),
    ("erosion", "wrist"): (3.7, 4.1), ("erosion", "All joints"): (3.3, 3.4),
    ("jsn", "PIP"): (5.4, 9.4), ("jsn", "MCP"): (3.8, 6.5), ("jsn", "CMC"): (2.5, 1.2),
    ("jsn", "wrist"): (2.9, 1.5), ("jsn", "All joints"): (3.8, 6.3),
}
DETECTION_COLUMNS = ("hand_id", "landmark", "x", "y", "likelihood", "detector")
#: Table 3's rows: the paper's joint groups of each kind, then all joints.
ALL_JOINTS = "All joints"
STATUSES = ("intact", "non-intact", "total")


# --- hand frames -------------------------------------------------------------------------------

@dataclass(frozen=True)
class HandFrame:
    """Where a hand's model input sits in its radiograph.

    The model sees columns ``x0 : x0 + width`` of the image (all ``height`` rows), mirrored when
    ``mirrored``, resized to ``size`` x ``size`` (aspect ratio not kept, as paper 001's 256 x 256).
    Coordinates are pixel-centre based: pixel (i, j) has centre (x=j, y=i).
    """

    hand_id: str
    x0: int
    width: int
    height: int
    size: int
    mirrored: bool

    def to_model(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Full-image (x, y) to model-input coordinates."""
        cx = np.asarray(x, dtype=float) - self.x0
        if self.mirrored:
            cx = self.width - 1 - cx
        return ((cx + 0.5) * self.size / self.width - 0.5,
                (np.asarray(y, dtype=float) + 0.5) * self.size / self.height - 0.5)

    def to_image(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Model-input (x, y) to full-image coordinates (inverse of :meth:`to_model`)."""
        cx = (np.asarray(x, dtype=float) + 0.5) * self.width / self.size - 0.5
        if self.mirrored:
            cx = self.width - 1 - cx
        return cx + self.x0, (np.asarray(y, dtype=float) + 0.5) * self.height / self.size - 0.5


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of a float image to ``size`` x ``size`` (as :meth:`Cohort.load_hand`)."""
    resized = Image.fromarray(np.ascontiguousarray(image, dtype=np.float32)).resize((size, size), Image.BILINEAR)
    return np.asarray(resized, dtype=np.float32)


def load_model_input(cohort, hand_id: str, size: int, mirror_to_right: bool = True) -> tuple[np.ndarray, HandFrame]:
    """A hand resized to the model's square input (float32 in [0, 1]) and its :class:`HandFrame`."""
    row = cohort.hands.loc[cohort.hands["hand_id"] == hand_id]
    if row.empty:
        raise KeyError(f"hand {hand_id!r} is not in the cohort's hands table")
    row = row.iloc[0]
    crop = cohort.load_hand(hand_id, size=None, mirror_to_right=mirror_to_right)
    height, width = crop.shape
    if width != int(row["x1"]) - int(row["x0"]):
        raise ValueError(f"hand {hand_id!r}: crop width {width} differs from x1 - x0 = {row['x1'] - row['x0']}")
    frame = HandFrame(hand_id, int(row["x0"]), width, height, size, bool(mirror_to_right and row["hand"] == "L"))
    return resize_square(crop, size), frame


def load_model_inputs(cohort, hand_ids, size: int, mirror_to_right: bool = True,
                      progress: bool = True) -> tuple[np.ndarray, list[HandFrame]]:
    """Model inputs (N, size, size) and frames of several hands, in ``hand_ids`` order."""
    images, frames = [], []
    for hand_id in tqdm(list(hand_ids), desc="loading hands", unit="hand", leave=False, disable=not progress):
        image, frame = load_model_input(cohort, hand_id, size, mirror_to_right)
        images.append(image)
        frames.append(frame)
    return (np.stack(images) if images else np.zeros((0, size, size), np.float32)), frames


def split_hands(cohort, n_train: int, n_test: int, seed: int = 0) -> dict[str, list[str]]:
    """Patient-disjoint random split of the hands that have landmarks (paper 001: 20 random images).

    ``train``: ``n_train`` hands to label for the detectors; ``test``: ``n_test`` more for
    DeepLabCut's own held-out error; ``eval``: every other labelled hand (``test`` included), on which
    the detection rate is measured. Whole patients go to one side (unless only a patient's second hand
    can fill the last training place), so a hand's twin does not leak into the scored hands.
    Raises ``ValueError`` when fewer than ``n_train + 1`` hands have landmarks.
    """
    labelled = cohort.hands[cohort.hands["hand_id"].isin(set(cohort.landmarks["hand_id"]))]
    if len(labelled) < n_train + 1:
        raise ValueError(f"{len(labelled)} hand(s) have landmarks; need at least {n_train + 1} "
                         f"({n_train} to train the detectors and one to evaluate them)")
    patients = sorted(labelled["patient"].unique())
    order = np.random.default_rng(seed).permutation(len(patients))
    hands_of = {p: sorted(g["hand_id"]) for p, g in labelled.groupby("patient")}
    train, test, rest = [], [], []
    for i in order:
        hands = hands_of[patients[i]]
        if len(train) + len(hands) <= n_train:
            train += hands
        elif len(test) + len(hands) <= n_test:
            test += hands
        else:
            rest += hands
    if len(train) < n_train:  # only two-hand patients were left for the last place: split one
        missing = n_train - len(train)
        train, rest = train + rest[:missing], rest[missing:]
    if not test and not rest:
        raise ValueError(f"no labelled hand left to evaluate after {len(train)} training hands")
    if not test:
        test = rest[:1]
    return {"train": train, "test": test, "eval": sorted(set(test) | set(rest))}


def keypoints_in_model(landmarks: pd.DataFrame, frames: list[HandFrame], bodyparts) -> np.ndarray:
    """Ground-truth landmarks (cohort table, full-image pixels) as an (N, K, 2) array in model coordinates.

    Landmarks absent for a hand are NaN.
    """
    points = np.full((len(frames), len(bodyparts), 2), np.nan)
    column = {b: k for k, b in enumerate(bodyparts)}
    by_hand = {h: g for h, g in landmarks[landmarks["landmark"].isin(column)].groupby("hand_id")}
    for n, frame in enumerate(frames):
        group = by_hand.get(frame.hand_id)
        if group is None:
            continue
        mx, my = frame.to_model(group["x"].to_numpy(), group["y"].to_numpy())
        idx = group["landmark"].map(column).to_numpy()
        points[n, idx, 0], points[n, idx, 1] = mx, my
    return points


def predictions_to_table(predictions: np.ndarray, frames: list[HandFrame], bodyparts, detector: str) -> pd.DataFrame:
    """(N, K, 3) model-coordinate predictions (x, y, likelihood) to the detections table (full-image pixels)."""
    predictions = np.asarray(predictions, dtype=float)
    if predictions.shape != (len(frames), len(bodyparts), 3):
        raise ValueError(f"predictions have shape {predictions.shape}, expected "
                         f"({len(frames)}, {len(bodyparts)}, 3) for {len(frames)} hands and {len(bodyparts)} landmarks")
    rows = []
    for frame, pred in zip(frames, predictions):
        x, y = frame.to_image(pred[:, 0], pred[:, 1])
        rows.append(pd.DataFrame({"hand_id": frame.hand_id, "landmark": list(bodyparts), "x": x, "y": y,
                                  "likelihood": pred[:, 2], "detector": detector}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=DETECTION_COLUMNS)


def mean_position_baseline(train_points: np.ndarray, frames: list[HandFrame], bodyparts) -> pd.DataFrame:
    """The trivial detector: every hand gets the training hands' mean landmark position.

    ``train_points``: (N, K, 2) model coordinates of the training hands (NaN where unlabelled), so the
    mean is taken in normalised, right-hand-oriented hand coordinates. Likelihood 1 where the
    landmark was seen in training, NaN otherwise.
    """
    with np.errstate(invalid="ignore"):
        counts = np.isfinite(train_points[..., 0]).sum(axis=0)
        mean = np.nansum(np.nan_to_num(train_points, nan=0.0), axis=0) / np.maximum(counts, 1)[:, None]
    mean[counts == 0] = np.nan
    likelihood = np.where(counts > 0, 1.0, np.nan)
    preds = np.broadcast_to(np.concatenate([mean, likelihood[:, None]], axis=1), (len(frames), len(bodyparts), 3))
    return predictions_to_table(preds, frames, bodyparts, "baseline")


def flag_detections(detections: pd.DataFrame, p_cutoff: float) -> pd.Series:
    """True where a detection is missing or its likelihood is below ``p_cutoff`` (excluded downstream)."""
    return ~(detections["likelihood"].to_numpy() >= p_cutoff) | detections[["x", "y"]].isna().any(axis=1).to_numpy()


# --- paper 001: detection rate and distance error ------------------------------------------------

def evaluate_detections(detections: pd.DataFrame, landmarks: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """One row per (detector, hand, scored site) with a ground-truth centre: box, hit and distance.

    ``detections``: the detections table (several detectors allowed). ``landmarks``: ground truth
    (hand_id, landmark, x, y). ``scores``: cohort scores (hand_id, kind, site, grade) giving each
    site's status, ``intact`` (grade 0), ``non-intact`` (>= 1) or NaN when unscored. Only hands in a
    detector's table are scored for it; a labelled landmark of such a hand without a detection (no row,
    or NaN x / y) counts as missed. Columns: detector, hand_id, kind, site, group, landmark, x_true,
    y_true, x, y, likelihood, grade, status, phalanx_px, box_w, box_h, correct, error_px (image
    pixels), error_paper_px (at ``PAPER_PHALANX_PX``), error_rel (fraction of the phalanx).
    """
    truth = landmarks[["hand_id", "landmark", "x", "y"]].rename(columns={"x": "x_true", "y": "y_true"})
    truth = truth.drop_duplicates(["hand_id", "landmark"])
    lengths = crops.phalanx_lengths(landmarks)
    fallback = float(np.nanmedian(lengths)) if lengths.notna().any() else crops.PAPER_PHALANX_PX
    site_table = pd.DataFrame([(s.kind, s.site, s.group, s.landmark) for s in sites.HAND_SITES],
                              columns=["kind", "site", "group", "landmark"])
    truth = truth.merge(site_table, on="landmark")
    grades = scores[["hand_id", "kind", "site", "grade"]].drop_duplicates(["hand_id", "kind", "site"])
    truth = truth.merge(grades, on=["hand_id", "kind", "site"], how="left")
    truth["status"] = np.where(truth["grade"].isna(), None, np.where(truth["grade"] > 0, "non-intact", "intact"))
    truth["phalanx_px"] = truth["hand_id"].map(lengths).fillna(fallback).astype(float)
    boxes = np.array([crops.box_size_px(lm, ph) for lm, ph in zip(truth["landmark"], truth["phalanx_px"])])
    truth["box_w"], truth["box_h"] = (boxes[:, 0], boxes[:, 1]) if len(boxes) else (np.nan, np.nan)

    out = []
    for detector, group in detections.groupby("detector", sort=False):
        dets = group[["hand_id", "landmark", "x", "y", "likelihood"]].drop_duplicates(["hand_id", "landmark"])
        rows = truth[truth["hand_id"].isin(set(dets["hand_id"]))].merge(dets, on=["hand_id", "landmark"], how="left")
        dx, dy = (rows["x"] - rows["x_true"]).abs(), (rows["y"] - rows["y_true"]).abs()
        rows["correct"] = ((dx <= rows["box_w"] / 2) & (dy <= rows["box_h"] / 2)).to_numpy()
        rows["error_px"] = np.hypot(dx, dy)
        rows["error_paper_px"] = rows["error_px"] * crops.PAPER_PHALANX_PX / rows["phalanx_px"]
        rows["error_rel"] = rows["error_px"] / rows["phalanx_px"]
        rows.insert(0, "detector", detector)
        out.append(rows)
    columns = ["detector", "hand_id", "kind", "site", "group", "landmark", "x_true", "y_true", "x", "y",
               "likelihood", "grade", "status", "phalanx_px", "box_w", "box_h", "correct", "error_px",
               "error_paper_px", "error_rel"]
    return pd.concat(out, ignore_index=True)[columns] if out else pd.DataFrame(columns=columns)


def _with_all_joints(evaluated: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([evaluated, evaluated.assign(group=ALL_JOINTS)], ignore_index=True)


def _group_order(kind: str) -> list[str]:
    return list(sites.GROUPS[kind]) + [ALL_JOINTS]


def detection_rates(evaluated: pd.DataFrame) -> pd.DataFrame:
    """Table 3 in long form: detector, kind, group, status (intact / non-intact / total), correct, n, rate.

    ``total`` counts every evaluated site, also those without a grade.
    """
    data = _with_all_joints(evaluated)
    rows = []
    for (detector, kind, group), part in data.groupby(["detector", "kind", "group"], sort=False):
        for status in STATUSES:
            sel = part if status == "total" else part[part["status"] == status]
            n, correct = len(sel), int(sel["correct"].sum())
            rows.append((detector, kind, group, status, correct, n, correct / n if n else np.nan))
    out = pd.DataFrame(rows, columns=["detector", "kind", "group", "status", "correct", "n", "rate"])
    return _sorted(out)


def versus_baseline(rates: pd.DataFrame, baseline: str = "baseline") -> pd.DataFrame:
    """All-joints detection rate of each detector beside the baseline's, per kind.

    Columns: detector, kind, rate, baseline_rate, beats_baseline.
    """
    total = rates[(rates["group"] == ALL_JOINTS) & (rates["status"] == "total")]
    base = total[total["detector"] == baseline].set_index("kind")["rate"]
    out = total[total["detector"] != baseline][["detector", "kind", "rate"]].copy()
    out["baseline_rate"] = out["kind"].map(base)
    out["beats_baseline"] = out["rate"] > out["baseline_rate"]
    return out.reset_index(drop=True)


def rates_by_landmark(evaluated: pd.DataFrame) -> pd.DataFrame:
    """Detection rate per detector and landmark (each hand's landmark counted once): detector, landmark,
    correct, n, rate, in :data:`ra_lib.cohort.sites.HAND_LANDMARKS` order."""
    once = evaluated.drop_duplicates(["detector", "hand_id", "landmark"])
    table = once.groupby(["detector", "landmark"], sort=False)["correct"].agg(correct="sum", n="size").reset_index()
    table["rate"] = table["correct"] / table["n"]
    order = {lm: i for i, lm in enumerate(sites.HAND_LANDMARKS)}
    detectors = {d: i for i, d in enumerate(dict.fromkeys(table["detector"]))}
    key = table["detector"].map(detectors) * len(order) + table["landmark"].map(order)
    return table.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)


def distance_errors(evaluated: pd.DataFrame) -> pd.DataFrame:
    """Fig. 4 in numbers: mean and SD of the distance error per detector, kind and group.

    Columns: detector, kind, group, n (detected sites), mean_paper_px, sd_paper_px, median_paper_px,
    mean_rel, sd_rel. Missing detections are left out (the error needs a detected centre).
    """
    data = _with_all_joints(evaluated.dropna(subset=["error_px"]))
    rows = []
    for (detector, kind, group), part in data.groupby(["detector", "kind", "group"], sort=False):
        err, rel = part["error_paper_px"], part["error_rel"]
        rows.append((detector, kind, group, len(part), err.mean(), err.std(ddof=1), err.median(), rel.mean(),
                     rel.std(ddof=1)))
    out = pd.DataFrame(rows, columns=["detector", "kind", "group", "n", "mean_paper_px", "sd_paper_px",
                                      "median_paper_px", "mean_rel", "sd_rel"])
    return _sorted(out)


def format_distance_errors(errors: pd.DataFrame) -> pd.DataFrame:
    """Fig. 4's numbers: rows (kind, group), one column per detector, ``"mean +- SD (median)"`` in paper px,
    and paper 001's own ``"mean +- SD"``."""
    cells = errors.assign(cell=[f"{m:.0f} ± {s:.0f} ({md:.0f})" for m, s, md in
                                zip(errors["mean_paper_px"], errors["sd_paper_px"], errors["median_paper_px"])])
    table = cells.pivot_table(index=["kind", "group"], columns="detector", values="cell", aggfunc="first")
    rows = [(k, g) for k in sites.KINDS for g in _group_order(k) if (k, g) in table.index]
    table = table.reindex(index=pd.MultiIndex.from_tuples(rows, names=["kind", "group"]),
                          columns=list(dict.fromkeys(errors["detector"])))
    table["paper 001"] = [f"{PAPER_DISTANCE_ERROR[r][0]} ± {PAPER_DISTANCE_ERROR[r][1]}" for r in table.index]
    return table


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    order = {(k, g): i for i, (k, g) in enumerate((k, g) for k in sites.KINDS for g in _group_order(k))}
    detectors = list(dict.fromkeys(table["detector"]))
    key = table.apply(lambda r: (detectors.index(r["detector"]), order.get((r["kind"], r["group"]), 99)), axis=1)
    return table.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True) if len(table) else table


def format_table3(rates: pd.DataFrame) -> pd.DataFrame:
    """Table 3's layout: rows (kind, group), columns (detector, status), cells ``"correct/n (rate %)"``."""
    cells = rates.assign(cell=[f"{c}/{n} ({100 * r:.1f}%)" if n else "-"
                               for c, n, r in zip(rates["correct"], rates["n"], rates["rate"])])
    table = cells.pivot_table(index=["kind", "group"], columns=["detector", "status"], values="cell",
                              aggfunc="first")
    detectors = list(dict.fromkeys(rates["detector"]))
    rows = [(k, g) for k in sites.KINDS for g in _group_order(k) if (k, g) in table.index]
    columns = pd.MultiIndex.from_product([detectors, STATUSES], names=["detector", "status"])
    return table.reindex(index=pd.MultiIndex.from_tuples(rows, names=["kind", "group"]), columns=columns)


# --- paper 002: average precision of boxes at IoU 0.5 -------------------------------------------

def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes ``a`` (..., 4) and ``b`` (..., 4), corners (x0, y0, x1, y1), broadcast elementwise."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = w * h
    area = lambda box: (box[..., 2] - box[..., 0]) * (box[..., 3] - box[..., 1])  # noqa: E731
    union = area(a) + area(b) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match_boxes(truth: pd.DataFrame, predicted: pd.DataFrame, iou_threshold: float = 0.5) -> pd.DataFrame:
    """Mark each predicted box true or false positive, greedily by score within (hand, label) (VOC rule).

    ``truth``: hand_id, label, x0, y0, x1, y1 (at most one box per hand and label, as joints are unique).
    ``predicted``: hand_id, label, score, x0, y0, x1, y1. Returns ``predicted`` with ``iou`` and ``tp``.
    """
    gt = truth.drop_duplicates(["hand_id", "label"]).set_index(["hand_id", "label"])[["x0", "y0", "x1", "y1"]]
    pred = predicted.sort_values("score", ascending=False, kind="stable").copy()
    keys = list(zip(pred["hand_id"], pred["label"]))
    gt_boxes = gt.reindex(keys).to_numpy(dtype=float)
    pred["iou"] = np.nan_to_num(box_iou(pred[["x0", "y0", "x1", "y1"]].to_numpy(dtype=float), gt_boxes))
    hits = np.flatnonzero(pred["iou"].to_numpy() >= iou_threshold)
    repeated = pred.iloc[hits][["hand_id", "label"]].duplicated().to_numpy()
    tp = np.zeros(len(pred), dtype=bool)
    tp[hits[~repeated]] = True  # a ground-truth box matches its best-scoring overlapping prediction only
    pred["tp"] = tp
    return pred.sort_index()


def average_precision_at_iou(truth: pd.DataFrame, predicted: pd.DataFrame, iou_threshold: float = 0.5) -> pd.DataFrame:
    """AP per label at an IoU threshold, plus a ``mAP`` row (mean over labels with ground truth).

    AP is the step-wise area under precision vs recall over predictions ranked by score, recall
    counted against every ground-truth box (so missed joints lower it). It is computed with
    :func:`ra_lib.evaluation.metrics.average_precision` on the TP flags and rescaled by (TPs / ground truths):
    recall steps shrink by that factor while precision is unchanged.
    Columns: label, n_truth, n_predicted, tp, ap.
    """
    matched = match_boxes(truth, predicted, iou_threshold)
    rows = []
    labels = list(dict.fromkeys(list(truth["label"]) + list(predicted["label"])))
    for label in labels:
        n_truth = int((truth.drop_duplicates(["hand_id", "label"])["label"] == label).sum())
        part = matched[matched["label"] == label]
        tp = int(part["tp"].sum())
        if n_truth == 0:
            ap = np.nan
        elif tp == 0:
            ap = 0.0
        else:
            ap = metrics.average_precision(part["tp"].astype(int), part["score"]) * tp / n_truth
        rows.append((label, n_truth, len(part), tp, ap))
    out = pd.DataFrame(rows, columns=["label", "n_truth", "n_predicted", "tp", "ap"])
    m_ap = out["ap"].mean(skipna=True) if out["ap"].notna().any() else np.nan
    summary = pd.DataFrame([("mAP", int(out["n_truth"].sum()), int(out["n_predicted"].sum()), int(out["tp"].sum()),
                             m_ap)], columns=out.columns)
    return pd.concat([out, summary], ignore_index=True)


def truth_boxes(landmarks: pd.DataFrame) -> pd.DataFrame:
    """Ground-truth boxes (hand_id, label, x0, y0, x1, y1): paper 001's box per landmark, scaled per hand."""
    lengths = crops.phalanx_lengths(landmarks)
    fallback = float(np.nanmedian(lengths)) if lengths.notna().any() else crops.PAPER_PHALANX_PX
    phalanx = landmarks["hand_id"].map(lengths).fillna(fallback).to_numpy(dtype=float)
    size = np.array([crops.box_size_px(lm, ph) for lm, ph in zip(landmarks["landmark"], phalanx)]).reshape(-1, 2)
    x, y = landmarks["x"].to_numpy(dtype=float), landmarks["y"].to_numpy(dtype=float)
    return pd.DataFrame({"hand_id": landmarks["hand_id"].to_numpy(), "label": landmarks["landmark"].to_numpy(),
                         "x0": x - size[:, 0] / 2, "y0": y - size[:, 1] / 2,
                         "x1": x + size[:, 0] / 2, "y1": y + size[:, 1] / 2})


# --- figures ---------------------------------------------------------------------------------------

def plot_hand(ax, cohort, hand_id: str, evaluated: pd.DataFrame, detector: str, title: str | None = None) -> None:
    """Fig. 5 style: one hand, ground-truth centres (white), detections with their boxes.

    Boxes are green where the ground truth lies inside (correct), red otherwise; each landmark once.
    """
    from matplotlib.patches import Rectangle

    from ra_lib.core import plots

    hand = cohort.hands.set_index("hand_id").loc[hand_id]
    image = cohort.load_image(hand["image_id"])[:, int(hand["x0"]):int(hand["x1"])]
    plots.show_radiograph(ax, image, title)
    rows = evaluated[(evaluated["hand_id"] == hand_id) & (evaluated["detector"] == detector)]
    rows = rows.drop_duplicates("landmark")
    x0 = float(hand["x0"])
    ax.scatter(rows["x_true"] - x0, rows["y_true"], s=10, c="white", edgecolors="black", linewidths=0.4, zorder=3)
    for row in rows.dropna(subset=["x", "y"]).itertuples(index=False):
        colour = "#2a9d8f" if row.correct else "#e63946"
        ax.add_patch(Rectangle((row.x - x0 - row.box_w / 2, row.y - row.box_h / 2), row.box_w, row.box_h,
                               fill=False, edgecolor=colour, linewidth=0.8))
        ax.scatter(row.x - x0, row.y, s=8, c=colour, marker="x", linewidths=0.8, zorder=4)


def plot_distance_errors(evaluated: pd.DataFrame):
    """Fig. 4 style: distance error (paper pixels) per joint group, one box per detector; returns the figure."""
    import matplotlib.pyplot as plt

    data = evaluated.dropna(subset=["error_paper_px"])
    detectors = list(dict.fromkeys(data["detector"]))
    fig, axes = plt.subplots(1, len(sites.KINDS), figsize=(11, 3.6), sharey=True)
    width = 0.8 / max(len(detectors), 1)
    for ax, kind in zip(axes, sites.KINDS):
        groups = _group_order(kind)
        part = _with_all_joints(data[data["kind"] == kind])
        for d, detector in enumerate(detectors):
            values = [part[(part["group"] == g) & (part["detector"] == detector)]["error_paper_px"].to_numpy()
                      for g in groups]
            positions = np.arange(len(groups)) + (d - (len(detectors) - 1) / 2) * width
            box = ax.boxplot([v if len(v) else [np.nan] for v in values], positions=positions, widths=width * 0.9,
                             patch_artist=True, showfliers=False, medianprops={"color": "black"})
            for patch in box["boxes"]:
                patch.set_facecolor(plt.cm.tab10(d))
        ax.set_xticks(np.arange(len(groups)), groups, fontsize=8)
        ax.set_title("erosion" if kind == sites.EROSION else "JSN", fontsize=10)
        ax.set_yscale("log")
    axes[0].set_ylabel(f"distance error (px at a {crops.PAPER_PHALANX_PX:.0f}-px phalanx)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=plt.cm.tab10(d)) for d in range(len(detectors))]
    fig.legend(handles, detectors, loc="upper center", ncol=len(detectors), frameon=False, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    return fig
