# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {name: ra-book, display_name: Python (ra-book), language: python}
# ---

# %% [markdown]
# # Stage 5: The overall score, regressed from the whole hand
#
# ```{admonition} What this reproduces
# {cite}`resnet_dwise50`: one network reads the whole radiograph and regresses the overall SvdH score,
# with no joint detection. Its Table 2 (agreement of two readers), Table 3 (ablation: ResNet-50
# bottleneck baseline B, depthwise-separable blocks DSC, inverted residual blocks IRB = ResNet-Dwise50),
# Table 4 (torchvision ResNet-50 and MobileNetV2), and Fig. 6 (predicted against true score), with
# MAE, RMSE, Pearson $r$ and the two-sided paired $t$-test of predicted against true scores.
# ```

# %% tags=["parameters"]
manifest = "data_manifests/synthetic_quick.yaml"
profile = "quick"
seed = 0
artifacts = "_build/artifacts"
device = "auto"
upright_images = None  # turn images upright by stage 1's predicted quarter turns (None: the profile's value)
epochs = None  # None: the profile's value
input_size = None  # pixels of the square network input (paper: 1024)
unit = None  # "hand" (0-140 per hand) or "image" (0-280 per both-hands radiograph)
variants = None  # networks to train, e.g. ["IRB", "DSC", "B", "tv_mobilenet_v2", "tv_resnet50"]
loss_delta = None  # SmoothLoss threshold between its L2 and L1 parts, in z units
compare_delta = None  # a second threshold to train the main model with (0 or None in the profile: skip)
weights_path = None  # optional local pre-trained weights (paper 003 Table 5 used CheXpert weights)

# %% tags=["remove-cell"]
import dataclasses

import pandas as pd
from IPython.display import Markdown, display

from ra_lib.cohort import load_cohort
from ra_lib.core import artifacts as store
from ra_lib.core.bundles import BUNDLE_DIR
from ra_lib.core import plots
from ra_lib.core.profiles import resolve
from ra_lib.stages import overall_score as overall
from ra_lib.stages.overall_score import figures
from ra_lib.stages.overall_score.models import VARIANT_LABELS
from ra_lib.stages.overall_score.settings import PAPER_INPUT_SIZE
from ra_lib.stages.overall_score.targets import split_summary
from ra_lib.stages.overall_score.train import make_loss
from ra_lib.stages.selection.upright import upright_by_stage1

settings = resolve(overall.PROFILES, profile, epochs=epochs, input_size=input_size, unit=unit, variants=variants,
                   loss_delta=loss_delta, compare_delta=compare_delta, weights_path=weights_path)
cohort, upright_note = upright_by_stage1(load_cohort(manifest), artifacts, profile, upright_images)
out = store.stage_dir(overall.STAGE, artifacts)
pd.set_option("display.precision", 2)

# %% [markdown]
# ## What the stage does
#
# The overall SvdH score of a hand is the sum of its 16 erosion (0-5) and 15 joint space narrowing (0-4)
# grades: 0-140. The paper scored bilateral radiographs, 0-280 for both hands; `unit="image"` does that
# on the cohort's both-hands radiographs, while the default `unit="hand"` uses every hand, including the
# halves of bilateral images, which doubles the data of a small cohort. Only fully graded hands have a
# true score. The split is patient-disjoint, taken from the cohort's folds (one fold for testing, the
# next for validation, the rest for training).
#
# Each hand (left hands mirrored to the right) or bilateral radiograph, turned upright by stage 1's
# predicted quarter turn (`upright_images`), is padded to a square and cached
# once at a side slightly above the input size. Training crops follow the paper: rescale by 0.9-1.0,
# random crop, horizontal flip, brightness and contrast by up to 10 %, rotation by 0, 90, 180 or
# 270 degrees, then normalisation with the training images' pixel mean and sd. Evaluation uses the whole
# image resized to the input size. The target is z-scored with the training split's mean $\bar y$ and
# standard deviation $s$, $z = (y - \bar y) / s$, and predictions are mapped back to score units.
#
# Every network variant of the profile is then trained with the paper's optimiser and evaluated on the
# test split against a trivial baseline, the readers and the sum of stage 4's joint grades:

# %%
display(Markdown(f"Profile `{profile}`: input {settings.input_size} px, {settings.epochs} epochs"
                 f"{'' if settings.patience is None else f' (early stopping after {settings.patience})'}, blocks per "
                 f"stage {settings.layers}, width multiplier {settings.width_mult}; loss {make_loss(settings)}; "
                 f"variants {', '.join(settings.variants)}."))
display(Markdown(upright_note))
result = overall.run(cohort, settings, seed=seed, device=device, artifacts_root=artifacts,
                     bundle_dir=out / BUNDLE_DIR)
data = result.data

# %% [markdown]
# ## The target: one number per hand

