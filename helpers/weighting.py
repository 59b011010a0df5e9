"""Multi-task losses: masked cross-entropy per task and how the tasks are combined.

One small class per method, separate from the architecture (as in LibMTL). Every method
implements one protocol, ``backward(losses, shared, backward) -> total loss``:

- a *loss* weighting (``fixed``, ``uncertainty``) combines the task losses into one
  scalar and backpropagates it;
- a *gradient* weighting (``pcgrad``) asks for each task's gradient on the ``shared``
  encoder parameters (``task_gradients``, also used by the gradient-conflict probe),
  combines them, and writes the result into ``.grad``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from .data import MISSING_LABEL

WEIGHTINGS = ("fixed", "uncertainty", "pcgrad")
Backward = Callable[[torch.Tensor], None]


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


def task_gradients(losses: Mapping[str, torch.Tensor], shared: Sequence[nn.Parameter],
                   keep_graph: bool = True) -> dict[str, torch.Tensor]:
    """Each task's gradient on ``shared``, flattened into one vector (zeros where unused)."""
    gradients = {}
    for task, loss in losses.items():
        grads = torch.autograd.grad(loss, shared, retain_graph=keep_graph, allow_unused=True)
        gradients[task] = torch.cat([(g if g is not None else torch.zeros_like(p)).flatten()
                                     for g, p in zip(grads, shared, strict=True)])
    return gradients


def processes() -> int:
    """How many processes share this data-parallel run (1 when alone)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def mean_across_processes(tensor: torch.Tensor) -> None:
    """Average ``tensor`` in place over the processes of a data-parallel run (no-op alone)."""
    if processes() > 1:
        dist.all_reduce(tensor)
        tensor /= processes()


def project_conflicts(gradients: Sequence[torch.Tensor], generator: torch.Generator
                      ) -> torch.Tensor:
    """PCGrad (Yu et al. 2020): for each task gradient, remove its component along every
    other task's gradient it conflicts with (negative dot product), in random order; sum."""
    projected = []
    for i, gradient in enumerate(gradients):
        result = gradient.clone()
        others = [j for j in torch.randperm(len(gradients), generator=generator).tolist()
                  if j != i]
        for j in others:
            dot = torch.dot(result, gradients[j])
            if dot < 0:
                result -= dot / gradients[j].pow(2).sum().clamp_min(1e-20) * gradients[j]
        projected.append(result)
    return torch.stack(projected).sum(dim=0)


class LossWeighting(nn.Module):
    """Base of the scalar methods: ``combine`` the losses, then backpropagate the total."""

    def combine(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def backward(self, losses: Mapping[str, torch.Tensor], shared: Sequence[nn.Parameter],
                 backward: Backward) -> torch.Tensor:
        total = self.combine(losses)
        backward(total)
        return total


class FixedWeighting(LossWeighting):
    """Σ w_t · L_t with constant weights (default: all 1, i.e. equal weighting)."""

    def __init__(self, tasks: Sequence[str], weights: Mapping[str, float] | None = None):
        super().__init__()
        weights = dict(weights or {})
        unknown = sorted(set(weights) - set(tasks))
        if unknown:
            raise ValueError(f"loss weights name unknown task(s) {unknown}; tasks are "
                             f"{list(tasks)}")
        self.weights = {task: float(weights.get(task, 1.0)) for task in tasks}

    def combine(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return sum(self.weights[task] * loss for task, loss in losses.items())

    def current(self) -> dict[str, float]:
        return dict(self.weights)


class UncertaintyWeighting(LossWeighting):
    """Kendall, Gal & Cipolla (2018): learn a log-variance s_t per task and minimise
    Σ ½·exp(−s_t)·L_t + ½·s_t, so noisier tasks get smaller weights automatically.
    """

    def __init__(self, tasks: Sequence[str]):
        super().__init__()
        self.log_vars = nn.ParameterDict({task: nn.Parameter(torch.zeros(())) for task in tasks})

    def combine(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return sum(0.5 * torch.exp(-self.log_vars[task]) * loss + 0.5 * self.log_vars[task]
                   for task, loss in losses.items())

    def current(self) -> dict[str, float]:
        """The effective weight ½·exp(−s_t) of each task."""
        return {task: float(0.5 * torch.exp(-value.detach())) for task, value in
                self.log_vars.items()}


class PCGradWeighting(nn.Module):
    """PCGrad on the shared encoder; each head gets its own task's gradient as usual.

    Under several processes the projected gradient is averaged across them, since each
    process projects its own batch's gradients.
    """

    def __init__(self, tasks: Sequence[str], seed: int = 0):
        super().__init__()
        self.tasks = list(tasks)
        self.generator = torch.Generator().manual_seed(seed)

    def backward(self, losses: Mapping[str, torch.Tensor], shared: Sequence[nn.Parameter],
                 backward: Backward) -> torch.Tensor:
        total = sum(losses.values())
        if len(losses) < 2 or not shared:
            backward(total)
            return total
        combined = project_conflicts(list(task_gradients(losses, shared).values()),
                                     self.generator)
        earlier = [None if p.grad is None else p.grad.clone() for p in shared]
        backward(total)  # heads' gradients; the shared ones are replaced below
        mean_across_processes(combined)
        offset = 0
        for parameter, before in zip(shared, earlier, strict=True):
            piece = combined[offset:offset + parameter.numel()].view_as(parameter)
            parameter.grad = piece.clone() if before is None else before + piece
            offset += parameter.numel()
        return total

    def current(self) -> dict[str, float]:
        return dict.fromkeys(self.tasks, 1.0)


def make_weighting(kind: str, tasks: Sequence[str],
                   weights: Mapping[str, float] | None = None, seed: int = 0) -> nn.Module:
    if kind in ("uncertainty", "pcgrad") and weights:
        raise ValueError(f"loss_weights apply to 'fixed' weighting only, not {kind!r}")
    if kind == "uncertainty":
        return UncertaintyWeighting(tasks)
    if kind == "pcgrad":
        return PCGradWeighting(tasks, seed)
    if kind == "fixed":
        return FixedWeighting(tasks, weights)
    raise ValueError(f"unknown loss weighting {kind!r}; expected one of {WEIGHTINGS}")
