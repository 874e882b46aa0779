import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from ra_lib.stages.overall_score import figures  # noqa: E402
from ra_lib.stages.overall_score.data import ScoreData  # noqa: E402
from ra_lib.stages.overall_score.train import VariantResult  # noqa: E402


def _data(n=8):
    units = pd.DataFrame({"hand_id": [f"i{k}:R" for k in range(n)], "patient": [f"P{k}" for k in range(n)],
                          "score": np.arange(n) * 5.0, "split": ["train"] * (n - 2) + ["val", "test"]})
    return ScoreData.build(units, torch.rand(n, 1, 20, 20).half(), input_size=18)


def test_distribution_and_augmentation_figures():
    data = _data()
    fig = figures.plot_score_distribution(data, "hand")
    assert fig.axes[0].get_xlabel() == "overall SvdH score (0-140)"
    fig = figures.plot_augmentation(data, seed=0, n_crops=3)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["cached", "augmented", "augmented", "augmented"]
    plt.close("all")


def test_learning_curves_one_axis_per_variant():
    history = pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.5], "val_loss": [1.2, 0.9]})
    results = [VariantResult(v, None, history, 1.0, pd.DataFrame(), 1, 1) for v in ("IRB", "DSC")]
    fig = figures.plot_learning_curves(results)
    assert [ax.get_title() for ax in fig.axes] == ["IRB", "DSC"]
    plt.close("all")


def test_test_agreement_scatter_and_bland_altman():
    true = np.array([0.0, 10.0, 20.0, 40.0])
    fig = figures.plot_test_agreement(true, true + np.array([1.0, -1.0, 2.0, 0.0]), "image")
    left, right = fig.axes
    assert left.get_lines()[0].get_xdata().tolist() == [0, 280]  # identity up to the image maximum
    assert len(right.get_lines()) == 3  # bias and two limits of agreement
    plt.close("all")
