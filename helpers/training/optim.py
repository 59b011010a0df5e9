"""Layer-wise learning rates: lower layers learn slower (decay towards the bottom).

Each parameter gets its layer id in the project's one numbering (0 embeddings, k block k;
see ``helpers.components.component_of``). With T the top layer that is used (the pooled
one, L by default), layer k learns at ``lr * decay ** (T - k)``: ``lr`` is exactly the
rate of the top used layer. Heads (and loss-weighting parameters) get ``head_lr``;
components no pooling reads (the pooler) are left out. The schedules from
``transformers`` multiply every group's own base rate by the same factor, so the
per-layer ratios survive warm-up and decay.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import torch
from torch import nn
from transformers import get_scheduler

from ..multitask import MultiTaskModel
from ..validation import check_choice

SCHEDULES = ("linear", "cosine", "constant")


def layer_id(component: str) -> int | None:
    """0 for embeddings, k for ``layer.k``, None for heads and loss weights (above all)."""
    if component == "embeddings":
        return 0
    if component.startswith("layer."):
        return int(component.removeprefix("layer."))
    return None


def layerwise_param_groups(
    model: MultiTaskModel,
    lr: float,
    decay: float = 0.9,
    head_lr: float | None = None,
    weight_decay: float = 0.01,
    extra: Iterable[tuple[str, nn.Parameter]] = (),
) -> tuple[list[dict], pd.DataFrame]:
    """Optimiser groups (one per component × decay/no-decay) and a printable table.

    Matrices get ``weight_decay``; biases and LayerNorm weights (1-D) get none. Frozen
    parameters are included: they have no gradient, so AdamW leaves them alone, and
    unfreezing them later needs no new optimiser. ``extra`` named parameters (e.g. the
    uncertainty loss weights) join the heads' rate without weight decay.
    """
    if not lr > 0 or not 0 < decay <= 1:
        raise ValueError(f"layerwise_param_groups(): need lr > 0 and 0 < decay ≤ 1, "
                         f"got lr={lr}, decay={decay}")
    head_lr = lr if head_lr is None else head_lr
    top, unused = model.encoder.top_layer, model.unused_components()
    groups: dict[tuple[str, bool], dict] = {}
    loss_weights = (("loss weights", p) for _, p in extra)
    owned = ((model.component(name), p) for name, p in model.named_parameters())
    for component, parameter in [*owned, *loss_weights]:
        if component in unused:
            continue
        ident = layer_id(component)
        decayed = parameter.ndim >= 2  # matrices; never biases, LayerNorm or loss weights
        group = groups.setdefault((component, decayed), {
            "params": [], "name": component + ("" if decayed else " (no decay)"),
            "layer_id": top + 1 if ident is None else ident,
            "lr": head_lr if ident is None else lr * decay ** (top - ident),
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
