"""Callbacks: what happens at named points of the loop, outside the loop.

The protocol (every method optional; subclass ``Callback`` and override what you need):

- ``on_train_begin(state)``: after setup, before the first batch;
- ``on_step_end(state)``: after each optimiser update (``state.step``, ``state.batch``,
  ``state.losses``; ``state.history.steps[-1]`` is this step's row, add keys to it);
- ``on_epoch_end(state)``: after evaluation (``state.record`` is the epoch's row, with
  ``validation/...`` metrics; add keys to it, set ``state.should_stop`` to end training);
- ``on_train_end(state)``: after the last epoch (e.g. restore the best weights).

``changes_trainable = True`` tells the loop a callback unfreezes parameters, so sentence
vectors of a frozen encoder must not be cached.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from torch import nn

from ..freezing import GradualUnfreezer
from ..modes import evaluating
from ..multitask import WEIGHTS_FILE, MultiTaskModel
from ..saving import read_weights
from .config import TrainConfig
from .evaluation import forward_batch
from .history import History
from .metric_names import lower_is_better, metric_name, parse_metric
from .weighting import task_gradients, task_losses


@dataclass
class TrainState:
    """What callbacks see: the (unwrapped) model, config, counters and the history."""

    model: MultiTaskModel
    config: TrainConfig
    accelerator: Accelerator
    history: History
    epoch: int = 0
    step: int = 0
    batch: dict | None = None
    losses: dict[str, torch.Tensor] = field(default_factory=dict)
    record: dict = field(default_factory=dict)
    should_stop: bool = False


class Callback:
    """No-op base: override the events you need."""

    changes_trainable = False

    def on_train_begin(self, state: TrainState) -> None: ...

    def on_step_end(self, state: TrainState) -> None: ...

    def on_epoch_end(self, state: TrainState) -> None: ...

    def on_train_end(self, state: TrainState) -> None: ...

    def state(self) -> dict:
        """What a resumed run needs to carry on (saved every ``save_every`` updates)."""
        return {}

    def restore(self, saved: dict, state: TrainState) -> None:
        """Take back what ``state()`` returned, after ``on_train_begin`` of the resumed run."""


class GradualUnfreezing(Callback):
    """Heads first, then one more layer from the top every ``every`` steps (or epochs)."""

    changes_trainable = True

    def __init__(self, model: MultiTaskModel, every: int, unit: str = "step") -> None:
        self.unfreezer = GradualUnfreezer(model, every, unit)

    def on_train_begin(self, state: TrainState) -> None:
        if state.accelerator.num_processes > 1:
            raise ValueError("gradual unfreezing needs a single process: DistributedDataParallel "
                             "fixes the trainable parameters when it wraps the model")
        self.unfreezer.start()

    def on_step_end(self, state: TrainState) -> None:
        if thawed := self.unfreezer.maybe_advance("step", state.step):
            state.history.steps[-1]["unfrozen"] = thawed

    def on_epoch_end(self, state: TrainState) -> None:
        if thawed := self.unfreezer.maybe_advance("epoch", state.epoch):
            state.record["unfrozen"] = thawed

    def state(self) -> dict:
        return {"thawed": self.unfreezer.thawed}

    def restore(self, saved: dict, state: TrainState) -> None:
        for _ in range(saved["thawed"]):
            self.unfreezer.advance()


class GradientConflictProbe(Callback):
    """Each epoch: cosine between the tasks' gradients on the shared, trainable encoder,
    dropout off, on a few fixed probe batches. ``grad_conflict`` is the mean over batches
    (and over task pairs), ``grad_conflict_sd`` its spread over batches; with three tasks
    or more each pair also gets ``grad_conflict/A~B``. Negative = the tasks pull the
    encoder apart."""

    def __init__(self, batches: dict[str, list[dict]]) -> None:
        self.batches = batches

    def on_epoch_end(self, state: TrainState) -> None:
        found = [gradient_conflicts(state.model, dict(zip(self.batches, group, strict=True)))
                 for group in zip(*self.batches.values(), strict=False)]
        means = [float(np.mean(list(pairs.values()))) for pairs in found if pairs]
        state.record["grad_conflict"] = float(np.mean(means)) if means else math.nan
        state.record["grad_conflict_sd"] = (float(np.std(means, ddof=1))
                                            if len(means) > 1 else math.nan)
        pairs = found[0] if found else {}
        if len(pairs) > 1:
            for pair in pairs:
                state.record[f"grad_conflict/{pair}"] = float(np.mean([f[pair] for f in found]))


def gradient_conflicts(model: MultiTaskModel, batches: dict[str, dict]) -> dict[str, float]:
    """Cosine of every two tasks' loss gradients on the trainable encoder parameters (one
    batch per task), keyed ``"A~B"``; empty when the encoder is frozen or there are fewer
    than two tasks."""
    shared = [p for p in model.encoder.parameters() if p.requires_grad]
    if not shared or len(batches) < 2:
        return {}
    device, gradients = shared[0].device, {}
    with evaluating(model):
        for task, batch in batches.items():
            inputs = {k: v.to(device) for k, v in batch.items() if k != "labels"}
            losses = task_losses(forward_batch(model, inputs),
                                 {task: batch["labels"][task].to(device)})
            gradients.update(task_gradients(losses, shared, keep_graph=False))
    return {f"{a}~{b}": float(torch.nn.functional.cosine_similarity(
        gradients[a], gradients[b], dim=0)) for a, b in combinations(gradients, 2)}


def _copied_weights(model: nn.Module) -> dict[str, object]:
    """``model.state_dict()`` with every tensor copied. The dict keeps the module versions
    (``_metadata``) that loading reads, and PyTorch's dynamic int8 layers hold a tuple of
    packed tensors and a dtype beside tensors."""
    weights = copy.copy(model.state_dict())
    for name, value in weights.items():
        weights[name] = _copied(value)
    return weights


def _copied(value: object) -> object:
    """A tensor cloned, a tuple copied part by part (a bias-free int8 layer packs
    ``(weight, None)``), anything else (a dtype, None) as it is."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, tuple):
        return tuple(_copied(part) for part in value)
    return value


