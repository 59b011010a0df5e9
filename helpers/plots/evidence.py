"""Figures of the compared quantity itself: paired differences with their intervals
(forest plot), task accuracy against retained sentence similarity, per-task curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .base import new_figure, new_grid, short


def forest(table: pd.DataFrame, title: str, unit: float = 100.0, label: str = "points"
           ) -> Figure:
    """One row per comparison (``evidence.comparison_table``): the difference and its 95 %
    interval, times ``unit``; a line at 0, filled markers where Holm finds a difference."""
    fig, ax = new_figure((7.5, 0.42 * len(table) + 1.4))
    rows = np.arange(len(table))[::-1]
    middle = table["difference"].to_numpy() * unit
    errors = [middle - table["ci_low"].to_numpy() * unit,
              table["ci_high"].to_numpy() * unit - middle]
    ax.errorbar(middle, rows, xerr=errors, fmt="none", ecolor="tab:blue", capsize=3)
    measurable = (table["verdict"] != "no measurable difference").to_numpy()
    ax.scatter(middle[measurable], rows[measurable], color="tab:blue", zorder=3,
               label="measurable after Holm")
    ax.scatter(middle[~measurable], rows[~measurable], facecolor="white",
               edgecolor="tab:blue", zorder=3, label="no measurable difference")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(rows, [short(name, 48) for name in table.index])
    ax.set_xlabel(f"difference ({label}), 95 % interval over seeds and test items")
    ax.legend(fontsize=7, loc="best")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def tradeoff(accuracy: pd.DataFrame, similarity: pd.DataFrame,
             title: str = "Task accuracy against what is kept of sentence similarity"
             ) -> Figure:
    """One point per run: mean task accuracy (x) and STS Spearman (y), each with its 95 %
    interval (``SeededResults.summary`` rows of one task each, indexed by run). Runs named
    ``"source · run"`` (``seeded_results.tradeoff_table``) get one marker per source; 20
    colours, so no two runs share a colour and a marker; the legend sits outside."""
    fig, ax = new_figure((8.4, 4.4))
    sources = list(dict.fromkeys(str(run).partition(" · ")[0] for run in accuracy.index))
    colours = plt.get_cmap("tab20").colors
    for index, run in enumerate(accuracy.index):
        x, y = accuracy.loc[run], similarity.loc[run]
        marker = "osD^v"[sources.index(str(run).partition(" · ")[0]) % 5]
        ax.errorbar(x["mean"], y["mean"], xerr=_spread(x), yerr=_spread(y), fmt=marker,
                    color=colours[index % len(colours)], capsize=3, label=short(run, 34))
    ax.set_xlabel(f"test accuracy, {accuracy['task'].iloc[0]} (mean over seeds)")
    ax.set_ylabel("STS Spearman of the encoder (data/sts_pairs.csv)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _spread(row: pd.Series) -> list[list[float]]:
    return [[row["mean"] - row["ci_low"]], [row["ci_high"] - row["mean"]]]


def task_curves(histories: Mapping[str, Sequence], tasks: Sequence[str],
                smooth: int = 5) -> Figure:
    """Per task: training loss per optimiser step (rolling mean over ``smooth`` steps) and
    validation accuracy per epoch, one line per run: the mean over its seeds' ``History``
    objects. A run that does not train a task has no line in that task's panels."""
    fig, axes = new_grid((4.2 * 2 * len(tasks), 3.6), 2 * len(tasks))
    for index, task in enumerate(tasks):
        loss_ax, accuracy_ax = axes[2 * index], axes[2 * index + 1]
        for colour, (run, runs) in enumerate(histories.items()):
            steps = [h.frame("steps").set_index("step") for h in runs]
            if f"train/{task}/loss" not in steps[0]:
                continue
            loss = pd.concat([s[f"train/{task}/loss"] for s in steps], axis=1).mean(axis=1)
            accuracy = pd.concat([h.frame().set_index("epoch")[f"validation/{task}/accuracy"]
                                  for h in runs], axis=1).mean(axis=1)
            style = {"color": f"C{colour}", "label": short(run, 26)}
            loss_ax.plot(loss.index, loss.rolling(smooth, min_periods=1).mean(), **style)
            accuracy_ax.plot(accuracy.index, accuracy, marker="o", **style)
        loss_ax.set(title=f"{task}: training loss", xlabel="optimiser step")
        accuracy_ax.set(title=f"{task}: validation accuracy", xlabel="epoch")
        accuracy_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        for ax in (loss_ax, accuracy_ax):
            ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig
