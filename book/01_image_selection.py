# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {name: ra-book, display_name: Python (ra-book), language: python}
# ---

# %% [markdown]
# # Stage 1: Image selection
#
# ```{admonition} What this reproduces
# {cite}`pacs_selection`: a small CNN (4 convolution, 2 max-pooling and 2 fully connected layers on
# $252 \times 252$ inputs) picks the hand radiographs out of a picture archive. Two binary models, **Model 1**
# (one hand vs the rest) and **Model 2** (both hands vs the rest), are combined into three classes:
# one hand, both hands, other. Reproduced here: the architecture (Fig. 2), the augmentation (Table 1)
# and augmented counts (Table 2), the binary accuracies (Table 3: 0.952 and 0.979), the three-class
# confusion matrix (Table 4: 206 of 206 correct), the misclassified images (Fig. 4) and the paper's
# argument that DICOM tags alone cannot select hands. Added: one three-class model on the same split
# (the paper's stated limitation), a check on hands rotated by 90 degrees and an orientation model
# (quarter turn and thumb side, SHS_NET's 12 classes).
# ```

# %% tags=["parameters"]
manifest = "data_manifests/synthetic_quick.yaml"
profile = "quick"
seed = 0
artifacts = "_build/artifacts"
device = "auto"
epochs = None  # None: the profile's value
input_size = None  # None: the profile's value (the paper: 252)
augment_scale = None  # None: the profile's value (1.0: the counts of Table 2 per 841 training images)
equalize = None  # None: the profile's value (True: equalise each input's histogram; the paper does not)
gallery_images = 12  # misclassified test images shown at most
orientation_epochs = None  # None: the profile's value
orientation_input_size = None  # None: the profile's value

# %% tags=["remove-cell"]
from dataclasses import asdict

import pandas as pd
from IPython.display import Markdown, display

from ra_lib.cohort.cohort import load_cohort
from ra_lib.core import artifacts as store
from ra_lib.core.bundles import BUNDLE_DIR
from ra_lib.core.profiles import resolve
from ra_lib.core.training import select_device
from ra_lib.stages.selection import PROFILES, STAGE, figures, run
from ra_lib.stages.selection.evaluate import FUSION, TAGS, THREE_CLASS
from ra_lib.stages.selection.model import flat_features, paper_layer_table
from ra_lib.stages.selection.orientation_evaluate import ORIENTATION_FILE

settings = resolve(PROFILES, profile, epochs=epochs, input_size=input_size, augment_scale=augment_scale,
                   equalize=equalize, orientation_epochs=orientation_epochs,
                   orientation_input_size=orientation_input_size)
compute = select_device(device)
cohort = load_cohort(manifest)
out = store.stage_dir(STAGE, artifacts)
pd.set_option("display.precision", 3)

# %% [markdown]
# ## The images and their DICOM tags
#
# Every radiograph of the cohort, by its true class and by the DICOM `BodyPartExamined` tag. Hands
# filed as `EXTREMITY` or with a blank tag are the ones a tag query misses.

# %%
figures.tag_table(cohort.images)

# %% [markdown]
# ## The network (Fig. 2)
#
# Layer sizes of the paper's network at its $252 \times 252$ input, computed from the model itself, beside the
# neuron counts printed in the paper. The input size is a setting: this run uses the profile's value
# (the fully connected layer's input follows from it).

# %%
paper_layer_table()

# %%
stopping = "no early stopping" if settings.patience is None else f"early stopping patience {settings.patience}"
display(Markdown(f"This run: profile **{profile}**, input ${settings.input_size} \\times {settings.input_size}$, "
                 f"flattened features {flat_features(settings.input_size):,}, at most {settings.epochs} epoch(s) "
                 f"({stopping}), Adam, learning rate {settings.lr:g}, batch size {settings.batch_size}, "
                 f"device `{compute.type}`."))

# %% [markdown]
# ## Training
#
# The images are decoded once, resized bilinearly to the input size and held in memory. Unlike the
# paper, each resized image's histogram is then equalised (`equalize`): archives display radiographs
# through different windows, the background black or grey and bones bright or washed out, and networks
# trained on one display call hands shown another way "other" (without it, networks trained on the
# synthetic cohort called 13 to 21 of 98 real hand radiographs "other", nearly all shown on a grey
# background or with low contrast). Equalising maps every window of one image to the same input. The
# split is
# patient-disjoint and follows the cohort's patient folds (made from the raw patient ids, so the same
# on every machine). The paper tests on 206 of its 1,047 images and validates on 20 % of the rest; here
# of $n$ folds, $n_\text{test} = \operatorname{round}(n \cdot 206 / 1047)$ folds test (at least one), the
# next $n_\text{val} = \operatorname{round}(0.2 \, (n - n_\text{test}))$ validate (early stopping) and the
# others train. With 8 folds that is 2 test, 1 validation and 5 training folds. Three models are trained
# on the same split with the same augmentation: Model 1, Model 2 and, for comparison, one three-class model.
# A cohort whose images are all of one class (or whose training folds are) has nothing to select: then
# no model is trained and the accuracies below are left out.

# %%
result = run(cohort, settings, seed=seed, device=compute, bundle_dir=out / BUNDLE_DIR)
figures.split_summary(result)

# %%
result.split_counts

# %% [markdown]
# ### Augmentation (Tables 1 and 2)
#
# Each training image gets augmented copies (rotation, zoom, shift, shear, channel shift, horizontal
# flip; the paper's Table 1 ranges are not in our copy of the text, so the ranges below are settings)
# until each class reaches its Table 2 count, scaled to this cohort's training-set size times
# `augment_scale`. Copies are made from the training part only, so no validation image leaks into
# training. Rotation, zoom, shift and shear are one bilinear warp of the resized image (empty border
# black); the channel shift adds one offset to every pixel.