class BestModel(Callback):
    """Track ``config.metric`` on the evaluation split; keep the best weights (in memory,
    or in ``checkpoint_dir/best``, written by the main process only) and restore them."""

    def __init__(self) -> None:
        self.best_weights: dict[str, object] | None = None

    def on_epoch_end(self, state: TrainState) -> None:
        value = _monitored(state)
        history = state.history
        if value is None or not _improves(float(value), history.best_metric, state.config.metric):
            return
        history.best_epoch, history.best_metric = state.epoch, float(value)
        if state.config.checkpoint_dir:
            if state.accelerator.is_main_process:
                state.model.save(Path(state.config.checkpoint_dir) / "best")
            state.accelerator.wait_for_everyone()
        else:
            self.best_weights = _copied_weights(state.model)

    def on_train_end(self, state: TrainState) -> None:
        if state.history.best_epoch is None:
            return
        if state.config.checkpoint_dir:
            best = Path(state.config.checkpoint_dir) / "best" / WEIGHTS_FILE
            self.best_weights = read_weights(best)
        state.model.load_state_dict(self.best_weights)


class EarlyStopping(Callback):
    """Stop after ``patience`` epochs in a row without a new best ``config.metric``."""

    def __init__(self, patience: int) -> None:
        self.patience, self.best, self.stale = patience, None, 0

    def on_epoch_end(self, state: TrainState) -> None:
        value = _monitored(state)
        if value is None:
            return
        if _improves(float(value), self.best, state.config.metric):
            self.best, self.stale = float(value), 0
            return
        self.stale += 1
        if self.stale >= self.patience:
            state.should_stop = state.history.stopped_early = True

    def state(self) -> dict:
        return {"best": self.best, "stale": self.stale}

    def restore(self, saved: dict, state: TrainState) -> None:
        self.best, self.stale = saved["best"], saved["stale"]


def _monitored(state: TrainState) -> float | None:
    """This epoch's value of ``config.metric`` on the evaluation split, if it was measured."""
    task, kind = parse_metric(state.config.metric, "TrainConfig")
    return state.record.get(metric_name(state.config.eval_split, task, kind))


def _improves(value: float, best: float | None, metric: str) -> bool:
    if best is None or math.isnan(best):
        return not math.isnan(value)
    return value < best if lower_is_better(metric) else value > best

