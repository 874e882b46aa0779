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
# Figs. 3, 6 and 7): every detected joint is classified as intact (SvdH grade 0) or non-intact
# (grade >= 1), for erosion and joint space narrowing (JSN) separately, by four networks that differ
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
epochs = None  # None: the profile's value (the paper: at most 100)
test_folds = None  # None: the profile's value; a list of folds to predict (all folds: full coverage)
crop_size = None  # side of the network input in pixels (the paper: VGG16's 224)
backbone = None  # "small" (CPU) or "vgg16" (the paper)
weights_path = None  # optional local ImageNet VGG16 weights (.pth); nothing is downloaded

# %% tags=["remove-cell"]
import time

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from ra_lib.core import artifacts as store
from ra_lib.stages.classification import pipeline as clf
from ra_lib.evaluation.readers import reader_rows
from ra_lib.evaluation import published
from ra_lib.stages.classification.models import MODEL_LABELS, MODEL_TYPES, n_inputs
from ra_lib.stages.detection.crops import load_crop_store
from ra_lib.cohort.folds import rotation
from ra_lib.cohort.manifest import load_cohort
from ra_lib.core.profiles import resolve
from ra_lib.cohort.sites import GROUPS, sites_in_group
from ra_lib.core.training import select_device

settings = resolve(clf.PROFILES, profile, epochs=epochs, test_folds=test_folds, crop_size=crop_size,
                   backbone=backbone, weights_path=weights_path)
dev = select_device(device)
cohort = load_cohort(manifest)
crops = load_crop_store(f"{artifacts}/02_joint_detection")
visits = clf.visits_from_images(cohort.images)
out = store.stage_dir(clf.STAGE, artifacts)
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
inputs = pd.DataFrame([{"kind": kind, "group": group, "sites": len(sites_in_group(kind, group)),
                        **{MODEL_LABELS[m]: n_inputs(m, len(sites_in_group(kind, group))) for m in MODEL_TYPES}}
                       for kind in GROUPS for group in GROUPS[kind]])
inputs

# %% [markdown]
# Table: crops per sample (= outputs per sample) of each model and joint group.
#
# ## The joints
#
# Each usable crop of stage 2 is one joint to classify: crops that stage 2 flagged (a missing or
# unlikely joint centre) and joints without a grade are left out. Left hands arrive mirrored to the
# right-hand orientation. The two hands of a patient are paired by visit (one both-hands radiograph, or a
# left and a right radiograph of the same day); when a hand or a crop is missing, the MIMO models get a
# blank image in its place, the missing target is left out of the loss and no prediction is made for it,
# so every model is scored on the same joints.

# %%
joint_tables = {kind: clf.joint_table(crops.index, cohort.folds, kind, visits) for kind in settings.kinds}
data = pd.concat([joints.groupby("group", sort=False)["label"].agg(joints="size", non_intact="sum")
                  .reset_index().assign(kind=kind) for kind, (joints, _) in joint_tables.items()])
data = data.assign(prevalence=data["non_intact"] / data["joints"])[["kind", "group", "joints", "non_intact",
                                                                     "prevalence"]]
display(Markdown("; ".join(f"{kind}: {c['used']} joints used, {c['flagged']} flagged and {c['ungraded']} "
                           f"ungraded crops left out" for kind, (_, c) in joint_tables.items()) + "."))
data

# %% [markdown]
# Joints and the share non-intact per group (compare the paper's Table 2: about 11-13 % of PIP-IP and MCP
# erosions, half of the wrist).
#
# ## Training as the paper
#
# The patients are split into eight disjoint folds. For each test fold, the next fold validates (early
# stopping) and the remaining six train, so every fold is tested once:

# %%
fold_ids = sorted(cohort.folds["fold"].unique())
run_folds = fold_ids if settings.test_folds is None else list(settings.test_folds)
pd.DataFrame([dict(zip(("train folds", "validation fold", "test fold"), rotation(fold_ids, f))) for f in run_folds])

# %% [markdown]
# Both the training and the validation folds are balanced by geometric augmentation: rotations of up to
# +-3 degrees, shifts of up to +-5 pixels (of the paper's 224-pixel input, scaled to ours) and scaling by
# 0.97-1.03, applied to copies of crops of the smaller class until both classes are equally frequent
# (the paper: about 10,000 training images; `train_size` below, counted in crops). For a MIMO sample, the
# class is "contains a non-intact joint": samples of the smaller of the two sample classes are copied. The
# loss is the binary cross-entropy summed over a sample's outputs, the optimiser Adam, and the weights of
# the epoch with the lowest validation loss are kept. Settings of this run:

