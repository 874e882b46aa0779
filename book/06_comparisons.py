# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {name: ra-book, display_name: Python (ra-book), language: python}
# ---

# %% [markdown]
# # Stage 6: Statistics across stages
#
# ```{admonition} What this reproduces
# The papers' comparisons, with the uncertainty they leave out, computed from the artifacts of stages 1-5
# alone: {cite}`miyama2022` Table 4 (sensitivity, specificity, F-measure and PR-AUC of SISO, the three MIMO
# models and three readers, for the finger joints, the wrist and all joints) with 95 % confidence intervals
# and tests against SISO; {cite}`resnet_dwise50` Sec. 4.2-4.4 (MAE, RMSE, Pearson r and the two-sided paired
# t-test of predicted against true score) with paired tests between the variants; {cite}`rohrbach2017`
# Table 2 (accuracy, class-normalised accuracy and class-normalised accuracy within one grade) with
# confidence intervals and McNemar tests between the remedies for class imbalance; and every headline number
# of the book beside the published one ({cite}`pacs_selection`, {cite}`nguyenba_ra2` too).
# **Different data**: the papers measured their patients; the default build of this book measures synthetic
# phantoms. Set the numbers side by side to compare scales and orderings, not to check a replication.
# ```

# %% tags=["parameters"]
manifest = "data_manifests/synthetic_quick.yaml"
profile = "quick"
seed = 0
artifacts = "_build/artifacts"
n_boot = None  # None: the profile's value (bootstrap replicates)
alpha = 0.05

# %% tags=["remove-cell"]
import time

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from ra_lib.core import artifacts as store
from ra_lib.stages.comparisons import pipeline as cmp
from ra_lib.evaluation import published
from ra_lib.core.artifacts import MissingArtifactError
from ra_lib.cohort.manifest import load_cohort
from ra_lib.core.profiles import resolve

settings = resolve(cmp.PROFILES, profile, n_boot=n_boot)
cohort = load_cohort(manifest)
out = store.stage_dir(cmp.STAGE, artifacts)
pd.set_option("display.precision", 3)
started = time.perf_counter()
book_values = []  # the book's headline numbers, gathered section by section
summary = {"profile": profile, "seed": seed, "n_boot": settings.n_boot, "alpha": alpha, "stages_missing": []}


def skipped(stage, error):
    summary["stages_missing"].append(stage)
    display(Markdown(cmp.missing_note(stage, error)))


# %% [markdown]
# ## How the uncertainty is computed
#
# The joints and hands of one patient are not independent draws: a patient with severe disease has many
# damaged joints at once. Every interval on this page is therefore a **patient-clustered bootstrap**: draw
# the patients with replacement, keep all their rows, recompute the number; the 2.5 % and 97.5 % quantiles of
# the replicates give the 95 % interval (percentile interval). A comparison of two models draws the same
# patients for both (paired), and its two-sided p-value is the share of replicates on the other side of
# zero. Several comparisons in one row of a table are adjusted with Holm's method. The smallest p-value
# a bootstrap of B replicates can give is 2 / (B + 1), so the `smoke` profile (B = 50) cannot show a
# significant difference after adjustment; `quick` uses 500 and `paper` 2,000 replicates.

# %% tags=["remove-cell"]
display(Markdown(f"This run: profile `{profile}`, {settings.n_boot} bootstrap replicates, alpha = {alpha}, "
                 f"seed {seed}."))

# %% [markdown]
# ## Paper 001 Table 4 with confidence intervals (stage 3)
#
# Stage 3's out-of-fold predictions of the four models (SISO: one joint; MIMO local: the same joint on both
# hands; MIMO one-hand: a joint group of one hand; MIMO both-hands: the group on both hands) and the
# cohort's readers, who re-graded the same joints (on the synthetic cohort: **simulated** readers, each with
# its own sensitivity and specificity, not radiologists). A joint is non-intact when its grade is at least
# 1; a model calls it non-intact when its probability is at least 0.5. Regions as in the paper: the finger
# joints (PIP-IP + MCP + CMC-M for erosion, PIP + MCP + CMC for JSN), the wrist, and all joints.

# %%
try:
    oof = cmp.load_oof(artifacts)
