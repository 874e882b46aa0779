import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from scipy import stats as scipy_stats

from ra_lib.stages.overall_score import pipeline as os5
from ra_lib.core.profiles import resolve
from ra_lib.cohort.sites import HAND_SITES


def _scores(hand_grades: dict[str, int]) -> pd.DataFrame:
    """Every hand site graded ``g`` for each ``hand_id: g``."""
    rows = [{"hand_id": h, "kind": s.kind, "site": s.site, "grade": g}
            for h, g in hand_grades.items() for s in HAND_SITES]
    return pd.DataFrame(rows)


def _hands(hand_ids, patients) -> pd.DataFrame:
    return pd.DataFrame({"hand_id": hand_ids, "image_id": [h.split(":")[0] for h in hand_ids], "patient": patients,
                         "hand": [h.split(":")[1] for h in hand_ids], "x0": 0, "x1": 10})


# --- targets and splits -----------------------------------------------------------------------
def test_overall_targets_per_hand_and_per_bilateral_image():
    scores = _scores({"a:L": 1, "a:R": 2, "b:R": 3})
    scores = scores[~((scores["hand_id"] == "b:R") & (scores["site"] == "ulna"))]  # one site missing
    hands = _hands(["a:L", "a:R", "b:R", "c:L"], ["P1", "P1", "P2", "P3"])
    per_hand = os5.overall_targets(hands, scores).set_index("hand_id")
    assert per_hand.loc["a:L", "score"] == 31 and per_hand.loc["a:R", "score"] == 62
    assert per_hand["complete"].tolist() == [True, True, False, False]
    images = pd.DataFrame({"image_id": ["a", "b", "c"], "view": ["both_hands", "right_hand", "left_hand"]})
    per_image = os5.overall_targets(hands, scores, images, unit="image")
    assert per_image.to_dict("records") == [{"image_id": "a", "patient": "P1", "score": 93, "complete": True}]
    assert os5.MAX_SCORE == {"hand": 140, "image": 280}


def test_repeated_site_makes_a_hand_incomplete():
    scores = _scores({"a:L": 1})
    scores = pd.concat([scores.iloc[1:], scores.iloc[:1], scores.iloc[:1]])
    assert not os5.hand_scores(scores)["complete"].item()


def test_assign_splits_is_patient_disjoint_and_names_missing_patients():
    units = pd.DataFrame({"hand_id": [f"h{i}" for i in range(8)], "patient": [f"P{i // 2}" for i in range(8)]})
    folds = pd.DataFrame({"patient": ["P0", "P1", "P2", "P3"], "fold": [0, 1, 2, 3]})
    out = os5.assign_splits(units, folds, test_fold=0)
    assert out.groupby("patient")["split"].nunique().max() == 1
    assert dict(zip(out["patient"], out["split"])) == {"P0": "test", "P1": "val", "P2": "train", "P3": "train"}
    with pytest.raises(ValueError, match="no fold"):
        os5.assign_splits(units, folds.iloc[:3])


# --- images -----------------------------------------------------------------------------------
def test_preload_pads_to_square_and_resizes():
    arrays = {"tall": np.ones((40, 20), np.float32), "wide": np.ones((10, 30), np.float32)}
    cache = os5.preload_images(arrays.__getitem__, ["tall", "wide"], 16, progress=False)
    assert cache.shape == (2, 1, 16, 16) and cache.dtype == torch.float16
    assert cache[0, 0, :, 0].max() == 0 and cache[0, 0, 8, 8] == 1  # padded columns stay black
    assert os5.cache_size(128) == 143
    with pytest.raises(ValueError, match="'rgb'"):
        os5.preload_images(lambda _: np.zeros((4, 4, 3)), ["rgb"], 8, progress=False)


def test_augmentation_is_seeded_and_keeps_range():
    image = torch.rand(1, 36, 36)
    aug = os5.Augmentation()
    a = aug(image, 32, torch.Generator().manual_seed(1))
    b = aug(image, 32, torch.Generator().manual_seed(1))
    assert a.shape == (1, 32, 32) and torch.equal(a, b)
    assert 0 <= a.min() and a.max() <= 1


