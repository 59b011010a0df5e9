"""Experiment figures: freezing strategies, and seeded runs with 95 % intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .base import new_grid, short


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