except MissingArtifactError as error:
    oof = None
    skipped(cmp.CLASSIFICATION, error)
if oof is not None:
    predictions = pd.concat([oof, cmp.reader_rows(cohort.readers, oof)], ignore_index=True)
    table4 = cmp.table4_ci(predictions, n_boot=settings.n_boot, seed=seed, alpha=alpha)
    store.write_table(table4, out / "table4_ci.csv")
    book_values += cmp.classification_values(table4)
    display(cmp.table4_wide(table4))

# %% [markdown]
# Each cell: estimate [95 % CI]. A `*` marks a significant difference from SISO on the same joints (paired
# bootstrap, Holm-adjusted over the models and readers of that row). PR-AUC is average precision (next
# section). The readers' mean is the mean of their estimates (the paper's "average of surgeons"), without an
# interval. `table4_ci.csv` holds every difference, its interval and both p-values.

# %%
if oof is not None:
    fig = cmp.plot_table4_forest(table4, published.table4())
    store.save_figure(fig, out / "table4_forest.png")
    plt.show()

# %% [markdown]
# Figure: forest plot of the table above; one line per region and model (circles) or reader (squares), the
# estimate with its 95 % patient-bootstrap interval; grey crosses are paper 001's published values for the
# same cell (its own patients, 8-fold cross-validation on 226 radiographs).

# %% [markdown]
# ### Beside the published Table 4
#
# The book's estimates next to the paper's for the four models, and the readers' mean next to the mean of
# the paper's three orthopaedic surgeons (different data, different readers).

# %%
if oof is not None:
    display(cmp.table4_vs_published(table4, published.table4()))

# %% [markdown]
# ### PR-AUC: average precision, not the trapezoid
#
# The book reports **average precision (AP)** as PR-AUC: the precision at each threshold times the recall
# gained there, a step-wise area (scikit-learn's `average_precision_score`). The other common reading joins
# the precision-recall points with straight lines and takes the trapezoidal area. Precision does not change
# linearly between two operating points, so the trapezoid is optimistic wherever the points are far apart:
# for tied or coarse scores and above all for a reader's yes/no calls, which have a single operating point
# joined to the (recall 0, precision 1) corner. With many distinct scores, as a model's probabilities, the two
# nearly agree. Paper 001 does not say which area it computed. Both, for SISO and for each reader:

# %%
if oof is not None:
    definitions = cmp.pr_auc_definitions(predictions)
    store.write_table(definitions, out / "pr_auc_definitions.csv")
    display(definitions)

# %% [markdown]
# ### Models against readers
#
# Each model against each reader on the same joints (all joints per kind): F-measures and their paired
# bootstrap difference, and McNemar's test of which of the two is right more often (`b`: only the model
# right, `c`: only the reader right); p-values Holm-adjusted within each kind.

# %%
if oof is not None:
    versus = cmp.reader_comparisons(predictions, regions=("all",), n_boot=settings.n_boot, seed=seed, alpha=alpha)
    store.write_table(versus, out / "model_vs_reader.csv")
    display(versus[["kind", "model", "reader", "n", "f_model", "f_reader", "f_diff", "f_diff_lower", "f_diff_upper",
                    "p_f_holm", "b", "c", "p_mcnemar_holm"]] if len(versus) else
            Markdown("*The cohort has no reader calls on the predicted joints.*"))

# %% [markdown]
# ## Paper 003: overall score (stage 5)
#
# Stage 5's predictions of the overall SvdH score on the test split, per variant: MAE and RMSE with
# patient-bootstrap intervals, Pearson r, and the paper's two-sided paired t-test of predicted against true
# score (mean difference with its 95 % t interval). As in the paper, p > 0.05 means no detectable
# systematic shift of the mean, not agreement: a model that predicts the mean for everyone passes it.

# %%
try:
    scores = cmp.load_score_predictions(artifacts)
except MissingArtifactError as error:
    scores = None
    skipped(cmp.OVERALL, error)
if scores is not None:
    agreement = cmp.score_agreement(scores, n_boot=settings.n_boot, seed=seed, alpha=alpha)
    store.write_table(agreement, out / "overall_agreement.csv")
    display(agreement)

