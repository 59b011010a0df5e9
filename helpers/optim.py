"""Layer-wise learning rates: lower layers learn slower (decay towards the bottom).

Each parameter gets a layer id — embeddings 0, encoder layer i → i + 1, pooler L + 1 —
and the learning rate ``lr * decay ** (L + 1 - id)``; heads (and loss-weighting
parameters) get ``head_lr``. The schedules from ``transformers`` multiply every group's
own base rate by the same factor, so the per-layer ratios survive warm-up and decay.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import torch
from torch import nn
from transformers import get_scheduler

from .multitask import MultiTaskModel, component_of
from .validation import check_choice

SCHEDULES = ("linear", "cosine", "constant")


def layer_id(component: str, num_layers: int) -> int:
    """0 for embeddings, i + 1 for encoder layer i, L + 1 for the pooler, L + 2 above."""
    if component == "embeddings":
        return 0
    if component.startswith("layer."):
        return int(component.removeprefix("layer.")) + 1
    if component == "pooler":
        return num_layers + 1
    return num_layers + 2


def layerwise_param_groups(
    model: MultiTaskModel,
    lr: float,
    decay: float = 0.9,
    head_lr: float | None = None,
    weight_decay: float = 0.01,
    extra: Iterable[tuple[str, nn.Parameter]] = (),
) -> tuple[list[dict], pd.DataFrame]:
    """Optimiser groups (one per layer × decay/no-decay) and a printable table.

    Matrices get ``weight_decay``; biases and LayerNorm weights (1-D) get none. Frozen
    parameters are included: they have no gradient, so AdamW leaves them alone, and
    unfreezing them later needs no new optimiser. ``extra`` named parameters (e.g. the
    uncertainty loss weights) join the heads' rate without weight decay.
    """
    if lr <= 0 or not 0 < decay <= 1:
        raise ValueError(f"layerwise_param_groups(): need lr > 0 and 0 < decay ≤ 1, "
                         f"got lr={lr}, decay={decay}")
    head_lr = lr if head_lr is None else head_lr
    top = model.encoder.num_layers + 1
    groups: dict[tuple[str, bool], dict] = {}
    loss_weights = (("loss weights", p) for _, p in extra)
    owned = ((component_of(name), p) for name, p in model.named_parameters())
    for component, parameter in [*owned, *loss_weights]:
        ident = layer_id(component, model.encoder.num_layers)
        decayed = parameter.ndim >= 2  # matrices; never biases, LayerNorm or loss weights
        group = groups.setdefault((component, decayed), {
            "params": [], "name": component + ("" if decayed else " (no decay)"),
            "layer_id": ident,
            "lr": lr * decay ** (top - ident) if ident <= top else head_lr,
            "weight_decay": weight_decay if decayed else 0.0,
        })
        group["params"].append(parameter)
    ordered = sorted(groups.values(), key=lambda g: (g["layer_id"], g["name"]))
    table = pd.DataFrame([
        {"group": g["name"], "layer id": g["layer_id"], "lr": g["lr"],
         "weight decay": g["weight_decay"], "parameters": sum(p.numel() for p in g["params"])}
        for g in ordered
    ]).set_index("group")
    return ordered, table


def build_scheduler(
    optimizer: torch.optim.Optimizer, schedule: str, total_steps: int, warmup_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Warm-up then linear/cosine decay (or constant) from ``transformers``."""
    check_choice(schedule, SCHEDULES, "schedule", "build_scheduler()")
    name = "constant_with_warmup" if schedule == "constant" else schedule
    return get_scheduler(name, optimizer, num_warmup_steps=warmup_steps,
                         num_training_steps=total_steps)
