"""Reliability diagrams: how often the model is right at each level of confidence."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from matplotlib.figure import Figure

from .base import new_grid


def reliability_diagram(tables: Mapping[str, Mapping[str, pd.DataFrame]],
                        title: str = "Reliability: accuracy against confidence") -> Figure:
    """One panel per task; in each, one line per variant (e.g. "before" / "after temperature")
    from ``calibration.reliability_bins``: points on the diagonal are calibrated, points
    below it over-confident. Marker area shows how many sentences a bin holds."""
    fig, axes = new_grid((5 * len(tables), 4.2), len(tables))
    for ax, (task, variants) in zip(axes, tables.items(), strict=True):
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="calibrated")
        for name, table in variants.items():
            ax.plot(table["confidence"], table["accuracy"], marker="o", label=name)
            ax.scatter(table["confidence"], table["accuracy"], s=table["rows"], alpha=0.25)
        ax.set(xlim=(0, 1.02), ylim=(0, 1.02), xlabel="mean confidence in the bin",
               ylabel="accuracy in the bin", title=task)
        ax.legend(loc="upper left")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