# %%
pd.Series({k: v for k, v in vars(settings).items()}, name="value").astype(str).to_frame()

# %% [markdown]
# The paper fine-tuned an ImageNet VGG16 on 224-pixel crops and tuned the fully connected depth, their
# initialisation, dropout and batch size per model and group (its Tables S1 and S2, not in our copy of
# the paper); the `paper` profile uses VGG16 with one setting for all. The `quick` profile must run on two
# CPU cores in a few minutes, so it trains a small VGG-style network (three 3x3 convolution blocks with
# batch normalisation) from scratch on 32-pixel crops for a few epochs, and predicts only the test folds
# listed above: the tables below then cover those folds' patients, not the whole cohort.

# %%
result = clf.run_cv(crops.images, crops.index, cohort.folds, settings, seed=seed, device=dev, visits=visits)
store.write_table(result.oof, out / "oof_predictions.csv")
store.write_table(result.runs, out / "runs.csv")
store.write_table(result.history, out / "history.csv")
masked = pd.DataFrame([{"kind": key.split("/")[0], "group": key.split("/")[1], "model": MODEL_LABELS[key.split("/")[2]],
                        **value} for key, value in result.counts.items() if "/" in key])
masked_total = masked.groupby("model", sort=False)[["samples", "masked_inputs", "samples_missing_hand"]].sum()
masked_total

# %% [markdown]
# Samples per model over all groups; `masked_inputs` counts the blank inputs standing in for a flagged
# crop or an unimaged hand, `samples_missing_hand` the MIMO local / both-hands samples with one hand
# missing altogether. None of them is dropped.

# %%
clf.training_summary(result.runs)

# %% [markdown]
# Trainings per kind and model, mean epochs run (early stopping) and the epoch whose weights were kept,
# mean balanced training samples and total training seconds.
#
# ## Table 4: models and readers
#
# The readers of the cohort graded the same joints independently; a reader's call is non-intact when
# the grade is >= 1, and the reader is scored on the joints the models predicted. Decisions of the
# models are probability >= 0.5. PR-AUC is the average precision (`ra_lib.evaluation.metrics.average_precision`);
# for a reader's 0/1 calls it is the area under a two-point curve. "finger" is PIP-IP + MCP + CMC-M for
# erosion and PIP + MCP + CMC for JSN, as the paper.

# %%
readers = reader_rows(cohort.readers, result.oof)
evaluation = clf.evaluation_table(pd.concat([result.oof, readers], ignore_index=True), settings.threshold)
store.write_table(evaluation, out / "table4.csv")
clf.table4(evaluation)

# %% [markdown]
# Sensitivity, specificity, F-measure, PR-AUC and the share of non-intact joints (prevalence, the PR-AUC of
# a constant score) per kind and region; an empty cell is undefined (no non-intact joint in that block).
# The paper's Table 4 for comparison (226 radiographs of 40 patients, different data):

# %%
paper = published.table4()
paper.pivot_table(index=["kind", "region", "metric"], columns="label", values="value", sort=False)[
    list(published.TABLE4_COLUMNS.values())]

# %% [markdown]
# ## Precision-recall curves (Fig. 6)

# %%
curves = clf.pr_curves(result.oof)
fig = clf.plot_pr_curves(curves, evaluation)
store.save_figure(fig, out / "pr_curves.png")
plt.show()

# %% [markdown]
# Figure: precision against recall of the four models for each kind (rows) and region (columns), the
# paper's Fig. 6, with each model's average precision (AP) in the corner, each reader's single operating
# point (open markers) and the prevalence (dotted), the precision of a model that cannot tell the joints
# apart.
#
# ## One patient's joints (Fig. 7)

# %%
hands = clf.showcase_hands(result.oof, crops.index)
outcomes = clf.joint_outcomes(result.oof, crops.index, hands, settings.threshold)
image_ids = outcomes["image_id"].dropna().unique()
patient = result.oof.loc[result.oof["hand_id"].isin(hands), "patient"].iloc[0] if hands else None
fig = clf.plot_joint_outcomes(outcomes, cohort.load_image(image_ids[0]) if len(image_ids) == 1 else None)
store.save_figure(fig, out / "joint_outcomes.png")
plt.show()
display(Markdown(f"Patient `{patient}`, {len(hands)} hand(s) of one radiograph, test fold "
                 f"{result.oof.loc[result.oof['hand_id'].isin(hands), 'fold'].iloc[0] if hands else '-'}."))

