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
# Table 3, Figs. 4-5): DeepLabCut trained on 20 labelled radiographs resized to $256 \times 256$, one model for
# the 16 erosion joints and one for the 15 JSN joints; a detection is correct when a box around the
# detected centre ($250 \times 250$ px for PIP, IP, MCP and CMC-M, $500 \times 300$ for the radius,
# $300 \times 300$ for the other wrist joints, after scaling the images to a common proximal-phalanx length)
# holds the joint; detection rates for intact and non-intact joints (98.0 % of erosion and 97.3 % of JSN
# joints) and the distance error.
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
upright_images = None  # turn images upright by stage 1's predicted quarter turns (None: the profile's value)
# None: the profile's value
n_train = None  # hands labelled for training both detectors (the paper's 20 images)
n_test = None  # more labelled hands held out for DeepLabCut's own error
crop_size = None  # side in pixels of the crops stages 3 and 4 read
crop_centres = None  # centres of those crops: "dlc", "dlc_refined", "frcnn" or "truth"
dlc_image_size = None  # side of DeepLabCut's square input (paper: 256)
dlc_net_type = None  # "cspnext_s" (quick) or "resnet_50" (the paper's ResNet-50)
dlc_models = None  # "paper" (erosion + JSN models) or "union" (one model, all 22 landmarks)
dlc_epochs = None
dlc_batch_size = None
dlc_lr = None
dlc_p_cutoff = None  # DeepLabCut likelihood below which a detection is flagged (0.6)
dlc_weights_path = None  # optional local backbone weights (nothing is downloaded)
frcnn_arch = None  # "mobilenet_v3" or "resnet50"
frcnn_image_size = None  # side of Faster R-CNN's square input
frcnn_epochs = None
frcnn_batch_size = None
frcnn_lr = None
frcnn_box_head_width = None  # width of the two-layer box head (torchvision: 1024)
frcnn_score_threshold = None  # box score below which a detection is flagged (0.5)
frcnn_weights_path = None  # optional local Faster R-CNN weights (paper 002 started from COCO)
pretrain_hands = None  # synthetic hands DeepLabCut learns from before the labelled ones (0: none)
pretrain_epochs = None
pretrain_generator = None  # synthetic profile of the pretraining cohort ("smoke", "quick")
dlc_augmentation = None  # DeepLabCut's training augmentation: "upright" or "archive" (mirrors half the hands)
refine_patch_size = None  # joint refiner: patch side in pixels
refine_field = None  # patch side in proximal-phalanx lengths
refine_jitter = None  # simulated coarse error while training, in phalanx lengths
refine_samples = None  # patches drawn per labelled joint per epoch
refine_epochs = None  # 0: no refiner
refine_batch_size = None
refine_lr = None
refine_width = None  # U-net width
refine_steps = None  # refinement passes at inference
refine_shape_rounds = None  # rounds of the hand-shape check after them (0: none)

# %% tags=["remove-cell"]
import dataclasses

import pandas as pd
from IPython.display import Markdown, display

from ra_lib.cohort import load_cohort
from ra_lib.core import artifacts as store, plots
from ra_lib.core.bundles import BUNDLE_DIR
from ra_lib.core.profiles import resolve
from ra_lib.stages import detection
from ra_lib.stages.detection import figures
from ra_lib.stages.selection.upright import upright_by_stage1

settings = resolve(detection.PROFILES, profile, n_train=n_train, n_test=n_test, crop_size=crop_size,
                   crop_centres=crop_centres, dlc_image_size=dlc_image_size, dlc_net_type=dlc_net_type,
                   dlc_models=dlc_models, dlc_epochs=dlc_epochs, dlc_batch_size=dlc_batch_size, dlc_lr=dlc_lr,
                   dlc_p_cutoff=dlc_p_cutoff, dlc_weights_path=dlc_weights_path, frcnn_arch=frcnn_arch,
                   frcnn_image_size=frcnn_image_size, frcnn_epochs=frcnn_epochs, frcnn_batch_size=frcnn_batch_size,
                   frcnn_lr=frcnn_lr, frcnn_box_head_width=frcnn_box_head_width,
                   frcnn_score_threshold=frcnn_score_threshold, frcnn_weights_path=frcnn_weights_path,
                   pretrain_hands=pretrain_hands, pretrain_epochs=pretrain_epochs,
                   pretrain_generator=pretrain_generator, dlc_augmentation=dlc_augmentation,
                   refine_patch_size=refine_patch_size, refine_field=refine_field,
                   refine_jitter=refine_jitter, refine_samples=refine_samples, refine_epochs=refine_epochs,
                   refine_batch_size=refine_batch_size, refine_lr=refine_lr, refine_width=refine_width,
                   refine_steps=refine_steps, refine_shape_rounds=refine_shape_rounds)
