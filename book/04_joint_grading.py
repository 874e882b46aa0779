# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {name: ra-book, display_name: Python (ra-book), language: python}
# ---

# %% [markdown]
# # Stage 4: Grading each joint
#
# ```{admonition} What this reproduces
# {cite}`nguyenba_ra2` (sections 4.2, 5.2, 6): each joint crop is graded by a classifier, JSN 0-4 and
# erosion 0-5, with an EfficientNet, oversampling of the rare grades (an imbalanced-dataset sampler), SGD
# (learning rate 0.001, momentum 0.9, L2 0.001 for JSN and 0.005 for erosion) and a 90 / 10 split; it
# reports accuracy and balanced accuracy (57.6 % / 60.1 % JSN, 17 % / 18.6 % erosion).
# {cite}`rohrbach2017` (sections 3.2-3.5): three remedies for the imbalance on the same data, (a) none,
# (b) oversampling with augmentation, (c) class weights, compared by accuracy, class-normalised accuracy
# and class-normalised accuracy within one grade (Table 2) and normalised confusion matrices (Fig. 6);
# and a regression of the eroded joint surface (0-100 %) with 101 sigmoid outputs, one per threshold of
# the cumulative distribution, trained with the CRPS, against a one-output regression (Table 3).
# Added: predictive medians and 80 % intervals per joint and a check of their calibration.
# ```

# %% tags=["parameters"]
manifest = "data_manifests/synthetic_quick.yaml"
profile = "quick"
seed = 0
artifacts = "_build/artifacts"
device = "auto"
epochs = None  # None: the profile's value (grading)
regression_epochs = None  # None: the profile's value
arch = None  # "tiny", "efficientnet_b0" or "efficientnet_b4" (the paper)
crop_size = None  # pixels of the square network input (paper 002: 224)
weights_path = None  # optional local ImageNet weights of the EfficientNet (paper 002 fine-tuned them)

# %% tags=["remove-cell"]
import time

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from ra_lib.core import artifacts as store
from ra_lib.stages.grading import cdf_regression as cdf
from ra_lib.stages.grading import pipeline as grading
from ra_lib.stages.detection.crops import load_crop_store
from ra_lib.cohort.manifest import load_cohort
from ra_lib.core.profiles import resolve
from ra_lib.core.training import select_device

STAGE = "04_joint_grading"
settings = resolve(grading.PROFILES, profile, epochs=epochs, regression_epochs=regression_epochs, arch=arch,
                   crop_size=crop_size, weights_path=weights_path)
dev = select_device(device)
cohort = load_cohort(manifest)
crops = load_crop_store(f"{artifacts}/02_joint_detection")
out = store.stage_dir(STAGE, artifacts)
pd.set_option("display.precision", 3)
started = time.perf_counter()

# %% [markdown]
# ## The crops and their grades
#
# Stage 2 cut one crop per hand and joint. Every scored site of every hand is a row to grade here; a crop
# the detector flagged (a missing or unlikely joint centre) never enters training or the metrics. Patients
# are split by the cohort's folds exactly as in stage 5: fold 0 is the test split, fold 1 validates (early
# stopping and the choice of the best epoch), the rest train. Stage 5 can therefore add up these grades
# per test hand and compare them with its direct regression. (Paper 002 held out 10 % and does not
# mention early stopping; paper 004 stopped its models early.)

# %%
data = grading.prepare_data(crops, cohort.scores, settings.crop_size, cohort.folds, settings.test_fold)
split_table = (data.rows.groupby(["kind", "split", "status"]).size().unstack("status", fill_value=0)
               .reindex(columns=["ok", "flagged", "no_crop"], fill_value=0))
display(Markdown(f"{data.counts['rows']} scored hand sites; {data.counts['flagged']} flagged crops and "
                 f"{data.counts['no_crop']} sites without a crop are excluded from training and metrics."))
split_table

# %%
fig = grading.plot_grade_counts(data)
store.save_figure(fig, out / "grade_counts.png")
plt.show()

# %% [markdown]
# Training crops per grade (log scale). Grade 0 dominates, as in both papers: a classifier that always
# answers 0 is right most of the time while recognising none of the damaged joints. That is why the
# papers report the *balanced* (class-normalised) accuracy, the mean over grades of the share graded
# correctly, for which the majority answer scores 1 / (number of grades).

