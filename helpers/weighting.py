"""Multi-task losses: masked cross-entropy per task and how to weight the tasks.

One small class per weighting strategy, separate from the architecture (as in LibMTL).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .data import MISSING_LABEL

WEIGHTINGS = ("fixed", "uncertainty")


def task_losses(
    logits: Mapping[str, torch.Tensor], labels: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Mean cross-entropy per task over the rows that carry a label for it.

    Rows labelled ``MISSING_LABEL`` are ignored; a task with no labelled row in the batch
    is left out (its loss would be 0/0).
    """
    losses = {}
    for task, target in labels.items():
        if task in logits and bool((target != MISSING_LABEL).any()):
            losses[task] = F.cross_entropy(logits[task], target, ignore_index=MISSING_LABEL)
    return losses


class FixedWeighting(nn.Module):
    """Σ w_t · L_t with constant weights (default: all 1, i.e. equal weighting)."""

    def __init__(self, tasks: Sequence[str], weights: Mapping[str, float] | None = None):
        super().__init__()
        weights = dict(weights or {})
        unknown = sorted(set(weights) - set(tasks))
        if unknown:
            raise ValueError(f"loss weights name unknown task(s) {unknown}; tasks are "
                             f"{list(tasks)}")
        self.weights = {task: float(weights.get(task, 1.0)) for task in tasks}

    def forward(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return sum(self.weights[task] * loss for task, loss in losses.items())

    def current(self) -> dict[str, float]:
        return dict(self.weights)


class UncertaintyWeighting(nn.Module):
    """Kendall, Gal & Cipolla (2018): learn a log-variance s_t per task and minimise
    Σ ½·exp(−s_t)·L_t + ½·s_t, so noisier tasks get smaller weights automatically.
    """

    def __init__(self, tasks: Sequence[str]):
        super().__init__()
        self.log_vars = nn.ParameterDict({task: nn.Parameter(torch.zeros(())) for task in tasks})

    def forward(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return sum(0.5 * torch.exp(-self.log_vars[task]) * loss + 0.5 * self.log_vars[task]
                   for task, loss in losses.items())

    def current(self) -> dict[str, float]:
        """The effective weight ½·exp(−s_t) of each task."""
        return {task: float(0.5 * torch.exp(-value.detach())) for task, value in
                self.log_vars.items()}


def make_weighting(kind: str, tasks: Sequence[str],
                   weights: Mapping[str, float] | None = None) -> nn.Module:
    if kind == "uncertainty":
        if weights:
            raise ValueError("loss_weights are learned with 'uncertainty'; leave them unset")
        return UncertaintyWeighting(tasks)
    if kind == "fixed":
        return FixedWeighting(tasks, weights)
    raise ValueError(f"unknown loss weighting {kind!r}; expected one of {WEIGHTINGS}")
