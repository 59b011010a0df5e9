"""Notebook 01's figures: similarity heatmap, 2-D projection, pooling × layer bars."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.decomposition import PCA

from .base import new_figure, new_grid, short


def similarity_heatmap(
    matrix: np.ndarray, labels: Sequence[str], title: str = "Cosine similarity"
) -> Figure:
    """Square heatmap of a similarity matrix with each cell's value written in it."""
    size = max(4.0, 0.6 * len(labels) + 2.5)
    fig, ax = new_figure((size + 1.5, size))
    image = ax.imshow(matrix, cmap="viridis", vmin=min(0.0, float(matrix.min())), vmax=1.0)
    names = [short(label) for label in labels]
    ax.set_xticks(range(len(labels)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), names)
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
    fig, ax = new_figure((7, 5.5))
    for label in sorted(set(labels)):
        chosen = np.array([item == label for item in labels])
        ax.scatter(points[chosen, 0], points[chosen, 1], label=label, s=40, alpha=0.8)
    if texts is not None:
        for (x, y), text in zip(points, texts, strict=True):
            ax.annotate(short(text, 28), (x, y), fontsize=7, alpha=0.75,
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
    fig, ax = new_figure((8, 4))
    table.plot.bar(ax=ax, rot=0, width=0.8)
    ax.set_ylabel("Spearman × 100")
    ax.set_xlabel("hidden layer pooled (0 = embeddings)")
    ax.set_ylim(min(0.0, float(table.min().min()) - 5), 100)
    ax.legend(title="pooling", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def embedding_sizes(summary: pd.DataFrame, title: str = "Smaller sentence vectors") -> Figure:
    """One panel per task (STS Spearman, then accuracy per task): the score against the
    number of dimensions, a line per method, error bars the 95 % interval over seeds
    (``summary``: ``evidence.summarize`` of ``dimensions.size_table``, runs "METHOD, DIM")."""
    parts = summary["run"].str.rsplit(", ", n=1)
    frame = summary.assign(method=parts.str[0], dim=parts.str[1].astype(int))
    tasks, dims = list(dict.fromkeys(frame["task"])), sorted(frame["dim"].unique())
    fig, axes = new_grid((4.2 * len(tasks), 3.6), len(tasks))
    for ax, task in zip(axes, tasks, strict=True):
        for method, line in frame[frame["task"] == task].groupby("method", sort=False):
            line = line.sort_values("dim")
            error = [(line["mean"] - line["ci_low"]).fillna(0),
                     (line["ci_high"] - line["mean"]).fillna(0)]
            ax.errorbar(line["dim"], line["mean"], yerr=error, marker="o", capsize=3, label=method)
        ax.set_xscale("log", base=2)
        ax.set_xticks(dims, [str(d) for d in dims])
        ax.set_xlabel("dimensions")
        ax.set_title(task)
        ax.set_ylabel(line["metric"].iloc[0])
    axes[0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig
