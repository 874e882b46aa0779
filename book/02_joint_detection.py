# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {name: ra-book, display_name: Python (ra-book), language: python}
# ---

# %% [markdown]
# # Stage 2: Finding the joints
#
# ```{admonition} What this reproduces
# {cite}`miyama2022` ("Training of detection model", "Procedure for evaluation of detection model",
# Table 3, Figs. 4-5): DeepLabCut trained on 20 labelled radiographs resized to 256 x 256, one model for
# the 16 erosion joints and one for the 15 JSN joints; a detection is correct when a box around the
# detected centre (250 x 250 px for PIP, IP, MCP and CMC-M, 500 x 300 for the radius, 300 x 300 for the
# other wrist joints, after scaling the images to a common proximal-phalanx length) holds the joint;
# detection rates for intact and non-intact joints (98.0 % of erosion and 97.3 % of JSN joints) and the
# distance error.
# {cite}`nguyenba_ra2` (sections 4.1, 5.2): Faster R-CNN with one class per joint, the best-scoring box of
# each joint kept, AP at IoU 0.5 (99 % mAP).
# Both detectors are scored on one table beside a trivial baseline, and the joint centres become the
# crops that every later stage reads.
# ```

# %% tags=["parameters"]
manifest = "data_manifests/synthetic_quick.yaml"
profile = "quick"
seed = 0
artifacts = "_build/artifacts"
device = "auto"
n_train = None  # hands labelled for training (the paper's 20 images)
dlc_epochs = None  # None: the profile's value
dlc_net_type = None  # "cspnext_s" (quick) or "resnet_50" (the paper's ResNet-50)
dlc_models = None  # "paper" (erosion + JSN models) or "union" (one model, all 22 landmarks)
dlc_image_size = None  # side of DeepLabCut's square input (paper: 256)
dlc_weights_path = None  # optional local backbone weights (nothing is downloaded)
frcnn_epochs = None  # None: the profile's value
frcnn_arch = None  # "mobilenet_v3" or "resnet50"
frcnn_weights_path = None  # optional local Faster R-CNN weights (paper 002 started from COCO)
crop_centres = None  # centres of the crops for stages 3-4: "dlc", "frcnn" or "truth"

# %% tags=["remove-cell"]
import time

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from ra_lib.core import artifacts as store
from ra_lib.stages.detection import crops, evaluation as detection_eval, dlc as dlc_detector, frcnn as frcnn_detector
from ra_lib.cohort import sites
from ra_lib.cohort.manifest import load_cohort
from ra_lib.core.profiles import resolve
from ra_lib.core.training import select_device

STAGE = "02_joint_detection"
stage_cfg = resolve(detection_eval.PROFILES, profile, n_train=n_train, crop_centres=crop_centres)
dlc_cfg = resolve(dlc_detector.PROFILES, profile, epochs=dlc_epochs, net_type=dlc_net_type, models=dlc_models,
                  image_size=dlc_image_size, weights_path=dlc_weights_path)
frcnn_cfg = resolve(frcnn_detector.PROFILES, profile, epochs=frcnn_epochs, arch=frcnn_arch,
                    weights_path=frcnn_weights_path)
dev = str(select_device(device))
cohort = load_cohort(manifest)
out = store.stage_dir(STAGE, artifacts)
pd.set_option("display.precision", 3)
started = time.perf_counter()

# %% [markdown]
# ## Labelled hands
#
# The unit is one hand: both-hands radiographs were split by the cohort, and left hands are mirrored to
# right-hand orientation before they reach a detector. Paper 001 labelled 20 randomly chosen radiographs;
# here the hands of randomly drawn patients form the training set of both detectors, a few more
# patients' hands are DeepLabCut's own held-out set, and every hand not used for training is scored.

# %%
split = detection_eval.split_hands(cohort, stage_cfg.n_train, stage_cfg.n_test, seed)
labelled = sorted(set(cohort.landmarks["landmark"]), key=sites.HAND_LANDMARKS.index)
all_hands = list(cohort.hands["hand_id"])
scored = set(split["eval"])
display(Markdown(f"The cohort labels {len(labelled)} of the 22 hand landmarks; the detectors learn those."))
pd.DataFrame({"hands": [len(split["train"]), len(split["test"]), len(scored), len(all_hands)],
              "patients": [cohort.hands[cohort.hands.hand_id.isin(split[k])].patient.nunique()
                           for k in ("train", "test", "eval")] + [cohort.hands.patient.nunique()]},
             index=["training (labelled)", "DeepLabCut held-out", "scored (not trained on)", "all hands"])