# %% [markdown]
# Figure: the joints of one test radiograph (one with both hands where there is one, and the most damaged),
# the paper's Fig. 7, erosion (top) and JSN (bottom) for each model: each joint centre coloured by the
# outcome, blue true positive (non-intact, called non-intact), white true negative, red false negative
# (non-intact, called intact), yellow false positive.

# %% [markdown]
# ## Per joint group

# %%
by_group = clf.evaluation_table(result.oof, settings.threshold, by="group")
store.write_table(by_group, out / "metrics_by_group.csv")
by_group.assign(model=by_group["model"].map(MODEL_LABELS))[
    ["kind", "group", "model", "n", "prevalence", "sensitivity", "specificity", "f_measure", "average_precision"]]

# %% [markdown]
# The same numbers per joint group, the level at which each model was trained.
#
# ## Did the models learn?

# %%
check = clf.learning_check(evaluation)
overall = check[check["region"] == "all"]
siso = overall[overall["model"] == "siso"]
lines = [f"- {row.kind}: SISO PR-AUC {row.pr_auc:.2f} against a prevalence of {row.prevalence:.2f}"
         for row in siso.itertuples()]
group_check = clf.learning_check(by_group)
stuck = group_check.groupby(["kind", "group"])["learns"].any()
stuck = stuck[~stuck]
verdict = ("SISO beats the constant score on all joints of both kinds."
           if siso["learns"].all() else
           f"SISO does not beat the constant score for {', '.join(siso.loc[~siso['learns'], 'kind'])}: with "
           f"{settings.epochs} epoch(s) on {settings.crop_size}-pixel crops the network has not learnt that kind.")
if len(stuck):
    verdict += (" No model beats the prevalence in " + ", ".join(f"{k} {g}" for k, g in stuck.index) +
                ": there the network found no usable sign of damage in this run.")
scored = overall.dropna(subset=["pr_auc"])
best = scored.loc[scored.groupby("kind")["pr_auc"].idxmax()]
ranking = "; ".join(f"{row.kind} {MODEL_LABELS[row.model]} ({row.pr_auc:.2f})" for row in best.itertuples())
display(Markdown("\n".join(lines) + "\n\n" + verdict + f"\n\nHighest PR-AUC on all joints in this run: {ranking}; "
                 "in the paper MIMO local (erosion 0.73, JSN 0.85)."))

# %% [markdown]
# A MIMO model sees fewer distinct training samples than SISO: SISO has one per joint, MIMO one-hand one
# per hand and group, MIMO both-hands one per hand pair and group, and each MIMO sample has several labels
# to fit at once. The paper found MIMO both-hands the weakest for that reason ("increasing the number of
# input joints requires a combinatorial increase of training data"). On a small cohort and with the few
# epochs of the `quick` profile the MIMO models can therefore trail SISO, unlike in the paper, where the
# contralateral comparison of MIMO local helped most.

# %% [markdown]
# ## Headline
#
# All joints, our run beside the paper (F-measure and PR-AUC; the readers' mean as the paper's "average of
# surgeons"). The patient-clustered confidence intervals and tests between the models are on the
# statistics page (stage 6).

# %%
ours = evaluation[evaluation["region"] == "all"]
ours = ours[ours["model"].isin(list(MODEL_TYPES) + ["mean of readers"])]
paper_all = paper[(paper["region"] == "all") & paper["metric"].isin(["f_measure", "pr_auc"])].assign(
    model=lambda t: t["column"].replace({"surgeon mean": "mean of readers"}))
paper_all = paper_all.pivot_table(index=["kind", "model"], columns="metric", values="value")
headline = ours.set_index(["kind", "model"])[["f_measure", "average_precision", "prevalence"]].rename(
    columns={"average_precision": "pr_auc"}).join(paper_all, rsuffix="_paper")
metrics = clf.headline(evaluation, result)
metrics.update(profile=profile, seed=seed, test_folds=run_folds, seconds=time.perf_counter() - started)
store.write_json(metrics, out / "metrics.json")
headline.rename(index=MODEL_LABELS, level="model")
