"""Named freezing strategies, a trainable-parameter report and gradual unfreezing.

A strategy sets ``requires_grad``; it never removes parameters from the optimiser, so
the layer-wise optimiser groups stay valid and unfreezing needs no rebuild (frozen
parameters have no gradient, and AdamW skips parameters without one).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import pandas as pd
from torch import nn

from .multitask import MultiTaskModel, component_of

STRATEGY_PATTERNS = ("none", "all", "backbone", "embeddings", "bottom:K", "head:TASK")
_BOTTOM = re.compile(r"^bottom:(\d+)$")


EVERYTHING, ENCODER = "*everything*", "*encoder*"


def _frozen_components(model: MultiTaskModel, strategy: str) -> set[str]:
    """Components one strategy freezes (``EVERYTHING`` / ``ENCODER`` stand for groups)."""
    layers = model.encoder.num_layers
    if strategy == "none":
        return set()
    if strategy == "all":
        return {EVERYTHING}
    if strategy == "backbone":
        return {ENCODER}
    if strategy == "embeddings":
        return {"embeddings"}
    match = _BOTTOM.match(strategy) if isinstance(strategy, str) else None
    if match:
        k = int(match.group(1))
        if k > layers:
            raise ValueError(f"freeze(): {strategy!r} asks for {k} layers but the encoder has "
                             f"{layers}; expected bottom:0 … bottom:{layers}")
        return {"embeddings", *(f"layer.{i}" for i in range(k))}
    if isinstance(strategy, str) and strategy.startswith("head:"):
        task = strategy.removeprefix("head:")
        if task not in model.task_names:
            raise ValueError(f"freeze(): unknown task in {strategy!r}; tasks are "
                             f"{model.task_names}")
        return {strategy}
    raise ValueError(f"freeze(): unknown strategy {strategy!r}; expected one of "
                     f"{', '.join(STRATEGY_PATTERNS)} (K a layer count, TASK one of "
                     f"{model.task_names}), or a list of them")


def freeze(model: MultiTaskModel, strategy: str | Sequence[str]) -> MultiTaskModel:
    """Make everything trainable, then freeze what the strategy (or list) names."""
    strategies = [strategy] if isinstance(strategy, str) else list(strategy)
    if not strategies:
        raise ValueError("freeze(): no strategy given; use 'none' to train everything")
    frozen = set().union(*(_frozen_components(model, name) for name in strategies))
    for name, parameter in model.named_parameters():
        parameter.requires_grad = not (
            EVERYTHING in frozen
            or (ENCODER in frozen and name.startswith("encoder."))
            or component_of(name) in frozen
        )
    return model


def trainable_report(model: nn.Module) -> pd.DataFrame:
    """Trainable / total parameters per component, with the trainable share."""
    report = model.parameter_report()
    report["trainable %"] = (100 * report["trainable"] / report["parameters"]).round(1)
    return report


def trainable_count(parameters: Iterable[nn.Parameter]) -> int:
    return sum(p.numel() for p in parameters if p.requires_grad)


class GradualUnfreezer:
    """ULMFiT-style: heads first, then one more encoder layer from the top per stage.

    Call ``start()`` before training and ``advance()`` at every stage boundary (every
    ``every`` optimiser steps or each epoch, as the training loop is told). After the
    encoder layers, the embeddings thaw last.
    """

    def __init__(self, model: MultiTaskModel, every: int = 1, unit: str = "epoch") -> None:
        if unit not in ("epoch", "step"):
            raise ValueError(f"GradualUnfreezer: unit must be 'epoch' or 'step', got {unit!r}")
        if every < 1:
            raise ValueError(f"GradualUnfreezer: every must be ≥ 1, got {every}")
        self.model, self.every, self.unit = model, every, unit
        layers = model.encoder.num_layers
        self.order = [f"layer.{i}" for i in reversed(range(layers))] + ["embeddings"]
        self.thawed = 0

    def start(self) -> None:
        freeze(self.model, "backbone")
        self.thawed = 0

    def advance(self) -> str | None:
        """Unfreeze the next component (top first); return its name, or None when done."""
        if self.thawed >= len(self.order):
            return None
        component = self.order[self.thawed]
        for name, parameter in self.model.named_parameters():
            if component_of(name) == component:
                parameter.requires_grad = True
        self.thawed += 1
        return component

    def maybe_advance(self, unit: str, count: int) -> str | None:
        """Advance when ``count`` completed ``unit``s (steps or epochs) hit the schedule."""
        if unit == self.unit and count > 0 and count % self.every == 0:
            return self.advance()
        return None