# %% [markdown]
# ## DeepLabCut
#
# DeepLabCut 3 (PyTorch engine) is set up as a real project: a `config.yaml` whose body parts are the
# landmarks, the labelled hands as PNGs with a `CollectedData` table, `create_training_dataset` with the
# split above, `train_network` and `evaluate_network`. Nothing can be downloaded here, so the backbone
# starts from random weights instead of ImageNet (a local weights file can be passed as
# `dlc_weights_path`); from 20 images that is a far harder task than the paper's. Its log is kept in
# the project folder (`dlc.log`).

# %%
dlc_inputs, dlc_frames = detection_eval.load_model_inputs(cohort, all_hands, dlc_cfg.image_size)
position = {hand_id: i for i, hand_id in enumerate(all_hands)}
train_pos = [position[h] for h in split["train"]]
test_pos = [position[h] for h in split["test"]]
points = detection_eval.keypoints_in_model(cohort.landmarks, dlc_frames, sites.HAND_LANDMARKS)
dlc, dlc_summary = dlc_detector.fit(dlc_inputs, points, train_pos, test_pos, out / "dlc_project", dlc_cfg,
                                    seed=seed, device=dev)
dlc_detections = dlc.detect(dlc_inputs, dlc_frames, device=dev)
display(Markdown(f"{dlc_cfg.net_type}, {dlc_cfg.epochs} epochs, {dlc_cfg.image_size} x {dlc_cfg.image_size} px "
                 f"input, model set `{dlc_cfg.models}`."))
dlc_summary

# %% [markdown]
# DeepLabCut's own evaluation: root-mean-square error in pixels of its square input on the training hands
# and on the held-out hands, over all points and over the points whose likelihood reaches DeepLabCut's
# p-cutoff of 0.6 (`_pcutoff`; NaN when no point is that confident). One row per model: the paper's
# erosion and JSN models, or one model over all landmarks. One model over the union of the 22 landmarks
# (the `quick` default) was no worse than the paper's two on the quick synthetic cohort (seed 0, 40 epochs,
# 128 px: detection rate 87.2 % / 88.0 % for erosion / JSN against 87.4 % / 86.7 %) at half the training
# time; `dlc_models="paper"` trains the paper's pair.
#
# ## Faster R-CNN
#
# Paper 002's detector on the same hands: torchvision's Faster R-CNN with one class per landmark, trained
# on boxes of paper 001's sizes around the labelled centres. The paper fine-tuned a COCO model on 90 % of
# 367 patients; here it starts untrained (or from `frcnn_weights_path`) on the same training hands as
# DeepLabCut. Its MobileNet features are 16 and 32 times coarser than the input, so it gets larger inputs
# than DeepLabCut (256 px in `quick`; at 128 px it missed more JSN joints than the baseline), and its
# anchors are sized to the joint boxes; to fit a CPU budget its box head is narrower and it proposes fewer
# regions than torchvision's COCO settings (`ra_lib.stages.detection.frcnn.PROPOSALS`).

# %%
if frcnn_cfg.image_size == dlc_cfg.image_size:
    frcnn_inputs, frcnn_frames = dlc_inputs, dlc_frames
else:
    frcnn_inputs, frcnn_frames = detection_eval.load_model_inputs(cohort, all_hands, frcnn_cfg.image_size)
truth_boxes = detection_eval.truth_boxes(cohort.landmarks)
frcnn, frcnn_history = frcnn_detector.fit(frcnn_inputs[train_pos], [frcnn_frames[i] for i in train_pos],
                                          truth_boxes, labelled, frcnn_cfg, seed=seed, device=dev)
frcnn_detections, frcnn_boxes = frcnn.detect(frcnn_inputs, frcnn_frames, device=dev)
ap = detection_eval.average_precision_at_iou(truth_boxes[truth_boxes.hand_id.isin(scored)],
                                             frcnn_boxes[frcnn_boxes.hand_id.isin(scored)])
