"""Stage 3 end to end: pair the hands, cross-validate every model, score models and readers, the headline."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from ra_lib.core import bundles, contracts
from ra_lib.core.training import select_device
from ra_lib.evaluation.readers import reader_rows
from ra_lib.stages.classification import bundle
from ra_lib.stages.classification.evaluate import HEADLINE_NAMES, evaluation_table, headline_values
from ra_lib.stages.classification.models import MODEL_LABELS
from ra_lib.stages.classification.samples import hand_pairs, pairing_summary
from ra_lib.stages.classification.settings import ClassificationSettings
from ra_lib.stages.classification.cross_validation import CVResult, predicted_folds, run_cv
from ra_lib.stages.detection.crops import crop_geometry

PAIRING_WORDS = {"image": "on one both-hands radiograph", "visit": "by the images' visit",
                 "study_date": "by study date", "patient": "as the patient's only left and right hand"}


@dataclass
class ClassificationResult:
    """Out-of-fold predictions of every model, the readers' calls on the same joints and their scores.

    ``evaluation``: :func:`~ra_lib.stages.classification.evaluate.evaluation_table` of models and
    readers per Table-4 region; ``by_group``: the models per joint group; ``pairs``: every hand's
    pair (:func:`~ra_lib.stages.classification.samples.hand_pairs`).
    """

    settings: ClassificationSettings
    cv: CVResult
    pairs: pd.DataFrame
    readers: pd.DataFrame
    evaluation: pd.DataFrame
    by_group: pd.DataFrame
    crop_index: pd.DataFrame
    test_folds: list[int]
    has_readers: bool

    @property
    def oof(self) -> pd.DataFrame:
        return self.cv.oof

    @property
    def contralateral_pairs(self) -> int:
        return int(self.cv.joint_counts["contralateral_pairs"].sum()) if len(self.cv.joint_counts) else 0

    def headline(self) -> dict[str, float | None]:
        """The flat ``metrics.json`` headline (:data:`HEADLINE_NAMES`)."""
        return contracts.headline(HEADLINE_NAMES, headline_values(self.evaluation, self.oof, self.contralateral_pairs))

    def pairing(self) -> pd.DataFrame:
        """Hands and left/right pairs per pairing method."""
        return pairing_summary(self.pairs)

    def details(self) -> dict:
        """Counts for ``metrics.json`` beside the headline (records, for readers of the file)."""
        runs = self.cv.runs
        return {"test_folds": self.test_folds,
                "trainings": int((runs["status"] == "trained").sum()) if len(runs) else 0,
                "train_seconds": float(runs["seconds"].sum()) if "seconds" in runs else 0.0,
                **{name: table.to_dict("records") for name, table in (
                    ("joint_counts", self.cv.joint_counts), ("sample_counts", self.cv.sample_counts),
                    ("pairing", self.pairing()), ("skipped", self.cv.skipped))}}

    def cohort_notes(self) -> str:
        """Markdown: how the hands were paired and what the cohort lacks (and is therefore skipped)."""
        pairing = self.pairing().set_index("pairing")
        formed = [f"{row.hand_pairs} {PAIRING_WORDS[method]}" for method, row in pairing.iterrows()
                  if method in PAIRING_WORDS and row.hand_pairs]
        notes = [f"Left/right hand pairs: {', '.join(formed) or 'none'}; "
                 f"{pairing.loc['unpaired', 'hands']} hand(s) without a contralateral hand. "
                 f"{self.contralateral_pairs} joint(s) of a left hand have their twin on the right hand "
                 "(MIMO local samples with both inputs)."]
        if not self.has_readers:
            notes.append("The cohort has no readers: Table 4 and Fig. 6 show the models only.")
        skipped = self.cv.skipped
        for row in skipped[skipped["model"] == ""].itertuples():
            cause = " (the cohort has no wrist landmarks, or stage 2 flagged them all)" if row.group == "wrist" else ""
            notes.append(f"No usable {row.kind} {row.group} joints{cause}: that group is not trained.")
        for kind, part in skipped[skipped["model"] != ""].groupby("kind", sort=False):
            models = " and ".join(MODEL_LABELS[m] for m in dict.fromkeys(part["model"]))
            notes.append(f"No contralateral hands for {kind}: {models} are not trained.")
        return "\n\n".join(notes)


def run(cohort, settings: ClassificationSettings, *, seed: int, device: str | torch.device, crop_store,
        progress: bool = True, bundle_dir: str | Path | None = None) -> ClassificationResult:
    """Cross-validate the four models on ``cohort`` (its folds, images and readers) and stage 2's ``crop_store``.

    With ``bundle_dir`` the SISO fold models are written there as a model bundle (:mod:`.bundle`; an old
    one is removed when no SISO model was trained).
    """
    pairs = hand_pairs(crop_store.index, cohort.images)
    cv = run_cv(crop_store.images, crop_store.index, cohort.folds, settings, seed=seed,
                device=select_device(device) if isinstance(device, str) else device, pairs=pairs, progress=progress)
    has_readers = len(cohort.readers) > 0
    readers = reader_rows(cohort.readers, cv.oof) if has_readers else cv.oof.iloc[:0]
    scored = pd.concat([cv.oof, readers], ignore_index=True) if len(readers) else cv.oof
    result = ClassificationResult(
        settings=settings, cv=cv, pairs=pairs, readers=readers,
        evaluation=evaluation_table(scored, settings.threshold),
        by_group=evaluation_table(cv.oof, settings.threshold, by="group"),
        crop_index=crop_store.index, test_folds=predicted_folds(cohort.folds, settings), has_readers=has_readers)
    if bundle_dir is not None and cv.siso_models:
        bundle.write_bundle(result, cohort.images, crop_geometry(crop_store), bundle_dir)
    elif bundle_dir is not None:
        bundles.remove_bundle(bundle_dir)
    return result
