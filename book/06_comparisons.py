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
# and tests against SISO; {cite}`resnet_dwise50` Sec. 4.2-4.4 (MAE, RMSE, Pearson $r$ and the two-sided paired
# $t$-test of predicted against true score) with paired tests between the variants; {cite}`rohrbach2017`
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
alpha = None  # None: the profile's value (1 - confidence level; significance level after Holm)
threshold = None  # None: the profile's value (probability from which a joint is called non-intact)
split = None  # None: the profile's value (split of stages 4 and 5 that is evaluated)

# %% tags=["remove-cell"]
import dataclasses

import pandas as pd
from IPython.display import Markdown, display

import ra_lib.stages.comparisons as comparisons
from ra_lib.cohort import load_cohort
from ra_lib.core import artifacts as store
from ra_lib.core import plots
from ra_lib.core.contracts import CLASSIFICATION, GRADING, OVERALL_SCORE
from ra_lib.core.profiles import resolve
from ra_lib.evaluation import published
from ra_lib.stages.comparisons import figures, grading, table4

settings = resolve(comparisons.PROFILES, profile, n_boot=n_boot, alpha=alpha, threshold=threshold, split=split)
cohort = load_cohort(manifest)
out = store.stage_dir(comparisons.STAGE, artifacts)
pd.set_option("display.precision", 3)
result = comparisons.run(settings, artifacts_root=artifacts, cohort=cohort, seed=seed)
_ = result.write_tables(out)

# %% [markdown]
# ## How the uncertainty is computed
#
# The joints and hands of one patient are not independent draws: a patient with severe disease has many
# damaged joints at once. Every interval on this page is therefore a **patient-clustered bootstrap**. Let the
# cohort's patients be $P = \{1, \dots, n\}$ and $\hat\theta = \theta(D)$ a number computed on all rows $D$
# (a sensitivity, an MAE, ...). Replicate $b = 1, \dots, B$ draws $n$ patients with replacement,
# $P^*_b = (p_{b1}, \dots, p_{bn})$, keeps all rows of every drawn patient, $D^*_b = \bigcup_j D_{p_{bj}}$, and
# recomputes $\hat\theta^*_b = \theta(D^*_b)$. The 95 % interval is the percentile interval
#
# $$\left[\, q_{\alpha/2}\big(\hat\theta^*_1, \dots, \hat\theta^*_B\big),\;
#           q_{1-\alpha/2}\big(\hat\theta^*_1, \dots, \hat\theta^*_B\big) \,\right], \qquad \alpha = 0.05,$$
#
# over the replicates where $\theta$ is defined (a resample without positive joints has no sensitivity).
# A comparison of two models $A$ and $B$ draws the same patients for both (paired),
# $\hat\Delta^*_b = \theta_A(D^*_b) - \theta_B(D^*_b)$, and its two-sided $p$-value is
#
# $$p = \min\left(1,\; 2\,\frac{\min\big(\#\{b : \hat\Delta^*_b \le 0\},\ \#\{b : \hat\Delta^*_b \ge 0\}\big) + 1}
#                          {B + 1}\right).$$
#
# Several comparisons in one row of a table are adjusted with Holm's method. The smallest $p$-value a
# bootstrap of $B$ replicates can give is $2 / (B + 1)$, so the `smoke` profile ($B = 50$) cannot show a
# significant difference after adjustment; `quick` uses $B = 500$ and `paper` $B = 2000$.

# %% tags=["remove-cell"]
display(Markdown(f"This run: profile `{profile}`, $B = {settings.n_boot}$ bootstrap replicates, "
                 f"$\\alpha = {settings.alpha}$, decision threshold {settings.threshold}, split `{settings.split}`, "
                 f"seed {seed}."))

# %% [markdown]
# ## Paper 001 Table 4 with confidence intervals (stage 3)
#
# Stage 3's out-of-fold predictions of the four models (SISO: one joint; MIMO local: the same joint on both
# hands; MIMO one-hand: a joint group of one hand; MIMO both-hands: the group on both hands) and the
# cohort's readers, who re-graded the same joints (on the synthetic cohort: **simulated** readers, each with
# its own sensitivity and specificity, not radiologists). A joint is non-intact when its grade is at least
# 1; a model calls it non-intact when its probability is at least the threshold $t$ (0.5 in every
# profile). Regions as in the paper: the finger joints (PIP-IP + MCP + CMC-M for erosion, PIP + MCP + CMC for
# JSN), the wrist, and all joints.

# %%
display(Markdown(result.note(CLASSIFICATION)) if result.table4 is None else table4.table4_wide(result.table4))

# %% [markdown]
# Each cell: estimate [95 % CI]. A `*` marks a significant difference from SISO on the same joints (paired
# bootstrap, Holm-adjusted over the models and readers of that row). PR-AUC is average precision (next
# section). The readers' mean is the mean of their estimates (the paper's "average of surgeons"), without an
# interval. `table4_ci.csv` holds every difference, its interval and both $p$-values.

# %%
if result.table4 is not None:
    plots.show(figures.plot_table4_forest(result.table4, published.table4()),
               "Forest plot of sensitivity, specificity, F-measure and PR-AUC per kind, region and model or reader: "
               "the book's estimates with 95 % intervals and paper 001's published values as crosses.",
               out / "table4_forest.png")

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
display(Markdown(result.note(CLASSIFICATION)) if result.table4 is None else
        table4.table4_vs_published(result.table4, published.table4()))