# %%
figures.augmentation_table(settings)

# %%
figures.table2(result)

# %% [markdown]
# The paper's counts are 11 copies per hand image ($213 \times 11 = 2343$; $104 \times 11 = 1144$) and 5 per
# image of Model 1's rest ($628 \times 5 = 3140$). Model 2's $1572 = 3 \times 524$ counts only the "other"
# images; here Model 2's rest also holds the one-hand images, so a cohort without "other" images
# still trains.

# %%
figures.show(figures.learning_curves(result),
             "Line plots of the training and validation cross-entropy per epoch of Model 1, Model 2 and the "
             "three-class model.", out / "learning_curves.png")

# %% [markdown]
# Figure: training and validation loss per epoch of the three models; the weights of the epoch with
# the lowest validation loss are kept.
#
# ## Results on the test images
#
# ### Binary accuracy (Table 3) and the fused three classes (Table 4)
#
# Fusion rule: with $p_1$ = Model 1's probability of "one hand" and $p_2$ = Model 2's probability of
# "both hands", an image is **other** when $\max(p_1, p_2) < 0.5$, otherwise **one hand** when
# $p_1 \ge p_2$ and **both hands** when $p_2 > p_1$.

# %%
figures.binary_table(result)

# %%
figures.confusion(result, FUSION)

# %% [markdown]
# Three-class confusion matrix of the fused binary models (rows: truth, columns: prediction; the
# paper's Table 4 has every test image on the diagonal). The same for one three-class CNN:

# %%
figures.confusion(result, THREE_CLASS)

# %% [markdown]
# ### DICOM tags alone
#
# The baseline selects `BodyPartExamined == HAND` as a hand (one hand, as the tag cannot say
# "both") and everything else as other. Its confusion matrix on the same test images:

# %%
figures.confusion(result, TAGS)

# %%
figures.tag_hands_table(result)

# %% [markdown]
# Test hand images by their tag: every hand not tagged `HAND` is lost by a tag query, and both-hands
# images cannot be told from one hand.
#
# ### Hands rotated by 90 degrees
#
# The paper's Fig. 4a is a both-hands image misread as "other" because it was rotated by 90 degrees.
# The test hand images, upright and rotated a quarter turn counter-clockwise (the augmentation rotates
# by at most the range above):

# %%
figures.rotation_table(result)

# %% [markdown]
# ### Misclassified images (Fig. 4)
#
# Test images the fused models got wrong, upright and (below) after the quarter turn, with the true
# and the predicted class and both models' probabilities ($p_1$: one hand, $p_2$: both hands).

# %%
figures.show(figures.gallery(result, cohort.load_image, n=gallery_images),
             "Grid of the upright test radiographs that the fused models misclassified, each titled with its true "
             "and predicted class and both models' probabilities.", out / "misclassified.png")

# %% [markdown]
# Figure: misclassified upright test images of the fused models.

# %%
figures.show(figures.gallery(result, cohort.load_image, rotated=True, n=gallery_images),
             "Grid of the test hand radiographs turned a quarter counter-clockwise that the fused models "
             "misclassified, each titled with its true and predicted class and both models' probabilities.",
             out / "misclassified_rotated.png")

# %% [markdown]
# Figure: test hands turned by 90 degrees that the fused models misclassify (the paper's Fig. 4a case).
#
# ### Orientation: quarter turn and thumb side
#
# Archives store hands turned by quarter turns and in two display conventions: a single hand's thumb
# on the right or on the left of the upright image. A small CNN (four convolution blocks on the image
# padded to a square, `orientation_input_size` pixels, at most `orientation_epochs` epochs; both knobs in
# the parameters cell) predicts SHS_NET's 12 classes: both hands, one hand thumb right or one hand thumb
# left, each at 0, 90, 180 or 270 degrees counter-clockwise. It needs no orientation labels beyond the
# cohort's truth of each stored image: every training hand is shown in its 8 exact variants (4 quarter
# turns, mirrored or not), whose labels follow from the truth. It is scored the same way, on the 8
# variants of each test hand, so every rotation and both thumb sides are measured. A cohort without
# orientation truth (`rot90_k`, `thumb_side`) trains no orientation model, and this section says so.

# %%
figures.orientation_table(result)

# %%
figures.show(figures.orientation_confusion(result),
             "Heat map of the orientation model's 12-class confusion counts on the test hands' variants, true "
             "class in rows, predicted class in columns.", out / "orientation_confusion.png")

# %% [markdown]
# Figure: 12-class confusion counts of the orientation model (rows: truth, columns: prediction); a
# mirror error moves a count between the thumb-right and thumb-left blocks, a turn error within a block.

# %% tags=["remove-cell"]
store.write_table(result.predictions, out / "predictions.csv")
store.write_table(result.orientation.table, out / ORIENTATION_FILE)
metrics_path = store.write_metrics(out, result.headline(), profile=profile, seed=seed, settings=asdict(settings),
                                   **result.details())

# %% [markdown]
# ## Summary
#
# Later stages start from the images the fused models select (`model == "two_binary_fused"` in
# `predictions.csv`; train and validation images are predicted too and marked by `split`).
# `orientation.csv` holds each hand image's predicted quarter turn and thumb side (with the truth where
# the cohort has it); `ra_lib.stages.selection.orientation.upright(image, row)` turns an image upright,
# thumb on the right, from its row. Stages 2, 3 and 5 read every image turned back by its predicted quarter
# turn (`upright_images`, on in the `quick` and `paper` profiles; `ra_lib.stages.selection.upright`).

# %%
display(figures.summary(result))
figures.headline_table(result)
