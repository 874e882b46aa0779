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
# {cite}`nguyenba_ra2` (sections 4.2, 5.2, 6; an entry to the RA2-DREAM challenge {cite}`sun2022ra2dream`,
# whose hand and foot radiographs it graded): each joint crop is graded by a classifier, JSN 0-4 and
# erosion 0-5, with an EfficientNet, oversampling of the rare grades (an imbalanced-dataset sampler), SGD
# (learning rate 0.001, momentum 0.9, L2 0.001 for JSN and 0.005 for erosion) and a 90 / 10 split; it
# reports accuracy and balanced accuracy (57.6 % / 60.1 % JSN, 17 % / 18.6 % erosion).
# {cite}`rohrbach2017` (sections 3.2-3.5): three remedies for the imbalance on the same data, (a) none,
# (b) oversampling with augmentation, (c) class weights, compared by accuracy, class-normalised accuracy
# and class-normalised accuracy within one grade (Table 2) and normalised confusion matrices (Fig. 6);
# and a regression of the eroded joint surface (0-100 %) with 101 sigmoid outputs, one per threshold of
# the cumulative distribution, trained with the CRPS, against a one-output regression (Table 3).
# Added: predictive medians and 80 % intervals per joint, a check of their calibration, and the same
# CRPS-trained distribution over the grades themselves (an ordinal regression that needs no percentages).
# ```

# %% tags=["parameters"]
manifest = "data_manifests/synthetic_quick.yaml"
profile = "quick"
seed = 0
artifacts = "_build/artifacts"
device = "auto"
epochs = None  # None: the profile's value (grading classifiers)
regression_epochs = None  # None: the profile's value (every CDF head and the one-output regression)
arch = None  # "tiny", "efficientnet_b0" or "efficientnet_b4" (the paper)
width = None  # channels of the tiny network's first layer
crop_size = None  # pixels of the square network input (paper 002: 224)
batch_size = None
lr = None  # SGD learning rate of the classifiers (paper 002: 0.001)
regression_lr = None  # Adam learning rate of the regressions (paper 004: 0.001)
patience = None  # epochs without a better validation loss before stopping
test_fold = None  # the cohort fold that tests; the next one validates
grade_cdf = None  # also fit the CDF head on the grades
threads = None  # torch CPU threads while training
weights_path = None  # optional local ImageNet weights of the EfficientNet (paper 002 fine-tuned them)

# %% tags=["remove-cell"]
import dataclasses

import pandas as pd
from IPython.display import Markdown, display

from ra_lib.cohort.cohort import load_cohort
from ra_lib.core import artifacts as store
from ra_lib.core import plots
from ra_lib.core.bundles import BUNDLE_DIR
from ra_lib.core.profiles import resolve
from ra_lib.core.training import select_device
from ra_lib.evaluation import published
from ra_lib.stages import grading
from ra_lib.stages.detection.crops import read_crop_store
from ra_lib.stages.grading import evaluate, figures
from ra_lib.stages.grading.settings import CDF, CDF_GRADES, METHOD_LABELS

settings = resolve(grading.PROFILES, profile, epochs=epochs, regression_epochs=regression_epochs, arch=arch,
                   width=width, crop_size=crop_size, batch_size=batch_size, lr=lr, regression_lr=regression_lr,
                   patience=patience, test_fold=test_fold, grade_cdf=grade_cdf, threads=threads,
                   weights_path=weights_path)
dev = select_device(device)
cohort = load_cohort(manifest)
crops = read_crop_store(artifacts)
out = store.stage_dir(grading.STAGE, artifacts)
pd.set_option("display.precision", 3)