cohort, upright_note = upright_by_stage1(load_cohort(manifest), artifacts, profile, upright_images)
out = store.stage_dir(detection.STAGE, artifacts)
pd.set_option("display.precision", 3)

# %% [markdown]
# ## What the stage does
#
# The unit is one hand: both-hands radiographs were split by the cohort, on each image turned upright by
# the quarter turn stage 1 predicted for it (`upright_images`; an image stored sideways would otherwise be
# split by columns across both hands), and every hand reaches a detector with its thumb on the right.
# Archives differ in which hands that means: in the palmar convention (the synthetic cohort) a left hand
# shows its thumb on the left, in RA2-DREAM on the right. The sides to mirror are
# read off the training hands' labelled thumb and little-finger joints
# (`ra_lib.stages.detection.inputs.thumb_right_sides`), so the detectors learn and score one convention.
# White collimation borders (the unexposed margin outside the X-ray field, brighter than any bone) are set to
# black first, as a PACS shutter does (`ra_lib.core.collimation`): trained on 20 hands, DeepLabCut found 64 % of
# the joints of white-bordered synthetic hands against 99 % of the others before this step. Paper 001 labelled 20 randomly chosen radiographs.
# Here whole patients, taken fold by fold from the cohort's patient folds (so the split is the same on
# every machine, whatever the pseudonyms), fill the training places of both detectors; a few more patients'
# hands are DeepLabCut's own held-out set, and every labelled hand not used for training is scored.
#
# DeepLabCut 3 (PyTorch engine) is set up as a real project: a `config.yaml` whose body parts are the
# landmarks, the labelled hands as PNGs with a `CollectedData` table, `create_training_dataset` with the
# split, `train_network` and `evaluate_network`. Nothing can be downloaded here, so the backbone starts from
# random weights instead of ImageNet (a local weights file can be passed as `dlc_weights_path`); from 20
# images that is a far harder task than the paper's. Its log is kept in the project folder (`dlc.log`).
#
# The book's own stand-in for ImageNet is synthetic pretraining (`pretrain_hands`, `ra_lib.stages.detection.pretrain`):
# DeepLabCut first learns on hands of a synthetic cohort generated for the purpose (exact centres, a seed
# apart from any cohort it scores, only the landmarks this cohort labels), then fine-tunes on the labelled
# hands (on in the `paper` profile; in `quick` pass `pretrain_hands` and `pretrain_epochs` as parameters).
# The pretrained weights are cached in the stage's `pretrained/` folder under a key of the generator
# version, the settings and the landmarks, so a build pays for them once. Training augmentation
# (`dlc_augmentation="upright"`): rotations up to 10 degrees, scale 0.9-1.1, noise, and histogram
# equalisation of half the hands, since hands arrive upright in one convention but exposed and processed
# as each archive does. The `archive` alternative also mirrors half of the hands; on the quick synthetic cohort it left DeepLabCut at 8 % detected joints after 40 epochs (the
# model must then tell thumb from little finger by their look alone), against 78 % without it.
#
# Paper 002's detector is trained on the same hands: torchvision's Faster R-CNN with one class per landmark,
# on boxes of paper 001's sizes around the labelled centres. The paper fine-tuned a COCO model on 90 % of
# 367 patients; here it starts untrained (or from `frcnn_weights_path`). Its MobileNet features are 16 and
# 32 times coarser than the input, so it gets larger inputs than DeepLabCut (256 px in `quick`; at 128 px it
# missed more JSN joints than the baseline), and its anchors are sized to the joint boxes; to fit a CPU
# budget its box head is narrower and it proposes fewer regions than torchvision's COCO settings
# (`ra_lib.stages.detection.frcnn.PROPOSALS`).
#
# DeepLabCut, the refiner, the landmarks and the sides mirrored to show the thumb on the right are kept as a model
# bundle in the stage's `bundle/` folder, so that chapter 7 finds the joints of new radiographs as this stage does.

# %%
display(Markdown(upright_note))
result = detection.run(cohort, settings, seed=seed, device=device, out_dir=out, bundle_dir=out / BUNDLE_DIR)
if not result.trained:
    display(Markdown(f"**Nothing trained on this cohort:** {result.skipped}. The detectors need labelled "
                     "joint centres (a `landmarks` table), so no crop store is written and the stages that read "
                     "joint crops cannot run on this cohort."))
