"""The joint refiner: patch geometry, soft-argmax, training and refinement on a toy cohort."""
from __future__ import annotations

import dataclasses
import numpy as np
import pandas as pd
import pytest
import torch

from ra_lib.core.profiles import resolve
from ra_lib.stages.detection import PROFILES, refine, shape


def test_soft_argmax_finds_a_peak_in_normalised_coordinates():
    logits = torch.full((1, 8, 8), -50.0)
    logits[0, 2, 5] = 50.0  # row 2, column 5
    x, y = refine.soft_argmax(logits)[0].tolist()
    assert x == pytest.approx((5 + 0.5) / 8 * 2 - 1) and y == pytest.approx((2 + 0.5) / 8 * 2 - 1)


def test_standardise_gives_zero_mean_unit_spread():
    patches = torch.rand(3, 1, 16, 16) * 5 + 2
    out = refine.standardise(patches).flatten(1)
    assert torch.allclose(out.mean(1), torch.zeros(3), atol=1e-5)
    assert torch.allclose(out.std(1), torch.ones(3), atol=1e-4)


def _dot_contexts(size: int = 32) -> torch.Tensor:
    """Contexts (2 x size) holding one bright pixel block at their centre, the joint."""
    contexts = torch.zeros(4, 1, 2 * size, 2 * size)
    contexts[:, :, size - 1:size + 1, size - 1:size + 1] = 1.0
    return contexts


def test_jittered_patch_targets_point_at_the_joint():
    size = 32
    data = refine.JitteredPatches(_dot_contexts(size), torch.zeros(4, dtype=torch.long), samples=4, jitter=0.3,
                                  field=1.5, batch_size=16, seed=0)
    (patches, _), target = next(iter(data))
    assert patches.shape == (16, 1, size, size) and target.shape == (16, 2)
    assert target.abs().max() < 1
    for patch, (tx, ty) in zip(patches[:, 0], target):
        row, col = np.unravel_index(int(patch.argmax()), patch.shape)
        x, y = (col + 0.5) / size * 2 - 1, (row + 0.5) / size * 2 - 1
        assert abs(x - float(tx)) < 3 / size and abs(y - float(ty)) < 3 / size  # within a pixel and a half


def test_jittered_patches_are_deterministic_per_seed():
    def first(seed):
        data = refine.JitteredPatches(_dot_contexts(), torch.zeros(4, dtype=torch.long), 2, 0.2, 1.5, 8, seed)
        return next(iter(data))[1]

    assert torch.equal(first(3), first(3)) and not torch.equal(first(3), first(4))


def test_refinenet_gives_one_heatmap_per_landmark_at_half_resolution():
    heatmaps = refine.RefineNet(n_landmarks=5, width=4)(torch.rand(2, 1, 32, 32))
    assert heatmaps.shape == (2, 5, 16, 16)


class BlobCohort:
    """Hands with a bright blob at each of two landmarks (full-image pixels) and a known phalanx (MCP to PIP)."""

    def __init__(self, n_hands: int = 6, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.images, rows = {}, []
        yy, xx = np.mgrid[:120, :100]
        for n in range(n_hands):
            hand_id = f"H{n}:R"
            mcp = rng.uniform(35, 65, 2)
            pip = mcp + [0.0, -30.0]
            image = np.zeros((120, 100), np.float32)
            for x, y in (mcp, pip):
                image += np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 8.0).astype(np.float32)
            self.images[hand_id] = image
            rows += [(hand_id, "mcp3", *mcp), (hand_id, "pip3", *pip)]
        self.landmarks = pd.DataFrame(rows, columns=["hand_id", "landmark", "x", "y"])
        self.hands = pd.DataFrame({"hand_id": list(self.images), "x0": 0, "x1": 100, "hand": "R"})

    def load_hand(self, hand_id, size=None, mirror_to_right=False):
        return self.images[hand_id]


