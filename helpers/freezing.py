"""Named freezing strategies (one parser for all of them), a trainable-parameter report
and gradual unfreezing.

A strategy sets ``requires_grad``; it never removes parameters from the optimiser, so the
layer-wise optimiser groups stay valid and unfreezing needs no rebuild (frozen parameters
have no gradient, and AdamW skips parameters without one). Components that no pooling
mode reads (the pooler) stay frozen whatever the strategy. Layers are numbered as in
``helpers.components.component_of``: 0 the embeddings, 1 … L the blocks, bottom to top.
``only:GLOB`` / ``name:GLOB`` freeze by parameter name (``helpers.freeze_patterns``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd
from torch import nn

from .freeze_patterns import check_pattern, is_encoder, matches, pattern_frozen
from .freeze_patterns import top_block_feed_forward as top_block_feed_forward
from .multitask import MultiTaskModel
from .validation import check_choice

STRATEGY_PATTERNS = ("none", "all", "backbone", "embeddings", "bottom:K", "head:TASK",
                     "gradual:N", "only:GLOB", "name:GLOB")
_COUNTED = re.compile(r"^(bottom|gradual):(\d+)$")
EVERYTHING, ENCODER = "*everything*", "*encoder*"


@dataclass(frozen=True)
class FreezePlan:
    """What a strategy freezes at the start, and (``gradual:N``) how often a layer thaws;
    ``only`` / ``named`` hold the GLOBs of ``only:`` / ``name:``."""

    frozen: frozenset[str]
    unfreeze_every: int | None = None
    only: tuple[str, ...] = ()
    named: tuple[str, ...] = ()


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
    if isinstance(strategy, str) and strategy.startswith(("only:", "name:")):
        kind, pattern = strategy[:4], check_pattern(model, strategy)
        return FreezePlan(frozenset(), only=(pattern,) * (kind == "only"),
                          named=(pattern,) * (kind == "name"))
    raise ValueError(f"freeze(): unknown strategy {strategy!r}; expected one of "
                     f"{', '.join(STRATEGY_PATTERNS)} (K a layer count, TASK one of "
                     f"{model.task_names}, N optimiser steps per thawed layer), or a list")


def parse_strategy(model: MultiTaskModel, strategy: str | Sequence[str]) -> FreezePlan:
    """A strategy or a list of them → one plan (at most one ``gradual:N`` in a list, and not
    with name patterns: it thaws whole layers, which would undo them)."""
    items = [strategy] if isinstance(strategy, str) else list(strategy)
    if not items:
        raise ValueError("freeze(): no strategy given; use 'none' to train everything")
    plans = [_parse_one(model, item) for item in items]
    every = [plan.unfreeze_every for plan in plans if plan.unfreeze_every is not None]
    if len(every) > 1:
        raise ValueError(f"freeze(): more than one gradual:N in {items}")
    only = tuple(p for plan in plans for p in plan.only)
    named = tuple(p for plan in plans for p in plan.named)
    if every and (only or named):
        raise ValueError(f"freeze(): gradual:N thaws whole layers, which would undo the name "
                         f"patterns in {items}; use one or the other")
    return FreezePlan(frozenset().union(*(plan.frozen for plan in plans)),
                      every[0] if every else None, only, named)


def trainable_after(model: MultiTaskModel, plan: FreezePlan) -> dict[str, bool]:
    """Parameter name → whether it trains under the plan (unused components never do)."""
    frozen, unused = plan.frozen, model.unused_components()
    trainable = {}
    for name, _ in model.named_parameters():
        component = model.component(name)
        trainable[name] = not (
            EVERYTHING in frozen or component in frozen
            or (ENCODER in frozen and is_encoder(name) and component != "adapters")
            or component in unused or pattern_frozen(name, plan.only, plan.named)
        )
    return trainable


def _refuse(model: MultiTaskModel, strategy: object, plan: FreezePlan,
            trainable: dict[str, bool]) -> None:
    """Contradictions: an ``only:`` that keeps nothing trainable (``all``, ``backbone``, a
    ``bottom:K`` or ``name:`` covering it), and the weights under LoRA adapters thawed."""
    for pattern in plan.only:
        if not any(ok and is_encoder(name) and matches(name, pattern)
                   for name, ok in trainable.items()):
            raise ValueError(f"freeze(): 'only:{pattern}' keeps nothing trainable in "
                             f"{strategy!r}: the rest of the list (or the pooled layer) "
                             f"freezes every parameter it matches")
    if not model.lora_settings:
        return
    if plan.only or plan.named:
        base = [name for name, ok in trainable.items()
                if ok and is_encoder(name) and model.component(name) != "adapters"]
        if base:
            raise ValueError(f"freeze(): {strategy!r} would train the encoder's own weights "
                             f"under its LoRA adapters (e.g. {base[0]!r}); match only "
                             f"adapters (e.g. 'only:*.lora_*'), or merge_lora(model) first")
    elif not plan.frozen & {ENCODER, EVERYTHING}:
        raise ValueError(f"freeze(): {strategy!r} would train the encoder's own weights under "
                         f"its LoRA adapters; use 'backbone' (adapters and heads train), or "
                         f"merge_lora(model) first to train every weight")


def freeze(model: MultiTaskModel, strategy: str | Sequence[str]) -> MultiTaskModel:
    """Make everything trainable, then freeze what the strategy (or list) names.

    ``gradual:N`` freezes the whole encoder here; ``unfreezing_callback`` thaws it in
    training, one layer every N optimiser steps.

    ``only:GLOB`` freezes every encoder parameter that no ``only:`` in the list matches
    (several union what stays trainable); ``name:GLOB`` freezes the encoder parameters it
    matches. Heads follow the other strategies, so ``["only:encoder.layer.5.output.*",
    "head:sentiment"]`` also freezes that head. GLOBs match full parameter names, or the
    name without ``encoder.backbone.`` (Hugging Face's ``encoder.layer.5`` is block 6,
    ``layer.6``); see ``helpers.freeze_patterns``. Refused: a pattern that matches no
    encoder parameter or is empty, ``gradual:N`` with patterns, an ``only:`` whose matches
    the rest of the list freezes anyway (``all``, ``backbone``), and under LoRA any
    non-adapter encoder weight left trainable. ``top_block_feed_forward(model)`` is the
    list that trains only the top block's feed-forward and its LayerNorm.
    """
    plan = parse_strategy(model, strategy)
    trainable = trainable_after(model, plan)
    _refuse(model, strategy, plan, trainable)
    for name, parameter in model.named_parameters():
        parameter.requires_grad = trainable[name]
    model.freeze_unused()
    return model


def trainable_report(model: MultiTaskModel, by: str = "component") -> pd.DataFrame:
    """Trainable / total parameters per component, with the trainable share; or, with
    ``by="parameter"``, one row per parameter (component, size, trainable), to see what
    name patterns left trainable inside a component."""
    check_choice(by, ("component", "parameter"), "by", "trainable_report()")
    if by == "parameter":
        rows = [(name, model.component(name), p.numel(), p.requires_grad)
                for name, p in model.named_parameters()]
        return pd.DataFrame(rows, columns=["parameter", "component", "parameters",
                                           "trainable"]).set_index("parameter")
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