# %%
display(Markdown(f"{len(data.units)} of {result.n_targets} {settings.unit}s have every site graded and are used; "
                 f"{result.n_targets - len(data.units)} are left out."))
split_summary(data.units)

# %%
plots.show(figures.plot_score_distribution(data, settings.unit),
           f"Histogram of the overall SvdH score per {settings.unit}, skewed towards low scores.",
           out / "score_distribution.png")

# %% [markdown]
# Figure: distribution of the overall score (the paper's Fig. 2). Like the paper's cohort it is skewed
# towards low scores, which is why the paper z-scores the target (mean and standard deviation of the
# training split) and uses a loss that treats large errors linearly.

# %% [markdown]
# ## Images and augmentation

# %%
plots.show(figures.plot_augmentation(data, seed),
           "The highest-scored training radiograph as cached, followed by four random augmented training crops of "
           "it.", out / "augmentation.png")

# %% [markdown]
# Figure: one training image as cached and four random training crops of it.

# %% [markdown]
# ## The networks
#
# All variants of the paper's family share the ResNet-50 layout (3, 4, 6, 3 blocks), full pre-activation
# and the ResNet-D down-sampling block (2x2 average pool before the 1x1 projection shortcut, stride on the
# 3x3 convolution). They differ only in the block: B is the ResNet-50 bottleneck; DSC replaces it with a
# depthwise 3x3 and a pointwise 1x1 convolution; IRB (ResNet-Dwise50) adds a 1x1 expansion layer (factor
# $t = 6$) in front of that. The paper's Table 1 with the exact channel widths did not survive in its text:
# this book uses the bottleneck widths of ResNet-50 (64, 128, 256, 512) for DSC and IRB. Counting depthwise
# layers, B and IRB have 50 weighted layers, as the paper says.
#
# Why depthwise separable convolutions are cheap: on an $H \times W$ feature map, a $k \times k$ convolution
# from $C_{in}$ to $C_{out}$ channels costs $H W k^2 C_{in} C_{out}$ multiply-adds. Its depthwise-separable
# replacement (one $k \times k$ filter per input channel, then a $1 \times 1$ convolution) costs
#
# $$H W C_{in} \left(k^2 + C_{out}\right), \qquad
# \frac{H W C_{in} (k^2 + C_{out})}{H W k^2 C_{in} C_{out}} = \frac{1}{C_{out}} + \frac{1}{k^2},$$
#
# about $1/9$ for $k = 3$ and wide layers. The inverted residual block expands to $t C_{in}$ channels
# first, so its cost is $H W\, t\, C_{in} \left(C_{in} + k^2 + C_{out}\right)$.
#
# Sizes of the full networks (multiply-adds counted with PyTorch's `FlopCounterMode`, MACs = FLOPs / 2;
# convolutions and the output layer only). The paper states that DSC cuts the parameters of B to about
# one eighth and halves the training time; its Tables 3 and 4 with the numbers did not survive.

# %%
complexity = result.complexity
large = f"gmacs_{PAPER_INPUT_SIZE}px"
complexity.assign(model=complexity["variant"].map(VARIANT_LABELS), parameters_m=complexity["parameters"] / 1e6)[
    ["variant", "model", "parameters_m", "gmacs_224px", large]]

# %%
size_of = complexity.set_index("variant")["parameters"]
display(Markdown(
    f"DSC has 1/{size_of['B'] / size_of['DSC']:.0f} of the parameters of B (the paper: about 1/8; with its Table 1 "
    f"lost the widths need not match) and ResNet-Dwise50 {size_of['IRB'] / size_of['B']:.2f} times as many; B and "
    f"torchvision's ResNet-50 differ by {abs(size_of['B'] - size_of['tv_resnet50']):,} parameters (pre-activation "
    "and ResNet-D change the layout, not the size). Depthwise convolutions do few multiply-adds per byte moved, "
    "so their time falls much less than their MACs: see `bench/overall_score.py`."))

# %% [markdown]
# ## Training
#
# Paper 003's optimiser: SGD, batch 4, learning rate 0.001, weight decay 0.001, momentum 0.9, no dropout,
# He initialisation, trained from scratch. The loss is the smooth loss of Sec. 3.3: squared (L2) error below
# a threshold $\delta$, absolute (L1) error minus a bias $b$ above it. With $d = |\hat z - z|$ the error in
# z units,
#
# $$\ell(d) = \begin{cases} \alpha\, d^2 & d < \delta \\ d - b & d \ge \delta \end{cases}, \qquad
# b = \delta - \alpha \delta^2,$$
#
# where the bias keeps the loss continuous at $\delta$. The paper's values of its three factors did not
# survive in the text; this book uses $\delta = 1$ z unit (one standard deviation of the training scores)
# and $\alpha = 1 / (2\delta)$, where the slope is continuous too (smooth-L1 / Huber).
# The `quick` profile leaves out torchvision's ResNet-50 (too slow on a CPU even at one block per stage);
# the family's B member has its layout and, at full size, the same number of parameters. The `paper`
# profile trains it.