def test_refiner_trains_and_moves_coarse_centres_towards_the_joints():
    cohort = BlobCohort()
    settings = resolve(PROFILES, "smoke", refine_patch_size=32, refine_samples=64, refine_epochs=6,
                       refine_batch_size=32, refine_lr=5e-3, refine_width=8, refine_steps=2, refine_jitter=0.15)
    train = list(cohort.hands["hand_id"][:4])
    refiner, history = refine.fit(cohort, cohort.landmarks, train, settings, progress=False)
    assert list(history["epoch"]) == list(range(1, 7)) and set(refiner.landmarks) == {"mcp3", "pip3"}
    truth = cohort.landmarks[cohort.landmarks["hand_id"].isin(train)]
    coarse = truth.assign(x=truth["x"] + 4.0, y=truth["y"] - 3.0, likelihood=0.9, detector="dlc")
    refined = refiner.refine(cohort, coarse, progress=False)
    before = np.hypot(coarse["x"] - truth["x"], coarse["y"] - truth["y"]).mean()
    after = np.hypot(refined["x"] - truth["x"], refined["y"] - truth["y"]).mean()
    assert after < 0.5 * before
    assert list(refined.columns) == [*coarse.columns, "shape_moved"] and refined["likelihood"].eq(0.9).all()


def test_fine_tuning_starts_from_the_initial_refiners_weights():
    cohort = BlobCohort()
    settings = resolve(PROFILES, "smoke", refine_patch_size=32, refine_samples=4, refine_epochs=1,
                       refine_batch_size=32, refine_lr=0.0, refine_width=8)  # lr 0: training changes nothing
    train = list(cohort.hands["hand_id"][:4])
    initial, _ = refine.fit(cohort, cohort.landmarks, train, dataclasses.replace(settings, refine_lr=5e-3),
                            seed=1, progress=False)
    tuned, _ = refine.fit(cohort, cohort.landmarks, train, settings, progress=False, initial=initial)
    tuned_weights = dict(tuned.model.named_parameters())  # batch-norm statistics move even at lr 0
    for name, weights in initial.model.named_parameters():
        torch.testing.assert_close(tuned_weights[name], weights)
    with pytest.raises(ValueError, match="cannot be fine-tuned"):
        refine.fit(cohort, cohort.landmarks[cohort.landmarks["landmark"] == "mcp3"], train, settings,
                   progress=False, initial=initial)


class StillNet(torch.nn.Module):
    """A refiner network that never moves a centre (flat heatmaps: soft-argmax at the patch centre)."""

    def forward(self, patches):
        return torch.zeros(len(patches), 4, patches.shape[-2] // 2, patches.shape[-1] // 2)


@pytest.mark.parametrize("rounds", [0, 1])
def test_the_shape_check_moves_a_joint_that_snapped_onto_its_neighbour(rounds):
    names = ("pip2", "pip3", "mcp2", "mcp3")
    square = np.array([[0.0, -1.0], [0.8, -1.05], [0.0, 0.0], [0.8, 0.0]])
    labelled = pd.DataFrame([(f"H{n}", lm, *(square[k] * (50 + 5 * n) + 100)) for n in range(4)
                             for k, lm in enumerate(names)], columns=["hand_id", "landmark", "x", "y"])
    refiner = refine.JointRefiner(StillNet(), names, 16, 1.5, 1, shape.fit_shape(labelled, names), rounds)
    truth = square * 60 + [150.0, 200.0]
    coarse = truth.copy()
    coarse[1] = truth[3] + [2.0, -3.0]  # pip3 on mcp3
    refined, moved = refiner.refine_hand(np.zeros((300, 300), np.float32), 0.0, names, coarse, phalanx=60.0)
    np.testing.assert_allclose(refined[[0, 2, 3]], truth[[0, 2, 3]], atol=1e-6)
    assert list(moved) == [False, bool(rounds), False, False]
    if rounds:
        assert np.hypot(*(refined[1] - truth[1])) < 3  # moved to where the other three joints put it
    else:
        np.testing.assert_allclose(refined[1], coarse[1])


def test_the_shape_check_never_moves_a_joint_off_the_image():
    names = ("pip2", "pip3", "mcp2", "mcp3")
    square = np.array([[0.0, -1.0], [0.8, -1.05], [0.0, 0.0], [0.8, 0.0]])
    labelled = pd.DataFrame([(f"H{n}", lm, *(square[k] * 50 + 100)) for n in range(3) for k, lm in enumerate(names)],
                            columns=["hand_id", "landmark", "x", "y"])
    refiner = refine.JointRefiner(StillNet(), names, 16, 1.5, 1, shape.fit_shape(labelled, names), 2)
    coarse = square * 60 + [150.0, 80.0]
    coarse[1] = coarse[3] + [2.0, -3.0]  # pip3 on mcp3; where it belongs (y = 17) is cut off this image
    refined, moved = refiner.refine_hand(np.zeros((300, 300), np.float32)[40:], 0.0, names, coarse - [0, 40],
                                         phalanx=60.0)
    assert not moved.any()
    np.testing.assert_allclose(refined, coarse - [0, 40])
