"""Figures that pyplot does not track: each is closed in pyplot before it is returned, so
Jupyter shows it exactly once (as the cell's value) and figures do not pile up."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt


def new_figure(figsize: tuple[float, float]):
    """A figure and axes that pyplot no longer tracks (see the module docstring)."""
    fig, ax = plt.subplots(figsize=figsize)
    plt.close(fig)
    return fig, ax


def new_grid(figsize: tuple[float, float], columns: int):
    """A figure with one row of ``columns`` axes, untracked by pyplot."""
    fig, axes = plt.subplots(1, columns, figsize=figsize, squeeze=False)
    plt.close(fig)
    return fig, axes[0]


def short(text: str, width: int = 40) -> str:
    return textwrap.shorten(text, width=width, placeholder="…")