m_ap = float(ap.set_index("label").loc["mAP", "ap"])
display(Markdown(f"{frcnn_cfg.arch}, {frcnn_cfg.epochs} epochs; training loss "
                 f"{frcnn_history.train_loss.iloc[0]:.2f} after the first epoch, "
                 f"{frcnn_history.train_loss.iloc[-1]:.2f} after the last. **mAP at IoU 0.5 on the scored "
                 f"hands: {m_ap:.3f}** (paper 002: 0.99)."))

# %% [markdown]
# The AP of a landmark ranks its best box of every scored hand (paper 002 kept the maximum score per
# joint) and counts a box with IoU >= 0.5 against the labelled box as a true positive; recall is counted
# over all labelled joints, so a joint without any box lowers it. The mAP is the mean over landmarks; each
# landmark's AP is in the per-landmark table below.
#
# ## Detection rate (Table 3)
#
# Paper 001's boxes are defined at its image scale. Rather than resizing every radiograph, each box is
# scaled by the hand's median proximal-phalanx length (MCP to PIP, fingers 2-5, from the labelled centres)
# over a reference length that the paper does not print: `ra_lib.stages.detection.crops.PAPER_PHALANX_PX`, 400 px, an adult
# phalanx of about 40 mm at 0.1 mm per pixel. A joint is detected correctly when its labelled centre lies in
# the box around the detected centre; it is intact (grade 0) or not by the cohort's scores. The baseline puts
# every landmark at its mean position over the training hands (in hand coordinates): it knows the layout of a
# hand but looks at no image.

# %%
baseline = detection_eval.mean_position_baseline(points[train_pos], dlc_frames, sites.HAND_LANDMARKS)
baseline = baseline[baseline.landmark.isin(labelled)]
all_detections = pd.concat([dlc_detections, frcnn_detections, baseline], ignore_index=True)
evaluated = detection_eval.evaluate_detections(all_detections[all_detections.hand_id.isin(scored)],
                                               cohort.landmarks, cohort.scores)
rates = detection_eval.detection_rates(evaluated)
detection_eval.format_table3(rates)

# %% [markdown]
# Correct detections / joints (rate) on the scored hands, for intact and non-intact joints and in total
# (hands without scores count in the total only). MCP and PIP centres serve an erosion and a JSN site, so
# they count under both kinds. Paper 001 (DeepLabCut, 206 test radiographs), in %:

# %%
pd.DataFrame(detection_eval.PAPER_TABLE3).T

# %%
check = detection_eval.versus_baseline(rates)
lines = [f"- {r.detector} {r.kind}: {100 * r.rate:.1f} % against {100 * r.baseline_rate:.1f} % for the baseline"
         for r in check.itertuples()]
losers = check[~check.beats_baseline]
loser_names = ", ".join(f"{r.detector} ({r.kind})" for r in losers.itertuples())
verdict = ("Both detectors beat the baseline for both kinds." if losers.empty else
           f"Not better than the mean-position baseline: {loser_names}. "
           "With this profile's few epochs, small inputs and randomly initialised backbones on "
           f"{len(split['train'])} labelled hands, the detector has not learnt more than the average layout of a "
           "hand; the paper's numbers need its ImageNet-initialised ResNet-50 at 256 px (the `paper` profile).")
display(Markdown("\n".join(lines) + "\n\n" + verdict))

# %% [markdown]
# Per landmark, the detection rate of each detector and Faster R-CNN's AP at IoU 0.5:

# %%
per_landmark = detection_eval.rates_by_landmark(evaluated)
(per_landmark.pivot_table(index="landmark", columns="detector", values="rate", sort=False)
 .add_suffix(" rate").join(ap.set_index("label")["ap"].rename("frcnn AP@0.5")))

# %% [markdown]
# ## Distance error (Fig. 4)

# %%
errors = detection_eval.distance_errors(evaluated)
fig = detection_eval.plot_distance_errors(evaluated)
store.save_figure(fig, out / "distance_error.png")
plt.show()

# %% [markdown]
# Distance between detected and labelled centre per joint group, in pixels of an image scaled to the
# reference phalanx (log scale; boxes span the quartiles, whiskers 1.5 IQR, outliers hidden). Mean ± SD
# (median) per group below. Paper 001's means are 2.5-5.4 px, SD up to 9.4, on a scale it does not state;
# they are a fiftieth of its 250-px boxes, so they are probably pixels of its 256 x 256 network input, not
# of the resized radiographs.

# %%
detection_eval.format_distance_errors(errors)

# %% [markdown]
# ## Examples (Fig. 5)

