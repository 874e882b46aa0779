# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {name: ra-book, display_name: Python (ra-book), language: python}
# ---

# %% [markdown]
# # Stage 3: Intact or not? Classifying each joint
#
# ```{admonition} What this reproduces
# {cite}`miyama2022` ("Models for classification", "Training of classification models", Table 4,
# Figs. 3, 6 and 7): every detected joint is classified as intact (SvdH grade $0$) or non-intact
# (grade $\geq 1$), for erosion and joint space narrowing (JSN) separately, by four networks that differ
# only in what they see: one joint (**SISO**), the same joint on both hands (**MIMO local**), the joint
# group of one hand (**MIMO one-hand**) or the group on both hands (**MIMO both-hands**). One model per
# joint group, eight patient-disjoint folds (6 train / 1 validation / 1 test, rotating), geometric
# augmentation until the classes balance, Adam, binary cross-entropy summed over the outputs, early
# stopping after 10 epochs without improvement. Reported: sensitivity, specificity, F-measure and PR-AUC
# of the models and the readers for the finger joints, the wrist and all joints (Table 4), the PR curves
# with the readers as points (Fig. 6) and the per-joint outcomes drawn on a hand (Fig. 7).
# ```

# %% tags=["parameters"]
manifest = "data_manifests/synthetic_quick.yaml"
profile = "quick"
seed = 0
artifacts = "_build/artifacts"
device = "auto"
upright_images = None  # turn images upright by stage 1's predicted quarter turns (None: the profile's value)
# Every setting below: None = the profile's value.
models = None  # model types to train (all four: siso, mimo_local, mimo_one_hand, mimo_both_hands)
kinds = None  # "erosion" and / or "jsn"
groups = None  # joint groups to train (None: every group of each kind)
test_folds = None  # folds to predict (None: all, full out-of-fold coverage)
crop_size = None  # side of the network input in pixels (the paper: VGG16's 224)
backbone = None  # "small" (CPU) or "vgg16" (the paper)
width = None  # channels of the small network's first block
weights_path = None  # optional local ImageNet VGG16 weights (.pth); nothing is downloaded
pool = None  # output side of VGG16's average pool
global_pool = None  # small network: "avg" or "avgmax" (average and maximum of each feature map)
fc_layers = None  # hidden fully connected layers
fc_width = None  # units per hidden layer
dropout = None
init = None  # "he" or "random" (normal, sd 0.05) for the fully connected layers
batch_crops = None  # crops per batch (divided by the crops per sample: samples per batch)
lr = None  # Adam learning rate
epochs = None  # at most this many epochs (the paper: 100)
patience = None  # early stopping after this many epochs without a lower validation loss (the paper: 10)
train_size = None  # training crops after balancing (the paper: about 10,000; None in the profile: majority count)
threshold = None  # decision threshold on the probability
rotation_deg = None  # augmentation: rotation up to +- this many degrees (the paper: 3)
shift_px = None  # augmentation: shift up to +- this many pixels of a shift_reference_px input (the paper: 5 of 224)
shift_reference_px = None
scale_range = None  # augmentation: zoom range (the paper: 0.97-1.03)
shared_encoder = None  # True: one backbone per kind and test fold, the models' heads on its frozen features
feature_views = None  # shared encoder: augmented copies of each crop encoded for the heads
head_epochs = None  # shared encoder: at most this many epochs per head
head_lr = None  # shared encoder: Adam learning rate of the heads
head_batch_crops = None  # shared encoder: crops per head batch

# %% tags=["remove-cell"]
import dataclasses
import time
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

from ra_lib.cohort import load_cohort
from ra_lib.core import artifacts as store
from ra_lib.core import plots
from ra_lib.core.bundles import BUNDLE_DIR
from ra_lib.core.contracts import DETECTION
from ra_lib.core.profiles import resolve
from ra_lib.stages import classification
from ra_lib.stages.classification import evaluate, figures
from ra_lib.stages.classification.models import input_table
from ra_lib.stages.classification.cross_validation import rotation_table
from ra_lib.stages.detection.crops import load_crop_store
from ra_lib.stages.selection.upright import upright_by_stage1

settings = resolve(classification.PROFILES, profile, models=models, kinds=kinds, groups=groups,
                   test_folds=test_folds, crop_size=crop_size, backbone=backbone, width=width,
                   weights_path=weights_path, pool=pool, global_pool=global_pool, fc_layers=fc_layers,
                   fc_width=fc_width, dropout=dropout, init=init, batch_crops=batch_crops, lr=lr, epochs=epochs,
                   patience=patience,
                   train_size=train_size, threshold=threshold, rotation_deg=rotation_deg, shift_px=shift_px,
                   shift_reference_px=shift_reference_px, scale_range=scale_range, shared_encoder=shared_encoder,
                   feature_views=feature_views, head_epochs=head_epochs, head_lr=head_lr,
                   head_batch_crops=head_batch_crops)