# %%
for kind in ("jsn", "erosion"):
    fig = grading.plot_example_crops(data, kind, seed=seed)
    store.save_figure(fig, out / f"example_crops_{kind}.png")
    plt.show()

# %% [markdown]
# Network inputs of the training split, one row per grade (JSN above, erosion below): crops resized to
# the profile's input size and standardised per crop (zero mean, unit variance).
#
# ## Three remedies for the imbalance
#
# One classifier per kind for all its sites, trained three times from the same initial weights with the
# same optimiser (paper 002's SGD), so only the remedy differs: (a) the data as they are; (b) a sampler
# that draws each crop with probability proportional to 1 / (count of its grade), so every grade is drawn
# equally often, with random rotations up to 25 degrees, shears up to 0.1 rad and zooms up to 10 % (this is
# also paper 002's ImbalancedDatasetSampler); (c) the cross-entropy weighted so that weight x count is the
# same for every grade.

# %%
graded = grading.run_grading(data, settings, seed=seed, device=dev)
fig = grading.plot_learning_curves(graded.histories)
store.save_figure(fig, out / "learning_curves.png")
plt.show()

# %% [markdown]
# Loss per epoch on the training crops (solid) and on the validation crops (dashed); each network keeps
# its best validation epoch. For (b) and (c) the validation loss is the class-weighted cross-entropy
# (the balanced objective both remedies train for), so their levels are not comparable with (a)'s.

# %%
table = grading.grading_metrics(graded.predictions)
check = grading.learning_check(table)
table.assign(method=table["method"].map(grading.METHOD_LABELS))

# %% [markdown]
# Test-split accuracy, balanced accuracy (= class-normalised accuracy) and class-normalised accuracy
# within one grade, against the majority-grade baseline. Paper 004 Table 2 (erosion stages) for comparison:

# %%
pd.DataFrame(grading.PAPER_004_TABLE2).T.rename(index=grading.METHOD_LABELS)

# %%
learned = check[check["learns"]]
not_learned = check[~check["learns"]]
lines = [f"- {row.kind}: best balanced accuracy {row.best_balanced_accuracy:.3f} "
         f"({grading.METHOD_LABELS[row.best_method]}) against {row.baseline_balanced_accuracy:.3f} for the "
         f"majority grade" for row in check.itertuples()]
verdict = ("Every kind beats the majority-grade baseline." if not_learned.empty else
           f"No remedy beats the majority-grade baseline for {', '.join(not_learned['kind'])}: with this "
           f"profile's {settings.epochs} epoch(s) on {settings.crop_size}-px crops the network has not learnt to "
           f"tell the grades apart.")
display(Markdown("\n".join(lines) + "\n\n" + verdict))

# %%
matrices = grading.confusion_matrices(graded.predictions)
for kind in ("jsn", "erosion"):
    fig = grading.plot_confusion_matrices(matrices, kind)
    store.save_figure(fig, out / f"confusion_{kind}.png")
    plt.show()

# %% [markdown]
# Row-normalised confusion matrices of the test split (as paper 004 Fig. 6): each row is one true grade and
# sums to 1, so the diagonal is the per-grade accuracy whose mean is the balanced accuracy. Oversampling
# and class weights move predictions away from grade 0 towards the rare grades.
#
# Paper 002 reports 57.6 % accuracy and 60.1 % balanced accuracy for JSN, 17 % and 18.6 % for erosion
# (on feet and hands pooled, which it blames for part of the erosion result). Its balanced accuracy is the
# accuracy on a validation set resampled to equal grades, whose expectation is the mean per-grade accuracy
# used here; its model is remedy (b).

# %%
pd.DataFrame(grading.PAPER_002).T

# %% [markdown]
# ## The eroded surface as a distribution
#
# Paper 004 regresses the percentage of eroded joint surface (0-100; its Table 1 maps it to the six
# Ratingen stages, which the synthetic cohort ties to the SvdH erosion grade). Its network ends in 101
# sigmoids, output k the probability P(y >= k) that the eroded surface reaches k %, trained with the
# discrete continuous ranked probability score
#
# ```text
# CRPS = 1 / (101 N) · Σ_n Σ_{k=0..100} ( P(y_n ≥ k) − 1[R_n ≥ k] )²
# ```
#
# the squared distance between the predicted curve and the step at the true value R_n (paper 004 writes
# the step as H(k − R_n), the form that goes with P(y ≤ k); for integer targets the two sums are the
# same terms, shifted by one threshold). The baseline has one output trained with the squared error. The 101
# sigmoids are independent, so a predicted curve can rise somewhere; before reading medians and intervals
# each curve is *rearranged* (sorted into decreasing order, which never moves it further from a decreasing
# truth) and P(y >= 0) is set to 1.