# %%
damage = cohort.scores[cohort.scores.hand_id.isin(scored)].groupby("hand_id")["grade"].sum()
examples = {"mild damage": damage.idxmin(), "severe damage": damage.idxmax()}
shown = ["dlc", "frcnn"]
fig, axes = plt.subplots(len(shown), len(examples), figsize=(3.4 * len(examples), 4.4 * len(shown)),
                         squeeze=False)
for row, detector in enumerate(shown):
    for col, (label, hand_id) in enumerate(examples.items()):
        detection_eval.plot_hand(axes[row, col], cohort, hand_id, evaluated, detector,
                                 title=f"{detector}: {label} (SvdH {damage[hand_id]})")
fig.tight_layout()
store.save_figure(fig, out / "examples.png")
plt.show()

# %% [markdown]
# The scored hands with the least and the most damage (sum of SvdH grades); top DeepLabCut, bottom Faster
# R-CNN. White dots: labelled centres; crosses and boxes: detections, green where the box holds the
# labelled centre and red where it does not. Paper 001's failures were at PIP and MCP joints of severely
# damaged hands (ulnar drift).
#
# ## Joint centres for the later stages
#
# All hands' detections are saved (`detections.csv`). A detection is *flagged* when it is missing or less
# likely than the cut-off (DeepLabCut's likelihood against its p-cutoff, Faster R-CNN's box score against
# the profile's threshold); flagged joints are cropped but excluded downstream.

# %%
detections = pd.concat([dlc_detections, frcnn_detections], ignore_index=True)
store.write_table(detections, out / "detections.csv")
cutoffs = {"dlc": dlc_cfg.p_cutoff, "frcnn": frcnn_cfg.score_threshold}
flags = pd.DataFrame([{"detector": detector, "cut-off": cutoffs[detector], "detections": len(part),
                       "flagged": int(detection_eval.flag_detections(part, cutoffs[detector]).sum())}
                      for detector, part in detections.groupby("detector")]).set_index("detector")
flags

# %%
if stage_cfg.crop_centres == "truth":
    centres, cutoff, source = cohort.landmarks.assign(likelihood=1.0), 0.0, "truth"
else:
    centres = detections[detections.detector == stage_cfg.crop_centres]
    cutoff, source = cutoffs[stage_cfg.crop_centres], "detected"
crop_store = crops.build_crop_store(cohort, centres, out, crop_size=stage_cfg.crop_size, p_cutoff=cutoff,
                                    source=source)
n_flagged = int(crop_store.index.drop_duplicates("crop_idx").flagged.sum())
display(Markdown(f"Crop store: {crop_store.images.shape[0]} crops of {stage_cfg.crop_size} x "
                 f"{stage_cfg.crop_size} px around the **{stage_cfg.crop_centres}** centres, {n_flagged} of them "
                 f"flagged and excluded downstream; {len(crop_store.index)} (hand, kind, site) rows."))

# %% tags=["remove-cell"]
total = rates[(rates.group == detection_eval.ALL_JOINTS) & (rates.status == "total")]
all_errors = errors[errors.group == detection_eval.ALL_JOINTS]
metrics = {
    "profile": profile, "crop_centres": stage_cfg.crop_centres,
    "n_train_hands": len(split["train"]), "n_scored_hands": len(scored),
    "detection_rate": {f"{r.detector}/{r.kind}": r.rate for r in total.itertuples()},
    "mean_error_paper_px": {f"{r.detector}/{r.kind}": r.mean_paper_px for r in all_errors.itertuples()},
    "frcnn_map_iou50": m_ap,
    "dlc_evaluation": dlc_summary.to_dict(orient="records"),
    "flagged": {d: int(n) for d, n in flags["flagged"].items()},
    "crops_flagged": n_flagged,
    "seconds": time.perf_counter() - started,
}
metrics_path = store.write_json(metrics, out / "metrics.json")

# %% [markdown]
# ## Summary
#
# Detection rate over all joints of the scored hands and mean distance error (paper 001: 98.0 % erosion,
# 97.3 % JSN; 3.3 and 3.8 px on its scale):

# %%
headline = total.pivot_table(index="detector", columns="kind", values="rate", sort=False)
headline.columns = [f"{kind} detection rate" for kind in headline.columns]
headline.join(all_errors.pivot_table(index="detector", columns="kind", values="mean_paper_px", sort=False)
              .add_prefix("mean error (paper px) "))
