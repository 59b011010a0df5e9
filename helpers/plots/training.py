"""Training figures: learning rates per layer and over steps, curves, confusion matrices,
prediction probabilities and gradient conflict."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .base import new_figure, new_grid, short


def layer_learning_rates(table: pd.DataFrame, title: str = "Learning rate per layer") -> Figure:
    """Bars of each optimiser group's base rate (the table from ``layerwise_param_groups``)."""
    rates = table.groupby("layer id", sort=True).agg(lr=("lr", "first"))
    names = [table.index[table["layer id"] == ident][0].replace(" (no decay)", "")
             for ident in rates.index]
    fig, ax = new_figure((8, 3.5))
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
    fig, ax = new_figure((8, 4))
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
    fig, axes = new_grid((4.2 * len(metrics), 3.6), len(metrics))
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
    fig, axes = new_grid((5 * len(matrices), 4.3), len(matrices))
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


def probability_bars(result: dict, title: str = "") -> Figure:
    """One horizontal bar chart per task of a ``predict`` result for one sentence."""
    fig, axes = new_grid((4.5 * len(result), 2.8), len(result))
    for ax, (task, answer) in zip(axes, result.items(), strict=True):
        labels, probs = zip(*answer["probs"].items(), strict=True)
        colours = ["tab:orange" if label == answer["label"] else "tab:blue" for label in labels]
        ax.barh(labels, probs, color=colours)
        ax.set_xlim(0, 1)
        ax.invert_yaxis()
        ax.set_title(f"{task}: {answer['label']} ({answer['probs'][answer['label']]:.2f})")
    if title:
        fig.suptitle(short(title, 90), fontsize=9)
    fig.tight_layout()
    return fig


def gradient_conflict(epochs: dict[str, pd.DataFrame],
                      title: str = "Gradient conflict on the shared encoder") -> Figure:
    """Cosine between the two tasks' encoder gradients per epoch, one line per run, each
    run nudged sideways so none hides another; error bars: ``grad_conflict_sd`` where
    recorded (over probe batches, or over seeds)."""
    fig, ax = new_figure((6.5, 3.6))
    nudge = 0.04 * (np.arange(len(epochs)) - (len(epochs) - 1) / 2)
    for shift, (name, frame) in zip(nudge, epochs.items(), strict=True):
        if "grad_conflict" in frame:
            spread = frame.get("grad_conflict_sd")
            ax.errorbar(frame["epoch"] + shift, frame["grad_conflict"], yerr=spread,
                        marker="o", capsize=3, label=name)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("cosine(∇ topic, ∇ sentiment)")
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def layer_drift(drift: pd.DataFrame, title: str = "How far each layer moved from pretraining"
                ) -> Figure:
    """One line per run (columns) over the encoder's components (rows, bottom to top)."""
    fig, ax = new_figure((8, 3.8))
    for run in drift.columns:
        ax.plot(drift.index, drift[run], marker="o", label=run)
    ax.set_ylabel("relative L2 change ‖θ − θ₀‖ / ‖θ₀‖")
    ax.set_xlabel("component (bottom → top)")
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    return fig
