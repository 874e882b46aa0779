import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from ra_lib.core.profiles import resolve
from ra_lib.stages.overall_score import PROFILES
from ra_lib.stages.overall_score import train
from ra_lib.stages.overall_score.data import ScoreData


def test_smooth_loss_regimes_and_continuity():
    loss = train.SmoothLoss(delta=1.0, alpha=0.25)
    assert loss.bias == pytest.approx(0.75)
    near, far = torch.tensor([0.5]), torch.tensor([3.0])
    assert loss(near, torch.zeros(1)).item() == pytest.approx(0.25 * 0.25)  # L2 regime
    assert loss(far, torch.zeros(1)).item() == pytest.approx(3.0 - 0.75)  # L1 regime with bias
    below = loss(torch.tensor([1 - 1e-6]), torch.zeros(1)).item()
    above = loss(torch.tensor([1 + 1e-6]), torch.zeros(1)).item()
    assert abs(above - below) < 1e-5
    x = torch.tensor([3.0], requires_grad=True)
    loss(x, torch.zeros(1)).backward()
    assert x.grad.item() == pytest.approx(1.0)  # constant slope far from the target


def test_smooth_loss_default_is_smooth_l1():
    pred, target = torch.randn(50) * 3, torch.randn(50)
    for delta in (0.25, 1.0):
        expected = F.smooth_l1_loss(pred, target, beta=delta)
        assert train.SmoothLoss(delta)(pred, target).item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(ValueError, match="delta"):
        train.SmoothLoss(0)
    with pytest.raises(ValueError, match="alpha"):
        train.SmoothLoss(1.0, alpha=0)


def test_make_loss_follows_the_settings_or_a_second_delta():
    settings = resolve(PROFILES, "smoke", loss_delta=2.0, loss_alpha=0.1)
    assert (train.make_loss(settings).delta, train.make_loss(settings).alpha) == (2.0, 0.1)
    assert train.make_loss(settings, 0.25).alpha == pytest.approx(2.0)  # smooth at the second delta


def test_model_kwargs_per_family():
    settings = PROFILES["smoke"]
    assert train.model_kwargs("IRB", settings)["expansion"] == 6
    assert train.model_kwargs("tv_resnet50", settings) == {"layers": (1, 1, 1, 1), "weights_path": None}
    assert train.model_kwargs("tv_mobilenet_v2", settings) == {"width_mult": 0.25, "weights_path": None}


def _toy_data(n=24, size=24):
    """Random images whose overall score is their brightness: learnable by a tiny network."""
    g = torch.Generator().manual_seed(0)
    level = torch.rand(n, generator=g)
    images = (torch.rand(n, 1, size, size, generator=g) * 0.2 + level[:, None, None, None] * 0.8).half()
    units = pd.DataFrame({"hand_id": [f"i{k}:R" for k in range(n)], "patient": [f"P{k}" for k in range(n)],
                          "score": (level * 140).round().numpy(),
                          "split": ["train"] * (n - 8) + ["val"] * 4 + ["test"] * 4})
    return ScoreData.build(units, images, input_size=size - 4)


def test_tiny_training_run_reduces_loss_and_predicts_every_unit():
    data = _toy_data()
    settings = resolve(PROFILES, "smoke", epochs=6, lr=0.01)
    result = train.train_variant("IRB", data, settings, progress=False)
    history = result.history
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    assert len(result.predictions) == len(data.units)
    assert set(result.predictions.columns) == {"hand_id", *train.PREDICTION_COLUMNS}
    assert result.n_parameters > 0 and result.macs > 0
    assert result.size_row()["epochs"] == 6
    again = train.train_variant("IRB", data, settings, progress=False)
    assert np.allclose(again.predictions["score_pred"], result.predictions["score_pred"])
    baseline = train.mean_baseline(data)
    assert np.allclose(baseline["score_pred"], data.zscore.mean)
    assert set(baseline["variant"]) == {train.MEAN_BASELINE}


def test_complexity_table_full_size_and_profile_members():
    full = train.complexity_table(["DSC"], [224])
    assert full["parameters"].item() == 1_305_537 and full["gmacs_224px"].item() > 0
    tiny = train.complexity_table(["DSC"], [224], PROFILES["smoke"])
    assert tiny["parameters"].item() < full["parameters"].item()