# %%
cdf.stage_table(data)

# %% [markdown]
# The cohort's erosion grades against the Ratingen stages of its eroded-surface percentages (paper 004
# Table 1: stage 0 normal, then one stage per 20 % of eroded surface); off-diagonal counts would mean the
# two scores disagree.

# %%
if cdf.has_targets(data):
    regressed = cdf.run_cdf_regression(data, settings, seed=seed, device=dev)
    regression_table = cdf.regression_metrics(regressed)
    display(regression_table)
else:
    regressed, regression_table = None, pd.DataFrame()
    display(Markdown("The cohort has no eroded-surface percentages (`eroded_pct`): the regression is skipped."))

# %% [markdown]
# Test-split mean squared and absolute error of the predictive mean (paper 004 Table 3), the absolute error
# of the median, the CRPS (the point forecast of the one-output model counts as a step), the share of true
# values inside the 80 % interval, and how often and how much the raw curves rose somewhere (the share of
# curves that needed the rearrangement and their largest step upwards, averaged).
# Paper 004's Table 3 (the CDF model trained (a) plain, (b) oversampled, (c) class-weighted) for comparison;
# it reports that the CDF head improved the MSE slightly over one output:

# %%
pd.DataFrame(cdf.PAPER_004_TABLE3).T

# %%
if regressed is not None:
    fig = cdf.plot_survival_examples(regressed, seed=seed)
    store.save_figure(fig, out / "survival_examples.png")
    plt.show()
    display(Markdown("Predicted P(y >= k) of six test joints spread over the range of true values, with the "
                     "median (dotted), the 80 % interval (shaded) and the true eroded surface (red)."))
    fig = cdf.plot_predicted_vs_true(regressed)
    store.save_figure(fig, out / "predicted_vs_true.png")
    plt.show()
    display(Markdown("Predicted median against true eroded surface on the test split (the one-output model's "
                     "single value); bars: the CDF head's 80 % interval. The dashed line is perfect agreement."))
    fig = cdf.plot_pit(cdf.pit(regressed, seed=seed))
    store.save_figure(fig, out / "pit.png")
    plt.show()
    coverage = regression_table.set_index("method").loc[cdf.CDF, "coverage_80"]
    display(Markdown("Calibration: the (randomised) probability integral transform of each true value under "
                     "its predicted distribution. Calibrated forecasts give a flat histogram (dashed); a "
                     "U shape means intervals too narrow, a hump too wide, a slope towards 1 predictions too "
                     f"low. {coverage:.0%} of the test joints lie inside their 80 % interval."))

# %% tags=["remove-cell"]
store.write_table(graded.predictions, out / "grade_predictions.csv")
if regressed is not None:
    store.write_table(regressed.predictions, out / "cdf_predictions.csv")
metrics_path = store.write_json({
    "profile": profile, "arch": settings.arch, "crop_size": settings.crop_size, "epochs": settings.epochs,
    "regression_epochs": settings.regression_epochs, "counts": data.counts,
    "grading_test": table.to_dict("records"), "learning_check": check.to_dict("records"),
    "regression_test": regression_table.to_dict("records"),
    "train_seconds": {"grading": float(graded.timings["seconds"].sum()),
                      "regression": float(regressed.timings["seconds"].sum()) if regressed is not None else 0.0},
    "stage_seconds": time.perf_counter() - started,
}, out / "metrics.json")

# %% [markdown]
# ## Headline
#
# Test-split balanced accuracy of each remedy and the majority baseline (paper 002's and paper 004's
# criterion), per kind; `grade_predictions.csv` holds every method's grade distribution for every site
# of every hand (flagged crops get the training grade frequencies, marked `imputed`), and
# `cdf_predictions.csv` the eroded-surface median and 80 % interval per erosion site.

# %%
grading.headline_table(table)