# %% [markdown]
# Paired comparisons of the variants' absolute errors on the same test units (`mean_abs_diff` < 0: the
# first variant is closer to the truth): paired t-test and Wilcoxon signed-rank test, each Holm-adjusted
# over all pairs.

# %%
if scores is not None:
    errors = cmp.error_comparisons(scores)
    store.write_table(errors, out / "overall_error_comparisons.csv")
    display(errors)
    try:
        main_variant = cmp.load_metrics(cmp.OVERALL, artifacts).get("main_variant", cmp.DEFAULT_MAIN_VARIANT)
    except MissingArtifactError:
        main_variant = cmp.DEFAULT_MAIN_VARIANT
    book_values += cmp.overall_values(agreement, main_variant)

# %% [markdown]
# ## Paper 004 Table 2 with confidence intervals (stage 4)
#
# Stage 4's grades of the test split's joints (crops the detector flagged are left out, as in stage 4) per
# kind and method: (a) plain, (b) oversampling with augmentation, (c) class weights, and the majority-grade
# baseline. Class-normalised accuracy is the mean of the per-grade accuracies (paper 002 calls the same
# number balanced accuracy); "+-1" counts a prediction one grade off as right. Intervals resample patients.

# %%
try:
    grades = cmp.load_grade_predictions(artifacts)
except MissingArtifactError as error:
    grades = None
    skipped(cmp.GRADING, error)
if grades is not None:
    grading = cmp.grading_ci(grades, n_boot=settings.n_boot, seed=seed, alpha=alpha)
    store.write_table(grading, out / "grading_ci.csv")
    try:
        stage4 = cmp.load_metrics(cmp.GRADING, artifacts)
    except MissingArtifactError:
        stage4 = None
    book_values += cmp.grading_values(grading, stage4)
    display(cmp.grading_wide(grading))

# %% [markdown]
# McNemar's test on exact-grade correctness between every two methods on the same joints (`b`: only the
# first right, `c`: only the second right); exact binomial test below 25 discordant joints, else chi-square
# with continuity correction; Holm-adjusted within each kind.

# %%
if grades is not None:
    mcnemar = cmp.grading_mcnemar(grades)
    store.write_table(mcnemar, out / "grading_mcnemar.csv")
    display(mcnemar)

# %% [markdown]
# ## Stages 1 and 2: what their metrics say
#
# Stage 1 (image selection) and stage 2 (joint detection) report their headline numbers in `metrics.json`;
# they are read as they are, without intervals. For stage 2 the book's number is found by its key; the key
# used is shown in the last table, and every number stage 2 reported is listed here.

# %%
for stage, collect in ((cmp.SELECTION, cmp.selection_values), (cmp.DETECTION, cmp.detection_values)):
    try:
        stage_metrics = cmp.load_metrics(stage, artifacts)
    except MissingArtifactError as error:
        skipped(stage, error)
        continue
    book_values += collect(stage_metrics)
    if stage == cmp.DETECTION:
        display(cmp.leaves_table(stage_metrics))

# %% tags=["remove-cell"]
headline = cmp.headline_table(published.headline(), book_values)
store.write_table(headline, out / "headline.csv")
summary.update({
    "table4_all_joints": cmp.records(table4.loc[table4["region"] == "all", [
        "kind", "model", "metric", "estimate", "lower", "upper", "n", "n_pos", "diff", "p_holm", "significant"]])
    if oof is not None else None,
    "overall": cmp.records(agreement) if scores is not None else None,
    "grading": cmp.records(grading) if grades is not None else None,
    "headline": cmp.records(headline[["id", "value", "book", "book_lower", "book_upper", "book_source"]]),
    "stage_seconds": time.perf_counter() - started,
})
_ = store.write_json(summary, out / "metrics.json")

# %% [markdown]
# ## Headline: the book beside the papers
#
# Every headline number of the five papers, where it is printed, and the book's number for the same quantity
# on this build's cohort, with its 95 % interval where one is computed above ("not run": the stage's
# artifact is absent). **Different data**: the papers' patients against, on the default build, synthetic
# phantoms; scales differ too (paper 003 scores both hands, 0-280; stage 5 scores one hand, 0-140, unless
# its `unit` is `image`).

# %%
headline[["stage", "citation", "source", "quantity", "published", "book_value", "note", "book_source"]]
