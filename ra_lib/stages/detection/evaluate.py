"""Stage 2's scores: paper 001's detection rate and distance error, paper 002's box AP at IoU 0.5.

A detection is correct (paper 001, "Procedure for evaluation of detection model") when the
ground-truth centre lies in paper 001's box around the detected centre, the box scaled to the hand
(:mod:`ra_lib.stages.detection.boxes`). Distance errors are reported at the paper's scale (pixels
of an image whose median proximal phalanx is ``PAPER_PHALANX_PX`` long) and as a fraction of the
phalanx. Also here: the trivial baseline (mean landmark position in normalised hand coordinates)
and the flag that marks a detection unreliable.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ra_lib.cohort import sites
from ra_lib.evaluation import metrics
from ra_lib.stages.detection import boxes
from ra_lib.stages.detection.inputs import HandFrame, predictions_to_table

BASELINE = "baseline"
#: Table 3's rows: the paper's joint groups of each kind, then all joints.
ALL_JOINTS = "All joints"
STATUSES = ("intact", "non-intact", "total")
EVALUATED_COLUMNS = ("detector", "hand_id", "kind", "site", "group", "landmark", "x_true", "y_true", "x", "y",
                     "likelihood", "grade", "status", "phalanx_px", "box_w", "box_h", "correct", "error_px",
                     "error_paper_px", "error_rel")


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
    return predictions_to_table(preds, frames, bodyparts, BASELINE)


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
    or NaN x / y) counts as missed. Columns: :data:`EVALUATED_COLUMNS`; ``error_px`` in image pixels,
    ``error_paper_px`` at ``PAPER_PHALANX_PX``, ``error_rel`` as a fraction of the phalanx.
    """
    truth = landmarks[["hand_id", "landmark", "x", "y"]].rename(columns={"x": "x_true", "y": "y_true"})
    truth = truth.drop_duplicates(["hand_id", "landmark"])
    site_table = pd.DataFrame([(s.kind, s.site, s.group, s.landmark) for s in sites.HAND_SITES],
                              columns=["kind", "site", "group", "landmark"])
    truth = truth.merge(site_table, on="landmark")
    grades = scores[["hand_id", "kind", "site", "grade"]].drop_duplicates(["hand_id", "kind", "site"])
    truth = truth.merge(grades, on=["hand_id", "kind", "site"], how="left")
    truth["status"] = np.where(truth["grade"].isna(), None, np.where(truth["grade"] > 0, "non-intact", "intact"))
    truth["phalanx_px"] = boxes.hand_phalanx(landmarks, truth["hand_id"])
    sizes = np.array([boxes.box_size_px(lm, ph) for lm, ph in zip(truth["landmark"], truth["phalanx_px"])])
    truth["box_w"], truth["box_h"] = (sizes[:, 0], sizes[:, 1]) if len(sizes) else (np.nan, np.nan)

    out = []
    for detector, group in detections.groupby("detector", sort=False):
        dets = group[["hand_id", "landmark", "x", "y", "likelihood"]].drop_duplicates(["hand_id", "landmark"])
        rows = truth[truth["hand_id"].isin(set(dets["hand_id"]))].merge(dets, on=["hand_id", "landmark"], how="left")
        dx, dy = (rows["x"] - rows["x_true"]).abs(), (rows["y"] - rows["y_true"]).abs()
        rows["correct"] = ((dx <= rows["box_w"] / 2) & (dy <= rows["box_h"] / 2)).to_numpy()
        rows["error_px"] = np.hypot(dx, dy)
        rows["error_paper_px"] = rows["error_px"] * boxes.PAPER_PHALANX_PX / rows["phalanx_px"]
        rows["error_rel"] = rows["error_px"] / rows["phalanx_px"]
        rows.insert(0, "detector", detector)
        out.append(rows)
    columns = list(EVALUATED_COLUMNS)
    return pd.concat(out, ignore_index=True)[columns] if out else pd.DataFrame(columns=columns)


def with_all_joints(evaluated: pd.DataFrame) -> pd.DataFrame:
    """``evaluated`` twice: as it is, and with every group renamed :data:`ALL_JOINTS`."""
    return pd.concat([evaluated, evaluated.assign(group=ALL_JOINTS)], ignore_index=True)


def group_order(kind: str) -> list[str]:
    """Table 3's rows of one kind: paper 001's joint groups, then all joints."""
    return list(sites.GROUPS[kind]) + [ALL_JOINTS]


def detection_rates(evaluated: pd.DataFrame) -> pd.DataFrame:
    """Table 3 in long form: detector, kind, group, status (intact / non-intact / total), correct, n, rate.

    ``total`` counts every evaluated site, also those without a grade.
    """
    data = with_all_joints(evaluated)
    rows = []
    for (detector, kind, group), part in data.groupby(["detector", "kind", "group"], sort=False):
        for status in STATUSES:
            sel = part if status == "total" else part[part["status"] == status]
            n, correct = len(sel), int(sel["correct"].sum())
            rows.append((detector, kind, group, status, correct, n, correct / n if n else np.nan))
    out = pd.DataFrame(rows, columns=["detector", "kind", "group", "status", "correct", "n", "rate"])
    return _sorted(out)


def versus_baseline(rates: pd.DataFrame, baseline: str = BASELINE) -> pd.DataFrame:
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
    data = with_all_joints(evaluated.dropna(subset=["error_px"]))
    rows = []
    for (detector, kind, group), part in data.groupby(["detector", "kind", "group"], sort=False):
        err, rel = part["error_paper_px"], part["error_rel"]
        rows.append((detector, kind, group, len(part), err.mean(), err.std(ddof=1), err.median(), rel.mean(),
                     rel.std(ddof=1)))
    out = pd.DataFrame(rows, columns=["detector", "kind", "group", "n", "mean_paper_px", "sd_paper_px",
                                      "median_paper_px", "mean_rel", "sd_rel"])
    return _sorted(out)


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    order = {(k, g): i for i, (k, g) in enumerate((k, g) for k in sites.KINDS for g in group_order(k))}
    detectors = list(dict.fromkeys(table["detector"]))
    key = table.apply(lambda r: (detectors.index(r["detector"]), order.get((r["kind"], r["group"]), 99)), axis=1)
    return table.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True) if len(table) else table


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