result.split_table

# %% [markdown]
# ## DeepLabCut

# %%
display(Markdown(f"The cohort labels {len(result.landmarks)} of the 22 hand landmarks; the detectors learn "
                 f"those. DeepLabCut: {settings.dlc_net_type}, {settings.dlc_epochs} epochs, "
                 f"{settings.dlc_image_size} x {settings.dlc_image_size} px input, model set "
                 f"`{settings.dlc_models}`."))
result.dlc_summary

# %% [markdown]
# DeepLabCut's own evaluation: root-mean-square error in pixels of its square input on the training hands
# and on the held-out hands, over all points and over the points whose likelihood reaches DeepLabCut's
# p-cutoff of 0.6 (`_pcutoff`; NaN when no point is that confident). One row per model: the paper's
# erosion and JSN models, or one model over all landmarks (the `quick` default, half the training time);
# `dlc_models="paper"` trains the paper's pair.
#
# ## Refining the centres at full resolution
#
# DeepLabCut sees the whole hand at 128-256 px, a few pixels per finger, and its heatmaps are 16 times
# coarser still. The refiner (`ra_lib.stages.detection.refine`) looks again at each detected joint on a patch
# of the radiograph at its own resolution: a square `refine_field` proximal phalanges wide around the
# detected centre (the phalanx measured on the detections, MCP to PIP), resampled to `refine_patch_size`
# px. A small U-net gives one heatmap $h$ per landmark, and the new centre is the heatmap's expectation over
# the patch's pixel positions $\mathbf{x}_i$ (soft-argmax),
#
# $$\hat{\mathbf{x}} = \sum_{i} \mathbf{x}_i \,\frac{e^{h_i}}{\sum_j e^{h_j}} ,$$
#
# repeated `refine_steps` times around the last estimate. It trains on the same labelled hands: patches around
# each labelled joint with a simulated coarse error (`refine_jitter` phalanges), scale, rotation, mirroring
# and exposure varied, each patch standardised. Its centres are the detector `dlc_refined` in every table;
# the likelihood (and so the flag) stays DeepLabCut's.
#
# A patch shows one joint, not the hand. When DeepLabCut's centre is half a phalanx off, as it often is on real
# radiographs, a PIP can snap onto its own MCP or onto the next finger's PIP. So the hand's shape checks the
# refined centres (`ra_lib.stages.detection.shape`): a point distribution model of the labelled hands (their
# mean shape after similarity alignment, in either display convention, and its main modes of variation) is
# fitted robustly to the refined centres. A joint outside its own box (paper 001's box, half of it each side)
# around the shape's prediction moves there and is refined again, for up to `refine_shape_rounds` rounds.

# %%
display(Markdown(f"Refiner: {settings.refine_epochs} epochs of {settings.refine_samples} patches per labelled "
                 f"joint, {settings.refine_patch_size} px patches {settings.refine_field} phalanges wide, "
                 f"{settings.refine_steps} passes, {settings.refine_shape_rounds} round(s) of the shape check."
                 if settings.refine_epochs else
                 "This profile trains no refiner (`refine_epochs=0`); `dlc_refined` is absent from the tables."))

# %% [markdown]
# ## Faster R-CNN

# %%
headline = result.headline()
m_ap = headline["map50/frcnn"]
if result.trained:
    display(Markdown(f"{settings.frcnn_arch}, {settings.frcnn_epochs} epochs; training loss "
                     f"{result.frcnn_history.train_loss.iloc[0]:.2f} after the first epoch, "
                     f"{result.frcnn_history.train_loss.iloc[-1]:.2f} after the last. **mAP at IoU 0.5 on the "
                     f"scored hands: {'not measured' if m_ap is None else f'{m_ap:.3f}'}** (paper 002: 0.99)."))

