"""Multi-task losses: masked cross-entropy per task and how the tasks are combined.

One small class per method, separate from the architecture (as LibMTL's ``AbsWeighting``).
The recipe for a new method, one class in this module:

1. subclass ``Weighting``; set ``needs_every_task = True`` if a step is useless unless it
   holds a batch of every task (gradient methods): the loop then draws one batch per
   source each step instead of one source per step;
2. implement ``backward(losses, shared, backward) -> total``. ``losses`` is
   ``{task: scalar}``; ``shared`` the trainable parameters every task reaches
   (``shared_parameters``: encoder and projection); ``backward`` the accelerator's
   backward, which divides by the accumulation steps and scales fp16 losses: call it for
   every gradient, never ``loss.backward()`` or ``autograd.grad`` directly, and pass
   ``retain_graph=True`` to call it again on the same graph;
3. ``current()`` returns the task weights in effect, for the history;
4. add it to ``make_weighting`` and ``WEIGHTINGS``.

A *loss* weighting (``fixed``, ``uncertainty``) combines the losses into one scalar and
calls ``backward`` once. A *gradient* weighting (``pcgrad``) calls it once per task,
reads each task's gradient on ``shared``, combines them and writes the result back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from ..tasks import MISSING_LABEL

WEIGHTINGS = ("fixed", "uncertainty", "pcgrad")
Backward = Callable[..., None]  # (loss, retain_graph=...) -> None


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
    """Each task's gradient on ``shared``, flattened into one vector (zeros where unused),
    for measuring only (the gradient-conflict probe): training goes through ``backward``."""
    gradients = {}
    for task, loss in losses.items():
        grads = torch.autograd.grad(loss, shared, retain_graph=keep_graph, allow_unused=True)
        gradients[task] = _flat(grads, shared)
    return gradients


def _flat(grads: Sequence[torch.Tensor | None], shared: Sequence[nn.Parameter]) -> torch.Tensor:
    return torch.cat([(g if g is not None else torch.zeros_like(p)).flatten()
                      for g, p in zip(grads, shared, strict=True)])


def shared_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The trainable parameters every task's loss reaches: the encoder's and the projection's."""
    parts = [model.encoder] + ([model.projection] if model.projection is not None else [])
    return [p for part in parts for p in part.parameters() if p.requires_grad]


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


class Weighting(nn.Module):
    """The protocol every method implements (see the recipe above)."""

    needs_every_task = False
    backward_passes = 1  # backward calls per step; more than one cannot run under DDP's sync

    def backward(self, losses: Mapping[str, torch.Tensor], shared: Sequence[nn.Parameter],
                 backward: Backward) -> torch.Tensor:
        raise NotImplementedError

    def current(self) -> dict[str, float]:
        raise NotImplementedError


class LossWeighting(Weighting):
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


class PCGradWeighting(Weighting):
    """PCGrad on the shared parameters; each head gets its own task's gradient as usual.

    One backward per task through the accelerator (so accumulation and fp16 scaling apply
    to every gradient alike); the shared gradients are projected and written back, added to
    what earlier micro-batches accumulated. PCGrad's projection is invariant to a common
    scale, so fp16's loss scale passes through unchanged.
    """

    needs_every_task = True

    def __init__(self, tasks: Sequence[str], seed: int = 0):
        super().__init__()
        self.tasks = list(tasks)
        self.backward_passes = len(self.tasks)
        self.generator = torch.Generator().manual_seed(seed)

    def backward(self, losses: Mapping[str, torch.Tensor], shared: Sequence[nn.Parameter],
                 backward: Backward) -> torch.Tensor:
        if not shared:  # nothing shared to project (encoder frozen, no projection)
            total = sum(losses.values())
            backward(total)
            return total
        earlier = [p.grad for p in shared]
        gradients = []
        for i, loss in enumerate(losses.values()):
            for parameter in shared:
                parameter.grad = None
            backward(loss, retain_graph=i < len(losses) - 1)
            gradients.append(_flat([p.grad for p in shared], shared))
        combined = project_conflicts(gradients, self.generator) if len(gradients) > 1 \
            else gradients[0]
        offset = 0
        for parameter, before in zip(shared, earlier, strict=True):
            piece = combined[offset:offset + parameter.numel()].view_as(parameter)
            parameter.grad = piece.clone() if before is None else before + piece
            offset += parameter.numel()
        return sum(loss.detach() for loss in losses.values())

    def current(self) -> dict[str, float]:
        return dict.fromkeys(self.tasks, 1.0)

    def get_extra_state(self) -> torch.Tensor:  # the task order's generator, for resuming
        return self.generator.get_state()

    def set_extra_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state)


def make_weighting(kind: str, tasks: Sequence[str],
                   weights: Mapping[str, float] | None = None, seed: int = 0) -> Weighting:
    if kind in ("uncertainty", "pcgrad") and weights:
        raise ValueError(f"loss_weights apply to 'fixed' weighting only, not {kind!r}")
    if kind == "uncertainty":
        return UncertaintyWeighting(tasks)
    if kind == "pcgrad":
        return PCGradWeighting(tasks, seed)
    if kind == "fixed":
        return FixedWeighting(tasks, weights)
    raise ValueError(f"unknown loss weighting {kind!r}; expected one of {WEIGHTINGS}")
