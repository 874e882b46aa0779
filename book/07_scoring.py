# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {name: ra-book, display_name: Python (ra-book), language: python}
# ---

# %% [markdown]
# # Scoring new radiographs
#
# ```{admonition} What this chapter does
# It trains nothing. Stages 1 to 5 of this build left their trained models as **bundles** (weights, settings,
# versions, the training cohort's fingerprint and their test metrics, in `bundle/` of their artifacts). This
# chapter loads them and scores radiographs they have not seen, exactly as
# `python -m ra_lib.score --models _build --out OUT INPUT...` does for your own files: each image is turned
# upright (stage 1's orientation model), selected (one hand, both hands, other: paper 000's two binary
# models) and cut into hands; each hand's joints are found (stage 2: DeepLabCut, then the refiner), given
# P(damaged) (stage 3: paper 001's SISO models) and a grade distribution (stage 4: paper 002's grader), and
# each hand gets an overall SvdH score (stage 5: paper 003's ResNet-Dwise50). Whatever cannot be scored is
# listed with its reason. Here the images are those of the cohort's held-out patients (fold 0, which every
# stage tested on and no saved model trained on), so the verdicts can be set beside the truth.
# ```

# %% tags=["parameters"]
manifest = "data_manifests/synthetic_quick.yaml"
profile = "quick"
seed = 0  # scoring is deterministic; kept for the book's common parameters
artifacts = "_build/artifacts"
export = None  # None: the images of the cohort's held-out fold; else a folder (e.g. a PACS export) scored instead
max_images = None  # None: the profile's value (None there: every held-out image)
workers = None  # None: the profile's value (0: one process; N: a local dask cluster of N workers)
uncertain_margin = None  # None: the profile's value
overlay_side = None  # None: the profile's value
gallery_images = 8  # verdict pictures shown at most

# %% tags=["remove-cell"]
import dataclasses

import pandas as pd
from IPython.display import Markdown, display

from ra_lib.cohort import load_cohort
from ra_lib.cohort.folds import HELD_OUT_FOLD
from ra_lib.core import artifacts as store
from ra_lib.core import plots
from ra_lib.core.profiles import resolve
from ra_lib.stages.scoring import PROFILES, STAGE, figures, run
from ra_lib.stages.scoring.inputs import collect, from_cohort
from ra_lib.stages.scoring.truth import compare

settings = resolve(PROFILES, profile, max_images=max_images, workers=workers, uncertain_margin=uncertain_margin,
                   overlay_side=overlay_side)
cohort = load_cohort(manifest)
out = store.stage_dir(STAGE, artifacts)
scored_dir = out / "scored"
pd.set_option("display.precision", 3)

# %% [markdown]
# ## The models
#
# Each bundle is checked when it is loaded: its stage, its format and the ra_lib version that wrote it
# must match, and every weight file must have the SHA-256 recorded in its `bundle.json`. A missing bundle
# is not an error: the images it would have scored are flagged `missing_model`.

# %%
bundle_table = figures.bundle_table(artifacts, cohort.images)
bundle_table

# %% [markdown]
# ## Scoring
#
# Every image is read as the cohort reader reads it (DICOM, PNG or JPEG), turned back by the quarter turns
# the orientation model predicts, resized for the selection models and fused into one of three classes. A
# both-hands image is split at its darkest middle column, the patient's right hand on the viewer's left (the
# posteroanterior convention); left hands are mirrored, as stage 5 trained on right hands. Each hand reaches
# the joint detector as in stage 2: white collimation blacked out, mirrored to show its thumb on the right
# (by its side, else by the predicted thumb side), and its joint crops are cut as stage 2's crop store cuts
# them. An image is **flagged** when it cannot be read, is not a hand, its selection lies within
# `uncertain_margin` of the threshold, or a model is missing. Results are kept per file content and bundle
# fingerprint, so a second run scores only new images. A patient visit (one study date) whose images hold
# one left and one right hand also gets both hands' score (0-280) in `scored/patients.parquet`; the summary
# counts them.

# %%
if export is None:  # stage 3's fold model that never saw the held-out fold, not the mean of all folds
    image_ids, where = figures.held_out_images(cohort, settings.max_images)
    inputs, settings = from_cohort(cohort, image_ids), dataclasses.replace(settings, held_out_fold=HELD_OUT_FOLD)
else:
    inputs = collect([export])[: settings.max_images]
    where = f"{len(inputs)} files of the folder given as `export`"
result = run(inputs, artifacts, scored_dir, settings)
mode = "one process" if settings.workers == 0 else f"{settings.workers or 'all cores as'} dask worker(s)"
display(Markdown(f"Scored {where}: {len(result.images)} image(s) in {result.seconds:.1f} s "
                 f"({result.reused} reused from an earlier run) on {mode}."))
result.summary()