# %% [markdown]
# ## The crops and their grades
#
# Stage 2 cut one crop per hand and joint. Every scored site of every hand is a row to grade here; a crop
# the detector flagged (a missing or unlikely joint centre) never enters training or the metrics. Patients
# are split by the cohort's folds exactly as in stage 5: the profile's test fold is the test split, the
# next fold validates (early stopping and the choice of the best epoch), the rest train. Stage 5 can
# therefore add up these grades per test hand and compare them with its direct regression. (Paper 002
# held out 10 % and does not mention early stopping; paper 004 stopped its models early.) One call trains
# every model of this page. The graders of remedy (b), oversampling with augmentation, give chapter 7 the
# most likely grade of each joint of new radiographs; the CDF head on the grades (below) gives its grade
# distribution, whose expected grades stage 5 and chapter 7 add up to a hand's score, because the remedies
# overstate every joint's damage when their grades are summed. Both are kept as a model bundle in `bundle/`:

# %%
result = grading.run(cohort, settings, seed=seed, device=dev, crop_store=crops, bundle_dir=out / BUNDLE_DIR)
data = result.data
display(Markdown(f"{data.counts['rows']} scored hand sites; {data.counts['flagged']} flagged crops and "
                 f"{data.counts['no_crop']} sites without a crop are excluded from training and metrics."))
data.split_table()

# %%
plots.show(figures.plot_grade_counts(data),
           "Bar chart on a log scale of the training crops per JSN and erosion grade, dominated by grade 0.",
           out / "grade_counts.png")

# %% [markdown]
# Training crops per grade (log scale). Grade 0 dominates, as in both papers: a classifier that always
# answers 0 is right most of the time while recognising none of the damaged joints. That is why the
# papers report the *balanced* (class-normalised) accuracy, the mean over the $C$ grades present of the
# share graded correctly,
#
# $$\mathrm{acc}_{\mathrm{bal}} = \frac{1}{C} \sum_{c} \frac{\#\{n : \hat g_n = c,\ g_n = c\}}{\#\{n : g_n = c\}},$$
#
# for which the majority answer scores $1 / C$. Paper 004's class-normalised accuracy is the same number
# (both names are in the headline); its "$\pm 1$" variant counts a prediction within one grade as right.

# %%
for kind in ("jsn", "erosion"):
    plots.show(figures.plot_example_crops(data, kind, seed=seed),
               f"Grid of standardised {kind.replace('jsn', 'JSN')} network inputs from the training "
               "split, one row per grade.", out / f"example_crops_{kind}.png")

# %% [markdown]
# Network inputs of the training split, one row per grade (JSN above, erosion below): crops resized to
# the profile's input size and standardised per crop (zero mean, unit variance).
#
# ## Three remedies for the imbalance
#
# One classifier per kind for all its sites, trained three times from the same initial weights with the
# same optimiser (paper 002's SGD), so only the remedy differs: (a) the data as they are; (b) a sampler
# that draws each crop with probability proportional to $1 / n_c$, the inverse count of its grade $c$, so
# every grade is drawn equally often, with random rotations up to 25 degrees, shears up to 0.1 rad and
# zooms up to 10 % (this is also paper 002's ImbalancedDatasetSampler); (c) the cross-entropy weighted
# with $w_c = N / (C\, n_c)$, so that $w_c\, n_c$ is the same for every grade.

# %%
plots.show(figures.plot_learning_curves(result.remedies.histories),
           "Line plots of the training (solid) and validation (dashed) loss per epoch of the three imbalance "
           "remedies for JSN and erosion.", out / "learning_curves.png")

# %% [markdown]
# Loss per epoch on the training crops (solid) and on the validation crops (dashed); each network keeps
# its best validation epoch. For (b) and (c) the validation loss is the class-weighted cross-entropy
# (the balanced objective both remedies train for), so their levels are not comparable with (a)'s.

# %%
table = result.grading_table()
table.assign(method=table["method"].map(METHOD_LABELS))

# %% [markdown]
# Test-split accuracy, balanced accuracy (= class-normalised accuracy), class-normalised accuracy within
# one grade and the root mean squared error of the predicted grade, against the majority-grade baseline.
# The papers' numbers beside this run's (`book`, the same headline name): paper 002 measured hands and
# feet pooled on a validation set, paper 004 the six Ratingen erosion stages of its test set.

