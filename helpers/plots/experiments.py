"""Experiment figures: freezing strategies, and seeded runs with 95 % intervals."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .base import new_grid, short


def strategy_results(results: pd.DataFrame, tasks: Sequence[str], split: str = "test"
                     ) -> Figure:
    """Freezing experiments: accuracy per task, trainable parameters vs accuracy, time."""
    fig, (bars, scatter, timing) = new_grid((15, 4.5), 3)
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
        scatter.scatter([], [], marker=marker, color="grey", label=short(row["strategy"], 24))
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


def seeded_results(summary: pd.DataFrame, title: str = "Mean over seeds with 95 % interval"
                   ) -> Figure:
    """One panel per task: a bar per run (mean over seeds), error bars its 95 % interval
    (``summary`` from ``SeededResults.summary()``)."""
    tasks = list(dict.fromkeys(summary["task"]))
    fig, axes = new_grid((5.5 * len(tasks), 4), len(tasks))
    for ax, task in zip(axes, tasks, strict=True):
        part = summary[summary["task"] == task]
        low = (part["mean"] - part["ci_low"]).fillna(0)
        high = (part["ci_high"] - part["mean"]).fillna(0)
        positions = np.arange(len(part))
        ax.bar(positions, part["mean"], yerr=[low, high], capsize=4, color="tab:blue",
               alpha=0.8)
        ax.set_xticks(positions, [short(r, 24) for r in part["run"]], rotation=30, ha="right")
        ax.set_ylabel(f"{part['metric'].iloc[0]} (mean of {int(part['seeds'].max())} seeds)")
        ax.set_ylim(max(0.0, float(part["ci_low"].min()) - 0.1), 1.0)
        ax.set_title(task)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