# %%
plots.show(figures.plot_learning_curves(result.trained),
           "Line plots of the training and validation smooth loss per epoch, one panel per network variant.",
           out / "learning_curves.png")

# %% [markdown]
# Figure: training and validation loss (smooth loss on the z-scored target) per epoch of each variant.

# %% [markdown]
# ## Results on the test split (the paper's Tables 3 and 4)
#
# The trivial baseline predicts the training mean for every hand; a model has learned something only if
# its MAE is below the baseline's. The $t$-test is two-sided and paired (predicted against true score);
# as in the paper, $p > 0.05$ means no detectable systematic difference of the means, not agreement.

# %%
result.test_table

# %%
display(Markdown(result.verdict(profile)))

# %% [markdown]
# ### Predicted against true score

# %%
main_test = result.main_test_predictions()
plots.show(figures.plot_test_agreement(main_test["score_true"], main_test["score_pred"], settings.unit),
           f"Scatter plot of predicted against true overall score of the test {settings.unit}s beside their "
           "Bland-Altman plot of difference against mean with the limits of agreement.",
           out / "predicted_vs_true.png")

# %% [markdown]
# Figure: left, predicted against true overall score of the test units (dashed: identity; the paper's
# Fig. 6); right, Bland-Altman plot of the same predictions: difference against mean, with the mean
# difference (solid) and the 95 % limits of agreement (dashed).

# %% [markdown]
# ## The loss: two settings of the threshold
#
# The paper's factors are lost, so the page shows what the threshold does: the main model trained once
# more with a smaller $\delta$, which makes the loss absolute-error-like for all but the best-predicted
# hands (more robust to the long tail of high scores, weaker gradients near the target).

# %%
if result.loss_table is not None:
    display(result.loss_table)
else:
    display(Markdown(f"Skipped in profile `{profile}` (set `compare_delta` to run it)."))

# %% [markdown]
# ## Readers (the paper's Table 2)
#
# The paper's truth is the mean of two radiologists, and its Table 2 shows how far they disagree. Where the
# cohort carries independent re-gradings (its `readers` table; simulated readers on the synthetic cohort),
# each reader's overall score per unit is compared with another's on the same criteria (the second reader
# taken as the prediction), and ResNet-Dwise50 is shown as one more rater: its test predictions against the
# reference grades on the re-graded test units.

# %%
if not result.cohort_has_readers:
    display(Markdown("This cohort has no reader gradings (no `readers` table): Table 2 is skipped."))
elif result.readers_table is None:
    display(Markdown(f"The cohort has no two complete re-gradings of the same {settings.unit}s: Table 2 is skipped."))
else:
    display(result.readers_table)
    if result.main_on_readers_table is not None:
        display(result.main_on_readers_table)

# %% [markdown]
# ## Against summing the per-joint grades of stage 4
#
# The two-step route (find each joint, grade it, add up) and the paper's direct regression answer the same
# question; here both are compared on the test units that stage 4 also held out. Every stage-4 method gives
# two sums: of each joint's most likely grade, and of its expected grade (the mean of its grade
# distribution). The most likely grade of a rare-damage kind is nearly always 0 without a remedy, so those
# sums fall short on every damaged hand; the remedies reweight the rare grades, which makes every joint
# look more damaged than it is, so their sums overshoot. The expected grade of a distribution trained on
# the grades as they occur, with a proper scoring rule, has neither bias: the headline's `joint_sum` is the
# sum of the expected grades of stage 4's CDF head on the grades (`cdf_grades`, CRPS loss), or of its
# plain classifier where the profile fits no CDF head. Its `mean_diff` column shows the bias of each sum.
# A site the cohort labels no landmark for (RA2's wrist) has no crop and no grade: it adds its mean grade among
# the training folds, so the sum stays on the whole 0-140 scale but cannot follow that site's damage.

# %%
if result.stage4_missing:
    display(Markdown("Stage 4's `grade_predictions.csv` is missing (run stage 4 first): this comparison is skipped."))
elif result.joint_sum_table is None:
    display(Markdown(f"No test {settings.unit} has all its sites graded by stage 4: this comparison is skipped."))
else:
    for note in (result.joint_sum_note(), result.filled_sites_note()):
        if note:
            display(Markdown(note))
    display(result.joint_sum_table)

# %% tags=["remove-cell"]
result.write_tables(out)
_ = store.write_metrics(out, result.headline(), profile=profile, seed=seed, settings=dataclasses.asdict(settings),
                        **result.details())

# %% [markdown]
# ## Headline
#
# Test-split criteria of every variant (the paper's Tables 3 and 4 on this cohort), against the trivial
# baseline. Sizes are of the networks trained here (the profile's members of each family).

# %%
result.model_table()
