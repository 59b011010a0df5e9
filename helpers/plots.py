"""Every matplotlib figure the notebooks show. Each function returns its ``Figure``.

Each figure is closed in pyplot before it is returned, so Jupyter shows it exactly once
(as the cell's value) and figures do not pile up in pyplot's global list.
"""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.decomposition import PCA


def _new_figure(figsize: tuple[float, float]):
    """A figure and axes that pyplot no longer tracks (see the module docstring)."""
    fig, ax = plt.subplots(figsize=figsize)
    plt.close(fig)
    return fig, ax


def _new_grid(figsize: tuple[float, float], columns: int):
    """A figure with one row of ``columns`` axes, untracked by pyplot."""
    fig, axes = plt.subplots(1, columns, figsize=figsize, squeeze=False)
    plt.close(fig)
    return fig, axes[0]


def _short(text: str, width: int = 40) -> str:
    return textwrap.shorten(text, width=width, placeholder="…")


def similarity_heatmap(
    matrix: np.ndarray, labels: Sequence[str], title: str = "Cosine similarity"
) -> Figure:
    """Square heatmap of a similarity matrix with each cell's value written in it."""
    size = max(4.0, 0.6 * len(labels) + 2.5)
    fig, ax = _new_figure((size + 1.5, size))
    image = ax.imshow(matrix, cmap="viridis", vmin=min(0.0, float(matrix.min())), vmax=1.0)
    short = [_short(label) for label in labels]
    ax.set_xticks(range(len(labels)), short, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), short)
    if len(labels) <= 15:
        for (row, col), value in np.ndenumerate(matrix):
            colour = "black" if value > 0.6 else "white"
            ax.text(col, row, f"{value:.2f}", ha="center", va="center", color=colour, fontsize=8)
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def projection_2d(
    vectors: np.ndarray,
    labels: Sequence[str],
    texts: Sequence[str] | None = None,
    title: str = "Sentence vectors, first two principal components",
) -> Figure:
    """PCA to 2-D, one colour per label; ``texts`` (optional) annotate the points."""
    if len(vectors) < 2:
        raise ValueError("projection_2d(): need at least two vectors to project")
    points = PCA(n_components=2, random_state=0).fit_transform(vectors)
    fig, ax = _new_figure((7, 5.5))
    for label in sorted(set(labels)):
        chosen = np.array([item == label for item in labels])
        ax.scatter(points[chosen, 0], points[chosen, 1], label=label, s=40, alpha=0.8)
    if texts is not None:
        for (x, y), text in zip(points, texts, strict=True):
            ax.annotate(_short(text, 28), (x, y), fontsize=7, alpha=0.75,
                        xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.legend(title="label", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def pooling_grid_bars(
    grid: pd.DataFrame, title: str = "STS Spearman by pooling and layer"
) -> Figure:
    """Grouped bars: one group per layer, one bar per pooling mode."""
    table = grid.pivot(index="layer", columns="pooling", values="spearman").sort_index()
    fig, ax = _new_figure((8, 4))
    table.plot.bar(ax=ax, rot=0, width=0.8)
    ax.set_ylabel("Spearman × 100")
    ax.set_xlabel("hidden layer pooled (0 = embeddings)")
    ax.set_ylim(min(0.0, float(table.min().min()) - 5), 100)
    ax.legend(title="pooling", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def layer_learning_rates(table: pd.DataFrame, title: str = "Learning rate per layer") -> Figure:
    """Bars of each optimiser group's base rate (the table from ``layerwise_param_groups``)."""
    rates = table.groupby("layer id", sort=True).agg(lr=("lr", "first"))
    names = [table.index[table["layer id"] == ident][0].replace(" (no decay)", "")
             for ident in rates.index]
    fig, ax = _new_figure((8, 3.5))
    ax.bar(names, rates["lr"], color="tab:blue")
    ax.set_yscale("log")
    ax.set_ylabel("learning rate (log scale)")
    ax.tick_params(axis="x", rotation=30)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def learning_rate_schedule(steps: pd.DataFrame, title: str = "Learning rate per group over steps"
                           ) -> Figure:
    """Each group's rate at every optimiser step (from ``History.frame("steps")``)."""
    columns = [c for c in steps.columns if c.startswith("lr/") and "(no decay)" not in c]
    fig, ax = _new_figure((8, 4))
    for column in columns:
        ax.plot(steps["step"], steps[column], label=column.removeprefix("lr/"))
    ax.set_yscale("log")
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("learning rate (log scale)")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def training_curves(epochs: dict[str, pd.DataFrame], metrics: Sequence[str]) -> Figure:
    """One panel per metric, one line per run (``{run name: History.frame()}``)."""
    fig, axes = _new_grid((4.2 * len(metrics), 3.6), len(metrics))
    for ax, metric in zip(axes, metrics, strict=True):
        for name, frame in epochs.items():
            if metric in frame:
                ax.plot(frame["epoch"], frame[metric], marker="o", label=name)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def confusion_matrices(matrices: dict[str, pd.DataFrame], title: str = "") -> Figure:
    """Side-by-side confusion matrices (rows: true label, columns: predicted)."""
    fig, axes = _new_grid((5 * len(matrices), 4.3), len(matrices))
    for ax, (task, matrix) in zip(axes, matrices.items(), strict=True):
        ax.imshow(matrix.to_numpy(), cmap="Blues")
        ax.set_xticks(range(len(matrix.columns)), matrix.columns, rotation=35, ha="right")
        ax.set_yticks(range(len(matrix.index)), matrix.index)
        for (row, col), value in np.ndenumerate(matrix.to_numpy()):
            ax.text(col, row, str(value), ha="center", va="center",
                    color="white" if value > matrix.to_numpy().max() / 2 else "black")
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{task}")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def strategy_results(results: pd.DataFrame, tasks: Sequence[str], split: str = "test"
                     ) -> Figure:
    """Freezing experiments: accuracy per task, trainable parameters vs accuracy, time."""
    fig, (bars, scatter, timing) = _new_grid((15, 4.5), 3)
    names = list(results["strategy"])
    width = 0.8 / len(tasks)
    colours = {task: f"C{index}" for index, task in enumerate(tasks)}
    for offset, task in enumerate(tasks):
        bars.bar(np.arange(len(names)) + offset * width, results[f"{split}/{task}/accuracy"],
                 width=width, label=task, color=colours[task])
    # Strategies with similar parameter counts sit on top of each other: a marker per
    # strategy (legend) stays readable where text labels would overlap.
    for (_, row), marker in zip(results.iterrows(), itertools.cycle("osD^vP*Xph<>")):
        for task in tasks:
            scatter.scatter(row["trainable"], row[f"{split}/{task}/accuracy"], marker=marker, s=55,
                            color=colours[task], alpha=0.85, edgecolors="black", linewidths=0.5)
        scatter.scatter([], [], marker=marker, color="grey", label=_short(row["strategy"], 24))
    bars.set_xticks(np.arange(len(names)) + width * (len(tasks) - 1) / 2, names, rotation=35,
                    ha="right")
    bars.set_ylabel(f"{split} accuracy")
    bars.set_ylim(0, 1)
    bars.legend(fontsize=8)
    bars.set_title("Accuracy per task")
    scatter.set_xscale("symlog")
    scatter.set_xlabel("trainable parameters (symlog)")
    scatter.set_ylabel(f"{split} accuracy (colour: task as on the left)")
    scatter.legend(fontsize=7, loc="lower right", title="strategy", title_fontsize=7)
    scatter.set_title("Trainable parameters vs accuracy")
    timing.barh(names, results["seconds"], color="tab:gray")
    timing.invert_yaxis()
    timing.set_xlabel("training seconds")
    timing.set_title("Time per strategy")
    fig.tight_layout()
    return fig


def probability_bars(result: dict, title: str = "") -> Figure:
    """One horizontal bar chart per task of a ``predict`` result for one sentence."""
    fig, axes = _new_grid((4.5 * len(result), 2.8), len(result))
    for ax, (task, answer) in zip(axes, result.items(), strict=True):
        labels, probs = zip(*answer["probs"].items(), strict=True)
        colours = ["tab:orange" if label == answer["label"] else "tab:blue" for label in labels]
        ax.barh(labels, probs, color=colours)
        ax.set_xlim(0, 1)
        ax.invert_yaxis()
        ax.set_title(f"{task}: {answer['label']} ({answer['probs'][answer['label']]:.2f})")
    if title:
        fig.suptitle(_short(title, 90), fontsize=9)
    fig.tight_layout()
    return fig


def gradient_conflict(epochs: dict[str, pd.DataFrame],
                      title: str = "Gradient conflict on the shared encoder") -> Figure:
    """Cosine between the two tasks' encoder gradients per epoch, one line per run."""
    fig, ax = _new_figure((6.5, 3.6))
    for name, frame in epochs.items():
        if "grad_conflict" in frame:
            ax.plot(frame["epoch"], frame["grad_conflict"], marker="o", label=name)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("epoch")
    ax.set_ylabel("cosine(∇ topic, ∇ sentiment)")
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig
