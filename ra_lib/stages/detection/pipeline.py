"""Stage 2 end to end: train DeepLabCut and Faster R-CNN on the labelled hands, score them beside the
mean-position baseline, save the detections and build the crop store that stages 3 and 4 read."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ra_lib.cohort import sites
from ra_lib.core import artifacts, bundles, contracts, training
from ra_lib.stages.detection import (boxes, bundle, crops, dlc, evaluate, frcnn, inputs, pretrain, refine, shape,
                                     splits)
from ra_lib.stages.detection.settings import DetectionSettings

#: Detectors of the stage: DeepLabCut, DeepLabCut's centres refined at full resolution (:mod:`.refine`), Faster R-CNN.
DETECTORS = ("dlc", "dlc_refined", "frcnn")
DETECTIONS_FILE = "detections.csv"
#: Folder of the stage's output that caches the synthetic pretraining (:mod:`.pretrain`) between builds.
PRETRAINED_DIR = "pretrained"
HEADLINE_NAMES = (
    "detection_rate/dlc/erosion", "detection_rate/dlc/jsn",
    "detection_rate/dlc_refined/erosion", "detection_rate/dlc_refined/jsn",
    "detection_rate/frcnn/erosion", "detection_rate/frcnn/jsn",
    "detection_rate/baseline/erosion", "detection_rate/baseline/jsn",
    "mean_error_paper_px/dlc/erosion", "mean_error_paper_px/dlc/jsn",
    "mean_error_paper_px/dlc_refined/erosion", "mean_error_paper_px/dlc_refined/jsn",
    "mean_error_paper_px/frcnn/erosion", "mean_error_paper_px/frcnn/jsn",
    "mean_error_paper_px/baseline/erosion", "mean_error_paper_px/baseline/jsn",
    "map50/frcnn",
    "flagged_share/dlc", "flagged_share/dlc_refined", "flagged_share/frcnn", "flagged_share/crops",
    "n_hands/train", "n_hands/scored",
)


@dataclass
class DetectionResult:
    """What stage 2 measured and wrote.

    ``split``: train / test / eval hand ids; ``landmarks``: the labelled landmarks the detectors learnt;
    ``dlc_summary``: one row per DeepLabCut model (DeepLabCut's own RMSE); ``frcnn_history``: Faster
    R-CNN's loss per epoch; ``detections``: every detector (:data:`DETECTORS`) on every hand; ``evaluated``: every
    detector (and the baseline) per scored site (:func:`evaluate.evaluate_detections`); ``rates``,
    ``errors``, ``ap``: Table 3, Fig. 4 and the box AP at IoU 0.5; ``flags``: flagged detections per
    detector; ``crop_centres``: whose centres the crop store was cut around. ``skipped`` says why
    nothing was trained (too few labelled hands), else ``None``. ``dlc_detector``, ``refiner`` and
    ``mirrored_sides`` are what the stage's bundle keeps (:mod:`.bundle`).
    """

    settings: DetectionSettings
    split: dict[str, list[str]]
    split_table: pd.DataFrame
    landmarks: tuple[str, ...]
    dlc_summary: pd.DataFrame
    frcnn_history: pd.DataFrame
    detections: pd.DataFrame
    evaluated: pd.DataFrame
    rates: pd.DataFrame
    errors: pd.DataFrame
    ap: pd.DataFrame
    flags: pd.DataFrame
    crop_store: crops.CropStore | None
    crop_centres: str
    seconds: float
    skipped: str | None = None
    dlc_detector: dlc.DlcDetector | None = field(default=None, repr=False)
    refiner: refine.JointRefiner | None = field(default=None, repr=False)
    mirrored_sides: frozenset[str] = frozenset()

    @property
    def trained(self) -> bool:
        return self.skipped is None

    def _all_joints(self, table: pd.DataFrame, column: str) -> dict[tuple[str, str], float]:
        rows = table[(table["group"] == evaluate.ALL_JOINTS)]
        if "status" in rows:
            rows = rows[rows["status"] == "total"]
        return {(d, k): v for d, k, v in zip(rows["detector"], rows["kind"], rows[column])}

    def headline(self) -> dict[str, float | None]:
        """The flat headline (:data:`HEADLINE_NAMES`); ``None`` where the cohort gives no value."""
        rates, errors = self._all_joints(self.rates, "rate"), self._all_joints(self.errors, "mean_paper_px")
        values = {}
        for detector in (*DETECTORS, evaluate.BASELINE):
            for kind in sites.KINDS:
                values[f"detection_rate/{detector}/{kind}"] = rates.get((detector, kind))
                values[f"mean_error_paper_px/{detector}/{kind}"] = errors.get((detector, kind))
        summary = self.ap[self.ap["label"] == "mAP"]["ap"]
        values["map50/frcnn"] = summary.iloc[0] if len(summary) else None
        for detector in DETECTORS:
            values[f"flagged_share/{detector}"] = _share(self.flags, detector)
        store = None if self.crop_store is None else self.crop_store.index.drop_duplicates("crop_idx")
        values["flagged_share/crops"] = store["flagged"].mean() if store is not None and len(store) else None
        values["n_hands/train"] = len(self.split["train"]) if self.trained else None
        values["n_hands/scored"] = len(self.split["eval"]) if self.trained else None
        return contracts.headline(HEADLINE_NAMES, values)

    def details(self) -> dict:
        """Detail tables for ``metrics.json`` beside the headline (read by people, not by stages)."""
        return {"crop_centres": self.crop_centres, "skipped": self.skipped, "seconds": self.seconds,
                "dlc_evaluation": self.dlc_summary.to_dict(orient="records"),
                "flags": self.flags.reset_index().to_dict(orient="records"),
                "flagged_by_landmark": self.flags_by_landmark().to_dict(orient="records"),
                "shape_moved_by_landmark": self.shape_moved_by_landmark().reset_index().to_dict(orient="records"),
                "detection_rates": self.rates.to_dict(orient="records")}

    def versus_baseline(self) -> pd.DataFrame:
        """All-joints detection rate of each detector beside the baseline's (:func:`evaluate.versus_baseline`)."""
        return evaluate.versus_baseline(self.rates)

    def verdict(self) -> str:
        """Markdown: each detector's all-joints rate against the baseline's, and what it means."""
        check = self.versus_baseline()
        lines = [f"- {r.detector} {r.kind}: {100 * r.rate:.1f} % against {100 * r.baseline_rate:.1f} % for the "
                 f"baseline" for r in check.itertuples()]
        losers = check[~check["beats_baseline"]]
        if losers.empty:
            verdict = "Both detectors beat the baseline for every kind the cohort labels."
        else:
            names = ", ".join(f"{r.detector} ({r.kind})" for r in losers.itertuples())
            verdict = (f"Not better than the mean-position baseline: {names}. With this profile's few epochs, small "
                       f"inputs and randomly initialised backbones on {len(self.split['train'])} labelled hands, the "
                       "detector has not learnt more than the average layout of a hand; the paper's numbers need its "
                       "ImageNet-initialised ResNet-50 at 256 px (the `paper` profile).")
        return "\n".join(lines) + "\n\n" + verdict

    def per_landmark(self) -> pd.DataFrame:
        """Detection rate per landmark (one column per detector) and Faster R-CNN's AP at IoU 0.5."""
        rates = evaluate.rates_by_landmark(self.evaluated)
        table = rates.pivot_table(index="landmark", columns="detector", values="rate", sort=False)
        return table.add_suffix(" rate").join(self.ap.set_index("label")["ap"].rename("frcnn AP@0.5"))

    def summary(self) -> pd.DataFrame:
        """The page's closing table: all-joints detection rate and mean distance error per detector and kind."""
        total = self.rates[(self.rates["group"] == evaluate.ALL_JOINTS) & (self.rates["status"] == "total")]
        table = total.pivot_table(index="detector", columns="kind", values="rate", sort=False)
        table.columns = [f"{kind} detection rate" for kind in table.columns]
        errors = self.errors[self.errors["group"] == evaluate.ALL_JOINTS]
        return table.join(errors.pivot_table(index="detector", columns="kind", values="mean_paper_px", sort=False)
                          .add_prefix("mean error (paper px) "))

    def flags_by_landmark(self) -> pd.DataFrame:
        """Per detector and landmark: detections and how many are flagged (later stages drop those)."""
        by = ["detector", "landmark"]
        if self.detections.empty:
            return pd.DataFrame(columns=[*by, "cut-off", "detections", "flagged"])
        return flag_table(self.detections, self.flags["cut-off"].to_dict(), by=by).reset_index()

    def shape_moved_by_landmark(self) -> pd.DataFrame:
        """Per landmark: refined detections and how many the hand-shape check moved (:mod:`.shape`)."""
        refined = self.detections[self.detections["detector"] == "dlc_refined"]
        if refined.empty or "shape_moved" not in refined:
            return pd.DataFrame(columns=["detections", "moved"], index=pd.Index([], name="landmark"))
        moved = refined["shape_moved"].astype(bool)
        return moved.groupby(refined["landmark"], sort=False).agg(detections="size", moved="sum")

    @property
    def shape_checked(self) -> bool:
        """Whether the hand-shape check ran on the refined centres (a refiner with a shape and rounds)."""
        return self.refiner is not None and self.refiner.shape is not None and self.refiner.shape_rounds > 0

    def shape_check_note(self) -> str:
        """Markdown: what the hand-shape check did, or why it did not run."""
        if self.refiner is None:
            return "No refiner was trained here, so no shape check ran."
        if not self.refiner.shape_rounds:
            return "The shape check is off in these settings (`refine_shape_rounds=0`)."
        if not self.shape_checked:
            return (f"No shape check ran: fewer than {shape.MIN_HANDS} training hands are labelled at every landmark "
                    "the refiner knows, too few to learn a hand's shape from.")
        moved = self.shape_moved_by_landmark()
        return (f"The shape check moved {int(moved['moved'].sum())} of {int(moved['detections'].sum())} refined "
                "centres. Per landmark (a landmark moved often is one the refiner alone confuses with a neighbour):")

    @property
    def n_flagged_crops(self) -> int:
        """Crops of the crop store flagged (excluded downstream)."""
        return 0 if self.crop_store is None else int(self.crop_store.index.drop_duplicates("crop_idx")["flagged"].sum())


def _share(flags: pd.DataFrame, detector: str) -> float | None:
    if detector not in flags.index or not flags.loc[detector, "detections"]:
        return None
    return flags.loc[detector, "flagged"] / flags.loc[detector, "detections"]


def flag_table(detections: pd.DataFrame, cutoffs: dict[str, float], by=("detector",)) -> pd.DataFrame:
    """Per detector (or per ``by`` group, ``detector`` first): its cut-off, detections and how many are flagged
    (:func:`evaluate.flag_detections`)."""
    by = list(by)
    rows = []
    for key, part in detections.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        cutoff = cutoffs[key[0]]
        rows.append({**dict(zip(by, key)), "cut-off": cutoff, "detections": len(part),
                     "flagged": int(evaluate.flag_detections(part, cutoff).sum())})
    return pd.DataFrame(rows, columns=[*by, "cut-off", "detections", "flagged"]).set_index(by)


def _skipped(cohort, settings: DetectionSettings, reason: str, seconds: float) -> DetectionResult:
    empty = pd.DataFrame()
    split = {name: [] for name in splits.SPLITS}
    return DetectionResult(settings, split, splits.split_summary(cohort, split), (), empty, empty,
                           pd.DataFrame(columns=inputs.DETECTION_COLUMNS),
                           pd.DataFrame(columns=evaluate.EVALUATED_COLUMNS),
                           evaluate.detection_rates(pd.DataFrame(columns=evaluate.EVALUATED_COLUMNS)),
                           evaluate.distance_errors(pd.DataFrame(columns=evaluate.EVALUATED_COLUMNS)),
                           pd.DataFrame(columns=["label", "n_truth", "n_predicted", "tp", "ap"]),
                           flag_table(pd.DataFrame(columns=inputs.DETECTION_COLUMNS), {}), None,
                           settings.crop_centres, seconds, reason)


def run(cohort, settings: DetectionSettings, *, seed: int = 0, device: str = "auto",
        out_dir: str | Path, progress: bool = True, cache_dir: str | Path | None = None,
        bundle_dir: str | Path | None = None) -> DetectionResult:
    """Train both detectors on ``settings.n_train`` labelled hands, score them on the other labelled hands,
    write ``detections.csv``, DeepLabCut's project and the crop store to ``out_dir``.

    Hands reach the detectors thumb-right (:func:`inputs.thumb_right_sides`, from the training hands) with
    white collimation blacked out. With ``settings.pretrain_hands``, DeepLabCut starts from its synthetic
    pretraining, cached in ``cache_dir`` (default ``out_dir / PRETRAINED_DIR``). With ``settings.refine_epochs``,
    the joint refiner (:mod:`.refine`) trains on the same hands and refines DeepLabCut's centres (``dlc_refined``).

    A cohort with fewer than ``n_train + 1`` labelled hands trains nothing: the result says why
    (``skipped``) and every headline value is ``None``. With ``bundle_dir`` DeepLabCut, the refiner and how
    hands reach them are written there as a model bundle (:func:`.bundle.write_bundle`; an old one is
    removed when nothing is trained).
    """
    started = time.perf_counter()
    device = str(training.select_device(device))
    out_dir = Path(out_dir)
    problem = splits.too_few_labelled(cohort, settings.n_train)
    if problem:
        if bundle_dir is not None:
            bundles.remove_bundle(bundle_dir)
        return _skipped(cohort, settings, problem, time.perf_counter() - started)
    split = splits.split_hands(cohort, settings.n_train, settings.n_test, seed)
    present = set(cohort.landmarks["landmark"])
    labelled = tuple(lm for lm in sites.HAND_LANDMARKS if lm in present)
    all_hands = list(cohort.hands["hand_id"])
    position = {hand_id: i for i, hand_id in enumerate(all_hands)}
    train_pos, test_pos = [position[h] for h in split["train"]], [position[h] for h in split["test"]]
    scored = set(split["eval"])

    mirrored_sides = inputs.thumb_right_sides(cohort.landmarks[cohort.landmarks["hand_id"].isin(split["train"])],
                                              cohort.hands)
    dlc_inputs, dlc_frames = inputs.load_model_inputs(cohort, all_hands, settings.dlc_image_size, mirrored_sides,
                                                      progress=progress)
    points = inputs.keypoints_in_model(cohort.landmarks, dlc_frames, sites.HAND_LANDMARKS)
    weights = None
    if settings.pretrain_hands:
        weights = pretrain.pretrained_weights(settings, labelled, cache_dir or out_dir / PRETRAINED_DIR, seed=seed,
                                              device=device, progress=progress)
    dlc_model, dlc_summary = dlc.fit(dlc_inputs, points, train_pos, test_pos, out_dir / "dlc_project", settings,
                                     seed=seed, device=device, weights=weights)
    dlc_detections = dlc_model.detect(dlc_inputs, dlc_frames, device=device, progress=progress)
    refined, refiner = dlc_detections.iloc[0:0], None
    if settings.refine_epochs:
        refiner, _ = refine.fit(cohort, cohort.landmarks, split["train"], settings, seed=seed, device=device,
                                progress=progress)
        refined = refiner.refine(cohort, dlc_detections, device=device, progress=progress).assign(detector="dlc_refined")

    if settings.frcnn_image_size == settings.dlc_image_size:
        frcnn_inputs, frcnn_frames = dlc_inputs, dlc_frames
    else:
        frcnn_inputs, frcnn_frames = inputs.load_model_inputs(cohort, all_hands, settings.frcnn_image_size,
                                                              mirrored_sides, progress=progress)
    truth = boxes.truth_boxes(cohort.landmarks)
    frcnn_model, frcnn_history = frcnn.fit(frcnn_inputs[train_pos], [frcnn_frames[i] for i in train_pos], truth,
                                           labelled, settings, seed=seed, device=device, progress=progress)
    frcnn_detections, frcnn_boxes = frcnn_model.detect(frcnn_inputs, frcnn_frames, device=device, progress=progress)
    ap = evaluate.average_precision_at_iou(truth[truth["hand_id"].isin(scored)],
                                           frcnn_boxes[frcnn_boxes["hand_id"].isin(scored)])

    baseline = evaluate.mean_position_baseline(points[train_pos], dlc_frames, sites.HAND_LANDMARKS)
    baseline = baseline[baseline["landmark"].isin(labelled)]
    candidates = pd.concat([dlc_detections, refined, frcnn_detections, baseline], ignore_index=True)
    evaluated = evaluate.evaluate_detections(candidates[candidates["hand_id"].isin(scored)], cohort.landmarks,
                                             cohort.scores)

    detections = pd.concat([dlc_detections, refined, frcnn_detections], ignore_index=True)
    artifacts.write_table(detections, out_dir / DETECTIONS_FILE)
    cutoffs = {"dlc": settings.dlc_p_cutoff, "dlc_refined": settings.dlc_p_cutoff,
               "frcnn": settings.frcnn_score_threshold}
    if settings.crop_centres == "truth":
        centres, cutoff, source = cohort.landmarks.assign(likelihood=1.0), 0.0, "truth"
    else:
        centres = detections[detections["detector"] == settings.crop_centres]
        cutoff, source = cutoffs[settings.crop_centres], "detected"
    store = crops.build_crop_store(cohort, centres, out_dir, crop_size=settings.crop_size, p_cutoff=cutoff,
                                   source=source)
    result = DetectionResult(settings, split, splits.split_summary(cohort, split), labelled, dlc_summary,
                             frcnn_history, detections, evaluated, evaluate.detection_rates(evaluated),
                             evaluate.distance_errors(evaluated), ap, flag_table(detections, cutoffs), store,
                             settings.crop_centres, time.perf_counter() - started, dlc_detector=dlc_model,
                             refiner=refiner, mirrored_sides=mirrored_sides)
    if bundle_dir is not None:
        bundle.write_bundle(result, cohort.images, bundle_dir)
    return result