# %% [markdown]
# ### PR-AUC: average precision, not the trapezoid
#
# The book reports **average precision (AP)** as PR-AUC, a step-wise area over the thresholds $k$ of the
# scores, with precision $P_k$ and recall $R_k$ at threshold $k$:
#
# $$\mathrm{AP} = \sum_k (R_k - R_{k-1})\, P_k$$
#
# (scikit-learn's `average_precision_score`). The other common reading joins the precision-recall points with
# straight lines and takes the trapezoidal area, $\sum_k (R_k - R_{k-1})\,\tfrac{1}{2}(P_k + P_{k-1})$.
# Precision does not change linearly between two operating points, so the trapezoid is optimistic wherever
# the points are far apart: for tied or coarse scores and above all for a reader's yes/no calls, which have a
# single operating point joined to the (recall 0, precision 1) corner. With many distinct scores, as a
# model's probabilities, the two nearly agree. Paper 001 does not say which area it computed. Both, for SISO
# and for each reader:

# %%
display(Markdown(result.note(CLASSIFICATION)) if result.pr_auc is None else result.pr_auc)

# %% [markdown]
# ### Models against readers
#
# Each model against each reader on the same joints (all joints per kind): F-measures and their paired
# bootstrap difference, and McNemar's test of which of the two is right more often ($b$: only the model
# right, $c$: only the reader right); $p$-values Holm-adjusted within each kind.

# %%
if result.table4 is None:
    display(Markdown(result.note(CLASSIFICATION)))
elif not result.has_readers:
    display(Markdown("*The cohort has no reader calls on the predicted joints: this comparison is skipped.*"))
else:
    display(result.model_vs_reader[["kind", "model", "reader", "n", "f_model", "f_reader", "f_diff", "f_diff_lower",
                                    "f_diff_upper", "p_f_holm", "b", "c", "p_mcnemar_holm"]])

# %% [markdown]
# ## Paper 003: overall score (stage 5)
#
# Stage 5's predictions $\hat y_i$ of the overall SvdH score $y_i$ on the test split, per variant:
# $\mathrm{MAE} = \frac{1}{n}\sum_i |\hat y_i - y_i|$ and
# $\mathrm{RMSE} = \sqrt{\frac{1}{n}\sum_i (\hat y_i - y_i)^2}$ with patient-bootstrap intervals, Pearson $r$,
# and the paper's two-sided paired $t$-test of predicted against true score, $t = \bar d / (s_d / \sqrt n)$ with
# $d_i = \hat y_i - y_i$ (mean difference $\bar d$ with its 95 % $t$ interval). As in the paper, $p > 0.05$
# means no detectable systematic shift of the mean, not agreement: a model that predicts the mean for
# everyone passes it.

# %%
display(Markdown(result.note(OVERALL_SCORE)) if result.agreement is None else result.agreement)

# %% [markdown]
# Paired comparisons of the variants' absolute errors on the same test units (`mean_abs_diff` $< 0$: the
# first variant is closer to the truth): paired $t$-test and Wilcoxon signed-rank test, each Holm-adjusted
# over all pairs.

# %%
display(Markdown(result.note(OVERALL_SCORE)) if result.error_comparisons is None else result.error_comparisons)

# %% [markdown]
# ## Paper 004 Table 2 with confidence intervals (stage 4)
#
# Stage 4's grades of the test split's joints (crops the detector flagged are left out, as in stage 4) per
# kind and method: (a) plain, (b) oversampling with augmentation, (c) class weights, and the majority-grade
# baseline. With $n_g$ joints of true grade $g$ among $G$ grades present, class-normalised accuracy is the
# mean of the per-grade accuracies,
#
# $$\mathrm{CNA} = \frac{1}{G} \sum_g \frac{\#\{i : y_i = g,\ \hat y_i = g\}}{n_g},$$
#
# (paper 002 calls the same number balanced accuracy); "$\pm 1$" counts a prediction one grade off as right,
# $|\hat y_i - y_i| \le 1$. Intervals resample patients.

# %%
display(Markdown(result.note(GRADING)) if result.grading is None else grading.grading_wide(result.grading))

# %% [markdown]
# McNemar's test on exact-grade correctness between every two methods on the same joints ($b$: only the
# first right, $c$: only the second right); the exact binomial test below 25 discordant joints, else
# $\chi^2 = (|b - c| - 1)^2 / (b + c)$ with continuity correction; Holm-adjusted within each kind.

# %%
display(Markdown(result.note(GRADING)) if result.grading_mcnemar is None else result.grading_mcnemar)

# %% [markdown]
# ## Headline: the book beside the papers
#
# Every headline number of the five papers, where it is printed, and the book's number for the same quantity
# on this build's cohort: the upstream stage's own headline in its `metrics.json`, by name. Where this page
# recomputes the same number from the stage's predictions (Table 4, Table 2, the overall score), its 95 %
# interval is shown with it; a recomputation that differs from the stage's headline is named in the last
# column. "not measured on this cohort": the stage ran, but its cohort or profile lacks the data; "stage
# headline missing": the stage has not run, or ran before it wrote headlines. **Different data**: the
# papers' patients against, on the default build, synthetic phantoms; scales differ too (paper 003 scores
# both hands, 0-280; stage 5 scores one hand, 0-140, unless its `unit` is `image`).

# %%
if result.missing_headlines:
    display(Markdown(result.headline_note()))
result.book_vs_papers[["stage", "citation", "source", "quantity", "published", "book_value", "note", "book_source"]]

# %% tags=["remove-cell"]
_ = store.write_metrics(out, result.headline(), profile=profile, seed=seed, settings=dataclasses.asdict(settings),
                        **result.details())

# %% [markdown]
# The stage's own headline: how many published numbers there are, how many have a book value on this build,
# and how many of this page's recomputations disagree with the upstream stage's headline.

# %%
pd.Series(result.headline(), name="value", dtype="Int64").to_frame()
