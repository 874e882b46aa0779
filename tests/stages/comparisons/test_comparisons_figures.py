"""ra_lib.stages.comparisons.figures: the Table 4 forest plot."""
import matplotlib.pyplot as plt

from fixtures.comparisons_artifacts import fake_oof
from ra_lib.evaluation import published
from ra_lib.stages.comparisons import figures, table4


def test_forest_plot_draws_one_panel_per_kind_and_metric():
    table = table4.table4_ci(fake_oof(), n_boot=20)
    fig = figures.plot_table4_forest(table, published.table4())
    assert len(fig.axes) == 4
    plt.close(fig)
