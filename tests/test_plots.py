"""Figures: each draws what its data says (bars, lines, cell texts, legends)."""

import numpy as np
import pandas as pd
import pytest

from helpers import plots


def texts(ax):
    return [text.get_text() for text in ax.texts]


def test_similarity_heatmap_writes_every_value():
    matrix = np.array([[1.0, 0.25], [0.25, 1.0]])
    fig = plots.similarity_heatmap(matrix, ["first sentence", "second sentence"])
    assert texts(fig.axes[0]) == ["1.00", "0.25", "0.25", "1.00"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["first sentence",
                                                                   "second sentence"]


def test_projection_colours_one_group_per_label():
    vectors = np.random.default_rng(0).normal(size=(6, 4))
    fig = plots.projection_2d(vectors, ["b", "a", "b", "a", "c", "c"], texts=list("uvwxyz"))
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["a", "b", "c"]
    assert len(fig.axes[0].texts) == 6
    with pytest.raises(ValueError, match="at least two vectors"):
        plots.projection_2d(vectors[:1], ["a"])


def test_pooling_grid_has_a_bar_per_choice():
    grid = pd.DataFrame([{"pooling": mode, "layer": layer, "spearman": 50.0 + layer}
                         for mode in ("mean", "cls", "max") for layer in (-1, 0)])
    fig = plots.pooling_grid_bars(grid)
    assert len(fig.axes[0].patches) == 6


def test_layer_rates_one_bar_per_layer_id_in_order():
    table = pd.DataFrame({"layer id": [0, 0, 1, 2], "lr": [0.25, 0.25, 0.5, 1.0]},
                         index=["embeddings", "embeddings (no decay)", "layer.0", "head:x"])
    fig = plots.layer_learning_rates(table)
    assert [bar.get_height() for bar in fig.axes[0].patches] == [0.25, 0.5, 1.0]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["embeddings", "layer.0",
                                                                   "head:x"]


def test_schedule_and_curves_draw_one_line_per_series():
    steps = pd.DataFrame({"step": [1, 2], "lr/layer.0": [1.0, 2.0],
                          "lr/layer.0 (no decay)": [1.0, 2.0], "lr/head": [3.0, 4.0]})
    assert len(plots.learning_rate_schedule(steps).axes[0].lines) == 2
    runs = {"a": pd.DataFrame({"epoch": [1, 2], "loss": [2.0, 1.0], "grad_conflict": [0.1, -0.2]}),
            "b": pd.DataFrame({"epoch": [1, 2], "loss": [3.0, 1.5]})}
    curves = plots.training_curves(runs, ["loss", "grad_conflict"])
    assert [len(ax.lines) for ax in curves.axes] == [2, 1]
    conflict = plots.gradient_conflict(runs)
    assert len(conflict.axes[0].lines) == 2  # run "a" and the zero line


def test_confusion_matrices_write_the_counts():
    matrix = pd.DataFrame([[3, 1], [0, 4]], index=["neg", "pos"], columns=["neg", "pos"])
    fig = plots.confusion_matrices({"sentiment": matrix}, title="test split")
    assert texts(fig.axes[0]) == ["3", "1", "0", "4"]
    assert fig.axes[0].get_title() == "sentiment"


def test_probability_bars_title_names_the_winner():
    result = {"topic": {"label": "food", "probs": {"food": 0.75, "travel": 0.25}}}
    fig = plots.probability_bars(result, "Lovely pasta.")
    assert fig.axes[0].get_title() == "topic: food (0.75)"
    assert [bar.get_width() for bar in fig.axes[0].patches] == [0.75, 0.25]


def test_forest_plots_each_difference_with_its_interval_and_verdict():
    from helpers.evidence import comparison_table

    found = {"a − b, topic": {"difference": 0.05, "ci_low": 0.02, "ci_high": 0.08, "p": 0.001},
             "c − b, topic": {"difference": -0.01, "ci_low": -0.03, "ci_high": 0.01, "p": 0.4}}
    table = comparison_table(found, family="demo")
    assert list(table["verdict"]) == ["higher", "no measurable difference"]
    ax = plots.forest(table, "demo").axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a − b, topic", "c − b, topic"]
    filled, hollow = ax.collections[-2:]
    assert filled.get_offsets()[:, 0].tolist() == [5.0]  # points: × 100
    assert hollow.get_offsets()[:, 0].tolist() == [-1.0]


def test_tradeoff_and_task_curves_draw_one_series_per_run():
    from helpers.training import History

    summary = pd.DataFrame({"mean": [0.9, 0.8], "ci_low": [0.85, 0.7], "ci_high": [0.95, 0.9],
                            "task": "topic"}, index=["a", "b"])
    ax = plots.tradeoff(summary, summary.assign(task="sts")).axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    history = History(steps=[{"step": s, "epoch": 1 + s // 3, "train/topic/loss": 1.0 / s}
                             for s in range(1, 7)],
                      epochs=[{"epoch": e, "validation/topic/accuracy": 0.5 + e / 10}
                              for e in (1, 2)])
    fig = plots.task_curves({"a": [history, history]}, ["topic", "sentiment"])
    assert len(fig.axes[0].lines) == 1 and len(fig.axes[2].lines) == 0  # no sentiment loss
    assert fig.axes[1].lines[0].get_ydata().tolist() == [0.6, 0.7]