# %% [markdown]
# The AP of a landmark ranks its best box of every scored hand (paper 002 kept the maximum score per
# joint); a box whose intersection over union with the labelled box $B^*$ reaches 0.5,
# $\mathrm{IoU}(B, B^*) = |B \cap B^*| / |B \cup B^*| \ge 0.5$, is a true positive. With precision $P_i$ and
# recall $R_i$ after the $i$-th ranked box, recall counted over all labelled joints (so a joint without any
# box lowers it),
#
# $$\mathrm{AP} = \sum_i (R_i - R_{i-1})\, P_i ,$$
#
# and the mAP is its mean over landmarks; each landmark's AP is in the per-landmark table below.
#
# ## Detection rate (Table 3)
#
# Paper 001's boxes are defined at its image scale. Rather than resizing every radiograph, each box is
# scaled by the hand's median proximal-phalanx length $\ell$ (MCP to PIP, fingers 2-5, from the labelled
# centres) over a reference length $\ell_0$ that the paper does not print
# (`ra_lib.stages.detection.boxes.PAPER_PHALANX_PX`, 400 px, an adult phalanx of about 40 mm at 0.1 mm per
# pixel): a paper box $w_0 \times h_0$ becomes $w \times h = (w_0 \ell / \ell_0) \times (h_0 \ell / \ell_0)$.
# A joint with labelled centre $(x^*, y^*)$ is detected correctly at $(x, y)$ when
#
# $$|x - x^*| \le w / 2 \quad\text{and}\quad |y - y^*| \le h / 2 ;$$
#
# it is intact (grade 0) or not by the cohort's scores. The baseline puts every landmark at its mean position
# over the training hands (in hand coordinates): it knows the layout of a hand but looks at no image.

# %%
figures.format_table3(result.rates)

# %% [markdown]
# Correct detections / joints (rate) on the scored hands, for intact and non-intact joints and in total
# (hands without scores count in the total only). MCP and PIP centres serve an erosion and a JSN site, so
# they count under both kinds. Paper 001 (DeepLabCut, 206 test radiographs), in %:

# %%
figures.paper_table3()

# %%
display(Markdown(result.verdict() if result.trained else "No detector was trained."))

# %% [markdown]
# Per landmark, the detection rate of each detector and Faster R-CNN's AP at IoU 0.5:

# %%
result.per_landmark()

# %% [markdown]
# ## Distance error (Fig. 4)
#
# The distance between detected and labelled centre, at the reference scale:
#
# $$e = \sqrt{(x - x^*)^2 + (y - y^*)^2}\;\frac{\ell_0}{\ell} .$$

# %%
if result.trained:
    plots.show(figures.plot_distance_errors(result.evaluated),
               "Box plots of the distance error per joint group for each detector and the baseline, erosion "
               "joints left and JSN joints right, on a log scale.", out / "distance_error.png")

# %% [markdown]
# Distance error per joint group, in pixels of an image scaled to the reference phalanx (log scale; boxes
# span the quartiles, whiskers 1.5 IQR, outliers hidden). Mean ± SD (median) per group below. Paper 001's
# means are 2.5-5.4 px, SD up to 9.4, on a scale it does not state; they are a fiftieth of its 250-px boxes,
# so they are probably pixels of its $256 \times 256$ network input, not of the resized radiographs.

# %%
figures.format_distance_errors(result.errors)

# %% [markdown]
# ## Examples (Fig. 5)

# %%
if result.trained:
    plots.show(figures.plot_examples(cohort, result.evaluated, result.split["eval"]),
               "The least and the most damaged scored hand, DeepLabCut's detections on top and Faster R-CNN's "
               "below, each with its box, green where it holds the labelled centre and red where it does not.",
               out / "examples.png")

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
result.flags

# %% [markdown]
# Flagged detections per landmark (a later stage drops a flagged joint, so a landmark flagged often is a
# joint the later stages rarely see):

# %%
figures.flags_by_landmark(result.flags_by_landmark())

# %%
display(Markdown(result.shape_check_note()))
if result.shape_checked:
    display(result.shape_moved_by_landmark().T)

# %%
if result.trained:
    display(Markdown(f"Crop store: {result.crop_store.images.shape[0]} crops of {settings.crop_size} x "
                     f"{settings.crop_size} px around the **{result.crop_centres}** centres, "
                     f"{result.n_flagged_crops} of them flagged and excluded downstream; "
                     f"{len(result.crop_store.index)} (hand, kind, site) rows."))

# %% tags=["remove-cell"]
metrics_path = store.write_metrics(out, headline, profile=profile, seed=seed,
                                   settings=dataclasses.asdict(settings), **result.details())

# %% [markdown]
# ## Summary
#
# Detection rate over all joints of the scored hands and mean distance error (paper 001: 98.0 % erosion,
# 97.3 % JSN; 3.3 and 3.8 px on its scale, see above), then the stage's headline numbers:

# %%
result.summary()

# %%
pd.Series(headline, name="value").to_frame()
