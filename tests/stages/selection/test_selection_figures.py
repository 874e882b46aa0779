"""Stage 1 chapter tables and figures: shown on a trained run, a note on a cohort that trained nothing."""
import matplotlib.figure
import pandas as pd
import pytest
from IPython.display import Markdown

from fixtures.selection_cohorts import one_hand_cohort, toy_settings
from ra_lib.evaluation import published
from ra_lib.stages.selection import figures, run
from ra_lib.stages.selection.evaluate import FUSION, TAGS


@pytest.fixture(scope="module")
def skipped():
    return run(one_hand_cohort(), toy_settings(), seed=0, progress=False)


def test_tag_table_counts_every_image(toy):
    table = figures.tag_table(toy.images)
    assert table.loc["total", "total"] == len(toy.images)
    assert table.loc["one_hand", "HAND"] == 24 and table.loc["other", "CHEST"] == 36


def test_headline_table_puts_the_paper_first(toy_result):
    table = figures.headline_table(toy_result)
    paper = published.headline().set_index("id")["value"]
    first = table.iloc[0]
    assert first["model 1 (one hand)"] == paper["000.model1_accuracy"] and first["correct"] == "206 / 206"
    assert {FUSION, TAGS} <= set(table.index) and table.index[-1].startswith("majority class")
    assert table.loc[FUSION, "accuracy"] == toy_result.headline()["accuracy/two_binary_fused"]
    assert list(figures.binary_table(toy_result).columns) == figures.BINARY_COLUMNS


def test_tables_of_a_trained_run(toy_result):
    assert figures.confusion(toy_result, FUSION).to_numpy().sum() == toy_result.metrics["n"]
    hands = figures.tag_hands_table(toy_result)
    assert list(hands.columns) == ["selected by tag"] and hands.to_numpy().sum() > 0
    assert "paper" in figures.table2(toy_result).columns
    assert isinstance(figures.rotation_table(toy_result), pd.DataFrame)
    assert "test images (fold 0)" in figures.split_summary(toy_result).data
    assert "fused models" in figures.summary(toy_result).data


def test_figures_are_saved(toy, toy_result, tmp_path):
    fig = figures.learning_curves(toy_result, tmp_path / "curves.png")
    assert isinstance(fig, matplotlib.figure.Figure) and (tmp_path / "curves.png").exists()
    shown = figures.gallery(toy_result, toy.load_image, rotated=True, n=2, path=tmp_path / "rotated.png")
    assert isinstance(shown, (matplotlib.figure.Figure, Markdown))


def test_skipped_run_shows_notes(skipped):
    for helper in (figures.table2, figures.learning_curves, figures.headline_table, figures.binary_table,
                   figures.tag_hands_table, figures.rotation_table):
        note = helper(skipped)
        assert isinstance(note, Markdown) and "No model was trained" in note.data
    assert "Nothing is trained" in figures.split_summary(skipped).data
    assert "one class (one_hand)" in figures.split_summary(skipped).data
    assert "No model was trained" in figures.summary(skipped).data


def test_orientation_table_and_confusion(oriented_result, toy_result, tmp_path):
    table = figures.orientation_table(oriented_result)
    assert table.loc[("all", "all"), "n"] == len(oriented_result.orientation.variants)
    assert {"thumb left", "thumb right", "both hands"} <= set(table.index.get_level_values("side"))
    figure = figures.orientation_confusion(oriented_result, tmp_path / "orientation.png")
    assert isinstance(figure, matplotlib.figure.Figure) and (tmp_path / "orientation.png").is_file()
    for helper in (figures.orientation_table, figures.orientation_confusion):
        assert "no orientation truth" in helper(toy_result).data