# %%
evaluate.published_comparison(result.headline())

# %%
display(Markdown(evaluate.learning_summary(evaluate.learning_check(table), settings)))

# %%
matrices = evaluate.confusion_matrices(result.predictions)
for kind in ("jsn", "erosion"):
    plots.show(figures.plot_confusion_matrices(matrices, kind),
               f"Row-normalised {kind.replace('jsn', 'JSN')} confusion matrices of the test split, "
               "true grade against predicted grade, one per imbalance remedy.",
               out / f"confusion_{kind}.png")

# %% [markdown]
# Row-normalised confusion matrices of the test split (as paper 004 Fig. 6): each row is one true grade and
# sums to 1, so the diagonal is the per-grade accuracy whose mean is the balanced accuracy. Oversampling
# and class weights move predictions away from grade 0 towards the rare grades.
#
# Paper 002 reports 57.6 % accuracy and 60.1 % balanced accuracy for JSN, 17 % and 18.6 % for erosion
# (on feet and hands pooled, which it blames for part of the erosion result). Its balanced accuracy is the
# accuracy on a validation set resampled to equal grades, whose expectation is the mean per-grade accuracy
# used here; its model is remedy (b).
#
# ## The eroded surface as a distribution
#
# Paper 004 regresses the percentage of eroded joint surface (0-100; its Table 1 maps it to the six
# Ratingen stages, which the synthetic cohort ties to the SvdH erosion grade). Its network ends in 101
# sigmoids, output $k$ the probability $S_n(k) = P(y_n \ge k)$ that the eroded surface of joint $n$
# reaches $k$ %, trained with the discrete continuous ranked probability score
#
# $$\mathrm{CRPS} = \frac{1}{101\, N} \sum_{n=1}^{N} \sum_{k=0}^{100} \bigl(S_n(k) - \mathbb{1}[R_n \ge k]\bigr)^2,$$
#
# the squared distance between the predicted curve and the step at the true value $R_n$ (paper 004 writes
# the step as $H(k - R_n)$, the form that goes with $P(y \le k)$; for integer targets the two sums are the
# same terms, shifted by one threshold). The baseline has one output trained with the squared error. The
# 101 sigmoids are independent, so a predicted curve can rise somewhere; before reading medians and
# intervals each curve is *rearranged* (sorted into decreasing order, which never moves it further from a
# decreasing truth) and $S_n(0)$ is set to 1. The predictive mean is $\hat y_n = \sum_{k \ge 1} S_n(k)$.

# %%
if result.regression is None:
    display(Markdown("The cohort has no eroded-surface percentages (`eroded_pct`) on its training crops: "
                     "the regression of the eroded surface (paper 004 Table 3) is skipped; the grades' own "
                     "distribution is fitted in the next section."))