cohort, upright_note = upright_by_stage1(load_cohort(manifest), artifacts, profile, upright_images)
crops = load_crop_store(Path(artifacts) / DETECTION)
out = store.stage_dir(classification.STAGE, artifacts)
pd.set_option("display.precision", 3)
started = time.perf_counter()

# %% [markdown]
# ## Four models, one backbone
#
# All four networks share one design (the paper's Fig. 3): a single convolutional feature extractor is
# applied to every input crop, the features of all crops are concatenated, and fully connected layers
# end in one sigmoid output per input joint. They differ in the number of crops they take, so a MIMO
# model can compare a joint with its contralateral twin or with its neighbours in the same group. The
# joint groups are the paper's: erosion PIP-IP / MCP / CMC-M (thumb CMC and trapezium) / wrist, JSN
# PIP / MCP / CMC / wrist, one model per group.

# %%
input_table()

# %% [markdown]
# Table: crops per sample (= outputs per sample) of each model and joint group.
#
# ## Training as the paper
#
# Each usable crop of stage 2 is one joint to classify: crops that stage 2 flagged (a missing or
# unlikely joint centre) and joints without a grade are left out. Left hands arrive mirrored to the
# right-hand orientation. The two hands of a patient are paired by visit: the two hands of one
# both-hands radiograph, a left and a right radiograph of the same visit or study date, or, when the
# images carry no date (the RA2 layout), the patient's only left and only right hand. When a hand or a
# crop is missing, the MIMO models get a blank image in its place, the missing target is left out of the
# loss and no prediction is made for it, so every model is scored on the same joints.
#
# The patients are split into eight disjoint folds. For each test fold, the next fold validates (early
# stopping) and the remaining six train, so every fold is tested once:

# %%
rotation_table(cohort.folds, settings)

# %% [markdown]
# Both the training and the validation folds are balanced by geometric augmentation: rotations of up to
# $\pm 3^\circ$, shifts of up to $\pm 5$ pixels (of the paper's $224$-pixel input, scaled to ours) and
# scaling by a factor in $[0.97, 1.03]$, applied to copies of crops of the smaller class until both
# classes are equally frequent (the paper: about 10,000 training images; `train_size` below, counted in
# crops). For a MIMO sample, the class is "contains a non-intact joint": samples of the smaller of the
# two sample classes are copied. A sample of $k$ joints with labels $y_j$ and predicted probabilities
# $p_j$ costs the binary cross-entropy summed over its outputs,
#
# $$\mathcal{L} = -\sum_{j=1}^{k} \left[ y_j \log p_j + (1 - y_j) \log (1 - p_j) \right],$$
#
# where a missing input contributes nothing; the optimiser is Adam, and the weights of the epoch with
# the lowest validation loss are kept. Settings of this run:

# %%
pd.Series(dataclasses.asdict(settings), name="value").astype(str).to_frame()

# %% [markdown]
# The paper fine-tuned an ImageNet VGG16 on 224-pixel crops and tuned the fully connected depth, their
# initialisation, dropout and batch size per model and group (its Tables S1 and S2, not in our copy of
# the paper); the `paper` profile uses VGG16 with one setting for all. How this run trains:

# %%
display(Markdown(settings.describe()))

# %% [markdown]
# The SISO models of every predicted fold are kept as a model bundle (`bundle/`, with how stage 2 cut the
# crops); chapter 7 averages their probabilities on the joints of new radiographs.

# %%
result = classification.run(cohort, settings, seed=seed, device=device, crop_store=crops,
                            bundle_dir=out / BUNDLE_DIR)
store.write_table(result.oof, out / "oof_predictions.csv")
store.write_table(result.cv.runs, out / "runs.csv")
store.write_table(result.cv.history, out / "history.csv")
display(Markdown(result.cohort_notes()))
display(Markdown(upright_note))

# %% [markdown]
# ## The joints

# %%
display(Markdown("; ".join(f"{row.kind}: {row.used} joints used, {row.flagged} flagged and {row.ungraded} "
                           f"ungraded crops left out" for row in result.cv.joint_counts.itertuples()) + "."))
result.cv.groups

# %% [markdown]
# Joints and the share non-intact per group (compare the paper's Table 2: about 11-13 % of PIP-IP and MCP
# erosions, half of the wrist).

# %%
result.pairing()

# %% [markdown]
# Hands and left/right hand pairs by how they were paired: on one both-hands radiograph (`image`), by the
# images' visit or study date, or as a patient's only left and right hand (`patient`); `unpaired` hands
# have no contralateral hand.

# %%
evaluate.masking_summary(result.cv.sample_counts)

# %% [markdown]
# Samples per model over all groups; `masked_inputs` counts the blank inputs standing in for a flagged
# crop or an unimaged hand, `samples_missing_hand` the MIMO local / both-hands samples with one hand
# missing altogether. None of them is dropped.

# %%
evaluate.training_summary(result.cv.runs)

