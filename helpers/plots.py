"""Every matplotlib figure the notebooks show. Each function returns its ``Figure``.

Each figure is closed in pyplot before it is returned, so Jupyter shows it exactly once
(as the cell's value) and figures do not pile up in pyplot's global list.
"""

from __future__ import annotations

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