# --- target scaling and loss ------------------------------------------------------------------
def test_zscore_round_trip_uses_training_statistics():
    z = os5.ZScore.fit([0, 10, 20, 30])
    assert z.mean == 15 and z.sd == pytest.approx(np.std([0, 10, 20, 30], ddof=1))
    values = np.array([3.0, 140.0, 0.0])
    assert np.allclose(z.inverse(z.transform(values)), values)
    with pytest.raises(ValueError, match="without spread"):
        os5.ZScore.fit([5, 5, 5])


def test_smooth_loss_regimes_and_continuity():
    loss = os5.SmoothLoss(delta=1.0, alpha=0.25)
    assert loss.bias == pytest.approx(0.75)
    near, far = torch.tensor([0.5]), torch.tensor([3.0])
    assert loss(near, torch.zeros(1)).item() == pytest.approx(0.25 * 0.25)  # L2 regime
    assert loss(far, torch.zeros(1)).item() == pytest.approx(3.0 - 0.75)  # L1 regime with bias
    for eps in (1e-6,):
        below = loss(torch.tensor([1 - eps]), torch.zeros(1)).item()
        above = loss(torch.tensor([1 + eps]), torch.zeros(1)).item()
        assert abs(above - below) < 1e-5
    x = torch.tensor([3.0], requires_grad=True)
    loss(x, torch.zeros(1)).backward()
    assert x.grad.item() == pytest.approx(1.0)  # constant slope far from the target


def test_smooth_loss_default_is_smooth_l1():
    pred, target = torch.randn(50) * 3, torch.randn(50)
    for delta in (0.25, 1.0):
        expected = F.smooth_l1_loss(pred, target, beta=delta)
        assert os5.SmoothLoss(delta)(pred, target).item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(ValueError, match="delta"):
        os5.SmoothLoss(0)


# --- training ---------------------------------------------------------------------------------
def _toy_data(n=24, size=24):
    """Random images whose overall score is their brightness: learnable by a tiny network."""
    g = torch.Generator().manual_seed(0)
    level = torch.rand(n, generator=g)
    images = (torch.rand(n, 1, size, size, generator=g) * 0.2 + level[:, None, None, None] * 0.8).half()
    units = pd.DataFrame({"hand_id": [f"i{k}:R" for k in range(n)], "patient": [f"P{k}" for k in range(n)],
                          "score": (level * 140).round().numpy(),
                          "split": ["train"] * (n - 8) + ["val"] * 4 + ["test"] * 4})
    return os5.ScoreData.build(units, images, input_size=size - 4)


def test_score_data_uses_training_split_statistics():
    data = _toy_data()
    train = data.units[data.units["split"] == "train"]["score"]
    assert data.zscore.mean == pytest.approx(train.mean())
    train_pixels = data.images[data.indices("train")].double()
    assert data.pixel_mean == pytest.approx(train_pixels.mean().item())
    assert data.pixel_sd == pytest.approx(train_pixels.std().item(), rel=1e-3)
    x, y = data.dataset("val")[0]
    assert x.shape == (1, 20, 20) and y.dtype == torch.float32
    with pytest.raises(ValueError, match="val split is empty"):
        os5.ScoreData.build(data.units.assign(split="train"), data.images, 20)


def test_tiny_training_run_reduces_loss_and_predicts_every_unit():
    data = _toy_data()
    settings = resolve(os5.PROFILES, "smoke", epochs=6, lr=0.01)
    result = os5.train_variant("IRB", data, settings, progress=False)
    history = result.history
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    assert len(result.predictions) == len(data.units)
    assert set(result.predictions.columns) == {"hand_id", "patient", "variant", "score_true", "score_pred", "split"}
    assert result.n_parameters > 0 and result.macs > 0
    again = os5.train_variant("IRB", data, settings, progress=False)
    assert np.allclose(again.predictions["score_pred"], result.predictions["score_pred"])
    baseline = os5.mean_baseline(data)
    assert np.allclose(baseline["score_pred"], data.zscore.mean)


def test_profiles_share_knobs_and_resolve():
    keys = {name: set(p) for name, p in os5.PROFILES.items()}
    assert keys["smoke"] == keys["quick"] == keys["paper"]
    paper = resolve(os5.PROFILES, "paper")
    optimiser = (paper.batch_size, paper.lr, paper.weight_decay, paper.momentum)
    assert optimiser == (4, 1e-3, 1e-3, 0.9) and paper.input_size == 1024
    assert tuple(paper.layers) == (3, 4, 6, 3) and paper.expansion == 6


# --- evaluation -------------------------------------------------------------------------------
def test_agreement_matches_scipy():
    rng = np.random.default_rng(0)
    true = rng.uniform(0, 140, 30)
    pred = true + rng.normal(2, 8, 30)
    row = os5.agreement(true, pred)
    assert row["mae"] == pytest.approx(np.mean(np.abs(pred - true)))
    assert row["rmse"] == pytest.approx(np.sqrt(np.mean((pred - true) ** 2)))
    assert row["pearson_r"] == pytest.approx(scipy_stats.pearsonr(true, pred).statistic)
    reference = scipy_stats.ttest_rel(pred, true)
    assert row["t"] == pytest.approx(reference.statistic) and row["p_t_test"] == pytest.approx(reference.pvalue)


def test_mae_versus_baseline_interval():
    rng = np.random.default_rng(1)
    true = rng.uniform(0, 60, 40)
    common = {"hand_id": [f"h{i}" for i in range(40)], "patient": [f"P{i // 2}" for i in range(40)],
              "score_true": true, "split": "test"}
    table = pd.concat([pd.DataFrame({**common, "variant": "mean baseline", "score_pred": 30.0}),
                       pd.DataFrame({**common, "variant": "IRB", "score_pred": true + rng.normal(0, 2, 40)})])
    result = os5.mae_versus_baseline(table, n_boot=200)
    assert result.diff == pytest.approx(np.mean(np.abs(table["score_pred"].iloc[40:] - true)) -
                                        np.mean(np.abs(30.0 - true)))
    assert result.upper < 0


def test_reader_totals_and_table_2():
    readers = pd.concat([
        _scores({"a:L": 1, "a:R": 2, "b:R": 0}).assign(reader_id="r1"),
        _scores({"a:L": 2, "a:R": 2, "b:R": 1}).assign(reader_id="r2"),
    ])
    units = pd.DataFrame({"hand_id": ["a:L", "a:R", "b:R"]})
    totals = os5.reader_totals(readers, units)
    assert totals.set_index("hand_id").loc["a:L"].tolist() == [31, 62]
    table = os5.reader_agreement(totals)
    assert table[["reader_a", "reader_b"]].values.tolist() == [["r1", "r2"]]
    assert table["mae"].item() == pytest.approx((31 + 0 + 31) / 3)
    per_image = os5.reader_totals(readers, pd.DataFrame({"image_id": ["a", "b"]}), id_column="image_id")
    assert per_image.set_index("image_id").loc["a"].tolist() == [93, 124] and "b" not in set(per_image["image_id"])


def test_joint_sum_predictions_sum_complete_held_out_hands():
    rows = []
    for hand_id, split, true, pred in (("a:L", "test", 1, 2), ("b:R", "train", 1, 1)):
        rows += [{"hand_id": hand_id, "split": split, "method": "m", "grade_true": true, "grade_pred": pred,
                  "site": s.site, "kind": s.kind} for s in HAND_SITES]
    grades = pd.DataFrame(rows)
    units = pd.DataFrame({"hand_id": ["a:L", "b:R"], "patient": ["P1", "P2"], "split": ["test", "test"]})
    out = os5.joint_sum_predictions(grades, units)
    assert out.to_dict("records") == [{"hand_id": "a:L", "patient": "P1", "variant": "sum of stage-4 joint grades (m)",
                                       "score_true": 31, "score_pred": 62, "split": "test"}]
    assert os5.joint_sum_predictions(grades.iloc[1:], units).empty  # a:L lacks one site


def test_table_records_are_strict_json():
    table = pd.DataFrame({"variant": ["a", "b"], "t": [np.inf, 1.5], "r": [np.nan, 0.2]})
    assert os5.table_records(table, "variant") == {"a": {"t": None, "r": None}, "b": {"t": 1.5, "r": 0.2}}
    assert os5.table_records(table)[1] == {"variant": "b", "t": 1.5, "r": 0.2}