# %% [markdown]
# ## Joints
#
# Every site of every hand gets a row of `scored/joints.parquet`: its centre in the upright image with
# DeepLabCut's likelihood as its confidence, P(damaged), the most likely grade by stage 4's main remedy
# (paper 004's oversampling, which favours the rare grades), and the grade probabilities, expected grade
# and 10-90 % interval of stage 4's calibrated distribution (its CDF head on the grades, where trained),
# whose expected grades add up without the remedy's bias. A joint whose likelihood lies below stage 2's cut-off, or whose centre falls outside
# the image, is **not found** and keeps its reason; no joint is dropped. Per kind:

# %%
result.joint_summary()

# %% [markdown]
# ## Verdicts
#
# Each image's verdict as written to `scored/images/` beside the tables (flagged images first: red
# banner), upright, with each joint a dot coloured by its predicted grade (green 0 to red 5; a grey ring:
# not found). Only model outputs are drawn; the report `scored/report.html` names images by the first 16
# hex digits of their file's SHA-256, never by file name or patient.

# %%
plots.show(figures.verdict_gallery(result.images, scored_dir, gallery_images),
           "A grid of upright radiographs, each with a banner giving its selected class, the two selection "
           "probabilities, its overall score and any flag, a line where a both-hands image was split, and a dot "
           "on each detected joint coloured from green (grade 0) to red (grade 5).",
           out / "verdicts.png")

# %% [markdown]
# Figure: verdicts of the scored images, flagged ones first.
#
# ### Flagged images and why

# %%
result.flagged()

# %% [markdown]
# ## Beside the truth
#
# The synthetic cohort knows each image's view and each hand's 31 grades, so the scoring's selection can
# be compared with the true class and each hand's score with the sum of its true grades. Rows: the true
# class; columns: the selection.

# %%
truth = compare(result.images, result.hands, cohort, result.joints) if export is None else None
if truth is None:
    display(Markdown("Scored an export folder: there is no truth to compare with."))
else:
    stage1 = bundle_table.set_index("stage").at["01_image_selection", "value"]
    agreement = "none" if truth.selection_agreement is None else f"{truth.selection_agreement:.3f}"
    display(Markdown(f"Selection agrees with the true class on {agreement} of the images. On stage 1's test "
                     "split this is the models' own test accuracy, read here from new files through the bundle: "
                     f"stage 1 reported {'none' if pd.isna(stage1) else f'{stage1:.3f}'} for the fused models."))
    display(truth.agreement_table())

# %% [markdown]
# Each hand gets two overall scores: stage 5's, from the whole hand at once (paper 003), and the sum of its
# sites' expected grades (paper 002's route, on the calibrated distributions), with the 10-90 % interval of the sum's distribution (the
# sites' grade distributions convolved as if independent, so joints that worsen together would widen it).
# The sum needs every site graded, except sites whose landmark the detector never learnt (a cohort that
# labels no wrist landmark): those take their grade distribution among stage 4's training patients.

# %%
if truth is not None and len(truth.hands):
    display(Markdown(truth.hand_score_summary()))
    plots.show(figures.score_scatter(truth.hands),
               "Scatter plot of the scored hand scores against the true hand score with the identity line: stage "
               "5's score as teal dots, the sum of joint grades as orange dots with their 10-90 % intervals.",
               out / "hand_scores.png")
elif truth is not None:
    display(Markdown("No hand got a score and a true score (the score and grading bundles are missing, or no "
                     "image was selected as a hand)."))

# %% [markdown]
# Figure (when hands were scored): each held-out hand's scores against its true score; points on the
# dashed line are exact.
#
# ### Joints beside their true grades
#
# Each found joint of a hand the cohort grades is set beside its true grade: how well P(damaged) ranks
# damaged (grade $\geq 1$) above intact joints (ROC-AUC, 0.5 is chance), how often P(damaged) $\geq 0.5$ is
# right, how often the most likely grade is the true one (exactly, or within one grade), the mean absolute
# error of the expected grade and the share of true grades inside the 10-90 % interval.
#
# ```{note}
# No model scored here trained on these patients: stage 1 tested on fold 0, stage 2 took its labelled
# training hands from the other folds first, stage 3's P(damaged) comes from its fold-0 model alone (for new
# radiographs the command averages every fold model instead), and stages 4 and 5 tested on fold 0. The
# figures are out of sample, like those of chapters 3-5, but come from the whole chain at once: detected
# centres, crops cut around them, grades summed into a hand score.
# ```

# %%
if truth is not None and len(truth.joints):
    display(truth.joint_agreement())
    plots.show(figures.joint_damage_figure(truth.joints),
               "Histograms of P(damaged) per kind for the found joints, intact joints in green and damaged "
               "joints in red; the further apart the two, the better the joints are told apart.",
               out / "joint_damage.png")
elif truth is not None:
    display(Markdown("No joint was found with a true grade (a joint bundle is missing, no image was selected "
                     "as a hand, or every detection lay below stage 2's cut-off)."))

# %% [markdown]
# Figure (when joints were found): P(damaged) of the held-out joints, intact against damaged.
#
# ## Headline

# %%
headline = result.headline(truth)
_ = store.write_metrics(out, headline, profile=profile, seed=seed, settings=dataclasses.asdict(settings),
                        models=result.models, reused=result.reused, seconds=result.seconds)
pd.DataFrame({"value": headline}).rename_axis("name")