else:
    display(evaluate.stage_table(data))
    display(Markdown("The cohort's erosion grades against the Ratingen stages of its eroded-surface "
                     "percentages (paper 004 Table 1: stage 0 normal, then one stage per 20 % of eroded "
                     "surface); off-diagonal counts would mean the two scores disagree."))
    regression_table = result.regression_table()
    display(regression_table)
    display(Markdown("Test-split mean squared and absolute error of the predictive mean (paper 004 Table 3), "
                     "the absolute error of the median, the CRPS (the point forecast of the one-output model "
                     "counts as a step), the share of true values inside the 80 % interval, and how often and "
                     "how much the raw curves rose somewhere (the share of curves that needed the "
                     "rearrangement and their largest step upwards, averaged). Paper 004's Table 3 (the CDF "
                     "model trained (a) plain, (b) oversampled, (c) class-weighted) for comparison; it reports "
                     "that the CDF head improved the MSE slightly over one output:"))
    display(pd.DataFrame(published.GRADING_TABLE3).T)
    plots.show(figures.plot_survival_examples(result.regression, CDF),
               "Curves of the predicted probability that the eroded surface reaches k % for six test joints, with "
               "median, 80 % interval and true value marked.", out / "survival_examples.png")
    display(Markdown("Predicted $P(y \\ge k)$ of six test joints spread over the range of true values, with "
                     "the median (dotted), the 80 % interval (shaded) and the true eroded surface (red)."))
    plots.show(figures.plot_predicted_vs_true(result.regression),
               "Scatter plots of the predicted median against the true eroded surface of the test joints for the "
               "CDF head, with its 80 % intervals as bars, and the one-output regression; the identity dashed.",
               out / "predicted_vs_true.png")
    display(Markdown("Predicted median against true eroded surface on the test split (the one-output "
                     "model's single value); bars: the CDF head's 80 % interval. The dashed line is perfect "
                     "agreement."))
    plots.show(figures.plot_pit(evaluate.pit(result.regression, CDF, seed=seed)),
               "Histogram of the probability integral transform of the true eroded surfaces under their predicted "
               "distributions, against the flat line of calibrated forecasts.", out / "pit.png")
    display(Markdown("Calibration: the (randomised) probability integral transform of each true value under "
                     "its predicted distribution. Calibrated forecasts give a flat histogram (dashed); a "
                     "U shape means intervals too narrow, a hump too wide, a slope towards 1 predictions too "
                     f"low. {evaluate.coverage(regression_table, CDF):.0%} of the test joints lie inside "
                     "their 80 % interval."))

# %% [markdown]
# ## The grades as a distribution
#
# The same CDF head fits the grades themselves, which every cohort has: for a kind with grades
# $0, \dots, K-1$ ($K = 6$ for erosion, 5 for JSN) the network ends in $K$ sigmoids $S_n(k) = P(g_n \ge k)$,
# trained with
#
# $$\mathrm{CRPS} = \frac{1}{K N} \sum_{n=1}^{N} \sum_{k=0}^{K-1} \bigl(S_n(k) - \mathbb{1}[g_n \ge k]\bigr)^2,$$
#
# an ordinal regression: predicting grade 3 for a true 4 costs less than predicting 0, which the
# cross-entropy of the classifiers does not see. It reports a predictive distribution per joint; the
# RMSE is that of its mean $\hat g_n = \sum_{k \ge 1} S_n(k)$, in grades like the classifiers' RMSE.

# %%
if not result.grade_cdf:
    display(Markdown("The grade CDF heads are switched off in this profile (`grade_cdf`) or the cohort has no "
                     "training crops with grades: this section is skipped."))
else:
    display(result.grade_cdf_table())
    for kind, fitted in result.grade_cdf.items():
        plots.show(figures.plot_survival_examples(fitted, CDF_GRADES),
                   f"Step curves of the predicted probability that the {kind.replace('jsn', 'JSN')} grade is "
                   "at least k for six test joints, with median, 80 % interval and true grade marked.",
                   out / f"grade_survival_examples_{kind}.png")
    display(Markdown("Test-split RMSE and MAE of the predictive mean grade, the CRPS (averaged over the $K$ "
                     "thresholds, so on the same scale for both kinds) and the 80 % interval coverage; the "
                     "figures show the predicted $P(g \\ge k)$ of six test joints per kind (erosion, then "
                     "JSN) with their median, interval and true grade."))

# %% tags=["remove-cell"]
result.write_tables(out)
metrics_path = store.write_metrics(out, result.headline(), profile=profile, seed=seed,
                                   settings=dataclasses.asdict(settings), **result.details())

# %% [markdown]
# ## Headline
#
# Test-split criteria of each remedy and the majority baseline (paper 002's and paper 004's), per kind;
# `grade_predictions.csv` holds every method's grade distribution for every site of every hand (flagged
# crops get the training grade frequencies, marked `imputed`), `cdf_predictions.csv` the eroded-surface
# median and 80 % interval per erosion site, and `grade_cdf_predictions.csv` the grade distributions of
# the CDF heads.

# %%
evaluate.headline_table(table)
