"""Named freezing strategies (one parser for all of them), a trainable-parameter report
and gradual unfreezing.

A strategy sets ``requires_grad``; it never removes parameters from the optimiser, so the
layer-wise optimiser groups stay valid and unfreezing needs no rebuild (frozen parameters
have no gradient, and AdamW skips parameters without one). Components that no pooling
mode reads (the pooler) stay frozen whatever the strategy. Layers are numbered as in
``helpers.components.component_of``: 0 the embeddings, 1 … L the blocks, bottom to top.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd
from torch import nn

from .multitask import MultiTaskModel

STRATEGY_PATTERNS = ("none", "all", "backbone", "embeddings", "bottom:K", "head:TASK",
                     "gradual:N")
_COUNTED = re.compile(r"^(bottom|gradual):(\d+)$")
EVERYTHING, ENCODER = "*everything*", "*encoder*"


@dataclass(frozen=True)
class FreezePlan:
    """What a strategy freezes at the start, and (``gradual:N``) how often a layer thaws."""

    frozen: frozenset[str]
    unfreeze_every: int | None = None


def _parse_one(model: MultiTaskModel, strategy: object) -> FreezePlan:
    """One strategy string → its plan; every strategy is parsed here and nowhere else."""
    fixed = {"none": set(), "all": {EVERYTHING}, "backbone": {ENCODER},
             "embeddings": {"embeddings"}}
    if isinstance(strategy, str) and strategy in fixed:
        return FreezePlan(frozenset(fixed[strategy]))
    counted = _COUNTED.match(strategy) if isinstance(strategy, str) else None
    if counted:
        kind, count = counted.group(1), int(counted.group(2))
        if kind == "gradual":
            if count < 1:
                raise ValueError(f"freeze(): {strategy!r} needs a step count ≥ 1, "
                                 f"e.g. 'gradual:10'")
            return FreezePlan(frozenset({ENCODER}), unfreeze_every=count)
        layers = model.encoder.num_layers
        if count > layers:
            raise ValueError(f"freeze(): {strategy!r} asks for {count} layers but the "
                             f"encoder has {layers}; expected bottom:0 … bottom:{layers}")
        return FreezePlan(frozenset({"embeddings", *(f"layer.{k}" for k in
                                                      range(1, count + 1))}))
    if isinstance(strategy, str) and strategy.startswith("head:"):
        if strategy.removeprefix("head:") not in model.task_names:
            raise ValueError(f"freeze(): unknown task in {strategy!r}; tasks are "
                             f"{model.task_names}")
        return FreezePlan(frozenset({strategy}))
    raise ValueError(f"freeze(): unknown strategy {strategy!r}; expected one of "
                     f"{', '.join(STRATEGY_PATTERNS)} (K a layer count, TASK one of "
                     f"{model.task_names}, N optimiser steps per thawed layer), or a list")


def parse_strategy(model: MultiTaskModel, strategy: str | Sequence[str]) -> FreezePlan:
    """A strategy or a list of them → one plan (at most one ``gradual:N`` in a list)."""
    items = [strategy] if isinstance(strategy, str) else list(strategy)
    if not items:
        raise ValueError("freeze(): no strategy given; use 'none' to train everything")
    plans = [_parse_one(model, item) for item in items]
    every = [plan.unfreeze_every for plan in plans if plan.unfreeze_every is not None]
    if len(every) > 1:
        raise ValueError(f"freeze(): more than one gradual:N in {items}")
    return FreezePlan(frozenset().union(*(plan.frozen for plan in plans)),
                      every[0] if every else None)


def freeze(model: MultiTaskModel, strategy: str | Sequence[str]) -> MultiTaskModel:
    """Make everything trainable, then freeze what the strategy (or list) names.

    ``gradual:N`` freezes the whole encoder here; ``unfreezing_callback`` thaws it in
    training, one layer every N optimiser steps.
    """
    frozen = parse_strategy(model, strategy).frozen
    if model.lora_settings and not frozen & {ENCODER, EVERYTHING}:
        raise ValueError(f"freeze(): {strategy!r} would train the encoder's own weights under "
                         f"its LoRA adapters; use 'backbone' (adapters and heads train), or "
                         f"merge_lora(model) first to train every weight")
    for name, parameter in model.named_parameters():
        parameter.requires_grad = not (
            EVERYTHING in frozen or model.component(name) in frozen
            or (ENCODER in frozen and name.startswith("encoder.")
                and model.component(name) != "adapters")
        )
    model.freeze_unused()
    return model


def trainable_report(model: MultiTaskModel) -> pd.DataFrame:
    """Trainable / total parameters per component, with the trainable share."""
    report = model.parameter_report()
    report["trainable %"] = (100 * report["trainable"] / report["parameters"]).round(1)
    return report


def trainable_count(parameters: Iterable[nn.Parameter]) -> int:
    return sum(p.numel() for p in parameters if p.requires_grad)


class GradualUnfreezer:
    """ULMFiT-style: heads first, then one more encoder layer from the top per stage.

    Call ``start()`` before training and ``maybe_advance()`` after every step or epoch
    (``helpers.training.callbacks.GradualUnfreezing`` does both). After the used encoder
    layers, the embeddings thaw last; ``stages()`` says which component thaws when.
    """

    def __init__(self, model: MultiTaskModel, every: int = 1, unit: str = "epoch") -> None:
        if unit not in ("epoch", "step"):
            raise ValueError(f"GradualUnfreezer: unit must be 'epoch' or 'step', got {unit!r}")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"GradualUnfreezer: every must be an int ≥ 1, got {every!r}")
        self.model, self.every, self.unit = model, every, unit
        top = model.encoder.top_layer
        self.order = [f"layer.{k}" for k in range(top, 0, -1)] + ["embeddings"]
        self.thawed = 0

    def stages(self) -> pd.DataFrame:
        """The schedule: after which step (or epoch) each component starts to train."""
        return pd.DataFrame({f"after {self.unit}": [self.every * (i + 1) for i in
                                                     range(len(self.order))],
                             "thaws": self.order})

    def start(self) -> None:
        freeze(self.model, "backbone")
        self.thawed = 0

    def advance(self) -> str | None:
        """Unfreeze the next component (top first); return its name, or None when done."""
        if self.thawed >= len(self.order):
            return None
        component = self.order[self.thawed]
        for name, parameter in self.model.named_parameters():
            if self.model.component(name) == component:
                parameter.requires_grad = True
        self.thawed += 1
        return component

    def maybe_advance(self, unit: str, count: int) -> str | None:
        """Advance when ``count`` completed ``unit``s (steps or epochs) hit the schedule."""
        if unit == self.unit and count > 0 and count % self.every == 0:
            return self.advance()
        return None