# %% [markdown]
# Trainings per kind and model, mean epochs run (early stopping) and the epoch whose weights were kept,
# mean balanced training samples and total training seconds.
#
# ## Table 4: models and readers
#
# The readers of the cohort, where it has any, graded the same joints independently; a reader's call is
# non-intact when the grade is $\geq 1$, and the reader is scored on the joints the models predicted.
# Decisions of the models are $p \geq 0.5$. With $\mathrm{TP}$, $\mathrm{FP}$, $\mathrm{TN}$ and
# $\mathrm{FN}$ counted over the joints of a block,
#
# $$\text{sensitivity} = \frac{\mathrm{TP}}{\mathrm{TP} + \mathrm{FN}}, \qquad
# \text{specificity} = \frac{\mathrm{TN}}{\mathrm{TN} + \mathrm{FP}}, \qquad
# F = \frac{2\,\mathrm{TP}}{2\,\mathrm{TP} + \mathrm{FP} + \mathrm{FN}},$$
#
# and the PR-AUC is the average precision $\mathrm{AP} = \sum_n (R_n - R_{n-1})\, P_n$ over the
# thresholds $n$ (recall $R_n$, precision $P_n$; `ra_lib.evaluation.metrics.average_precision`); for a
# reader's 0/1 calls it is the area under a two-point curve. "finger" is PIP-IP + MCP + CMC-M for
# erosion and PIP + MCP + CMC for JSN, as the paper.

# %%
store.write_table(result.evaluation, out / "table4.csv")
evaluate.table4(result.evaluation)

# %% [markdown]
# Sensitivity, specificity, F-measure, PR-AUC and the share of non-intact joints (prevalence, the PR-AUC of
# a constant score) per kind and region; an empty cell is undefined (no non-intact joint in that block).
# The paper's Table 4 for comparison (226 radiographs of 40 patients, different data):

# %%
evaluate.published_table4()

# %% [markdown]
# ## Precision-recall curves (Fig. 6)

# %%
plots.show(figures.plot_pr_curves(evaluate.pr_curves(result.oof), result.evaluation),
           "Precision-recall curves of the four models for erosion and JSN in each region, with each reader's "
           "operating point as an open marker and the prevalence as a dotted line.", out / "pr_curves.png")

# %% [markdown]
# Figure: precision against recall of the four models for each kind (rows) and region (columns), the
# paper's Fig. 6, with each model's average precision (AP) in the corner, each reader's single operating
# point (open markers) and the prevalence (dotted), the precision of a model that cannot tell the joints
# apart.
#
# ## One patient's joints (Fig. 7)

# %%
fig, caption = figures.showcase_figure(result.oof, crops.index, cohort.load_image, settings.threshold)
plots.show(fig, "The joints of one test radiograph drawn once per model, erosion above and JSN below, each joint "
           "centre coloured as a true positive, true negative, false negative or false positive.",
           out / "joint_outcomes.png")
display(Markdown(caption))

# %% [markdown]
# Figure: the joints of one test radiograph (one with both hands where there is one, and the most damaged),
# the paper's Fig. 7, erosion (top) and JSN (bottom) for each model: each joint centre coloured by the
# outcome, blue true positive (non-intact, called non-intact), white true negative, red false negative
# (non-intact, called intact), yellow false positive.

# %% [markdown]
# ## Per joint group

# %%
store.write_table(result.by_group, out / "metrics_by_group.csv")
result.by_group.assign(model=result.by_group["model"].map(evaluate.MODEL_LABELS))[
    ["kind", "group", "model", "n", "prevalence", "sensitivity", "specificity", "f_measure", "average_precision"]]

# %% [markdown]
# The same numbers per joint group, the level at which each model was trained.
#
# ## Did the models learn?

# %%
display(Markdown(evaluate.learning_verdict(result.evaluation, result.by_group, settings.epochs, settings.crop_size)))

# %% [markdown]
# A MIMO model sees fewer distinct training samples than SISO: SISO has one per joint, MIMO one-hand one
# per hand and group, MIMO both-hands one per hand pair and group, and each MIMO sample has several labels
# to fit at once. The paper found MIMO both-hands the weakest for that reason ("increasing the number of
# input joints requires a combinatorial increase of training data"). On a small cohort and with the few
# epochs of the `quick` profile the MIMO models can therefore trail SISO, unlike in the paper, where the
# contralateral comparison of MIMO local helped most.
#
# ## Headline
#
# All joints, our run beside the paper (F-measure and PR-AUC; the readers' mean as the paper's "average of
# surgeons"). The patient-clustered confidence intervals and tests between the models are on the
# statistics page (stage 6).

# %%
evaluate.headline_vs_paper(result.evaluation)

# %%
headline = result.headline()
store.write_metrics(out, headline, profile=profile, seed=seed, settings=dataclasses.asdict(settings),
                    seconds=time.perf_counter() - started, **result.details())
pd.Series(headline, name="value").to_frame()

# %% [markdown]
# The stage's headline (`metrics.json`): ROC-AUC, PR-AUC, F-measure, sensitivity and specificity of each
# model on all joints out of fold, the readers' mean F-measure and PR-AUC (empty without readers), the
# share of non-intact joints, and the number of joints with a contralateral twin.
