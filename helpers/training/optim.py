"""Layer-wise learning rates: lower layers learn slower (decay towards the bottom).

Each parameter gets its layer id in the project's one numbering (0 embeddings, k block k;
see ``helpers.components.component_of``). With T the top layer that is used (the pooled
one, L by default), layer k learns at ``lr * decay ** (T - k)``: ``lr`` is exactly the
rate of the top used layer. Heads (and loss-weighting parameters) get ``head_lr``;
components no pooling reads (the pooler) are left out. The schedules from
``transformers`` multiply every group's own base rate by the same factor, so the
per-layer ratios survive warm-up and decay.

When a geometric decay is not the shape you want, ``layer_lrs`` names every rate instead,
e.g. ``{"embeddings": 1e-5, "1-3": 3e-5, "4-6": 1e-4, "heads": 1e-3}``: keys are
``"embeddings"``, a block ``"K"``, an inclusive range of blocks ``"A-B"`` (1-based, as
everywhere) and ``"heads"`` (also the projection, LoRA adapters and loss weights). It
replaces ``lr``, ``decay`` and ``head_lr``. Syntax, rates and overlaps are checked without
a model (``check_layer_lrs``, called by ``TrainConfig``); that every used layer 0 … T and
the heads have exactly one rate, and no key names a block above T, is checked when the
groups are built.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..multitask import MultiTaskModel
from ..validation import check_choice

if TYPE_CHECKING:  # pandas loads where a table is built: the command line never builds one
    import pandas as pd

SCHEDULES = ("linear", "cosine", "constant")
HEADS = "heads"  # the layer_lrs key of everything above the encoder
_BLOCKS = re.compile(r"([1-9]\d*)(?:-([1-9]\d*))?")  # "K" or "A-B"; block 0 is "embeddings"


def layer_id(component: str) -> int | None:
    """0 for embeddings, k for ``layer.k``, None for heads and loss weights (above all)."""
    if component == "embeddings":
        return 0
    if component.startswith("layer."):
        return int(component.removeprefix("layer."))
    return None


def _layers_of(key: object, where: str) -> range:
    """The layer ids one ``layer_lrs`` key names: 0 for "embeddings", K, or A … B."""
    if key == "embeddings":
        return range(0, 1)
    match = _BLOCKS.fullmatch(key) if isinstance(key, str) else None
    first, last = (int(match[1]), int(match[2] or match[1])) if match else (0, -1)
    if last < first:
        raise ValueError(f"{where}: layer_lrs key {key!r} is not 'embeddings', 'heads', a "
                         f"block 'K' or a range of blocks 'A-B' with A ≤ B (blocks count "
                         f"1 … L from the bottom; layer 0 is 'embeddings')")
    return range(first, last + 1)


def check_layer_lrs(layer_lrs: Mapping[str, float], where: str) -> dict[str, range]:
    """What can be checked without a model: key syntax, rates (finite, > 0), no layer
    named twice. Returns each key's layer ids ("heads": none, it is above every layer)."""
    if not isinstance(layer_lrs, Mapping) or not layer_lrs:
        raise ValueError(f"{where}: layer_lrs must be a non-empty dict {{layer: rate}} "
                         f"(or None for lr * layer_decay**k and head_lr), got {layer_lrs!r}")
    spans: dict[str, range] = {}
    for key, rate in layer_lrs.items():
        if isinstance(rate, bool) or not isinstance(rate, int | float) \
                or not math.isfinite(rate) or rate <= 0:
            raise ValueError(f"{where}: layer_lrs[{key!r}] must be a number > 0, got {rate!r}")
        layers = range(0) if key == HEADS else _layers_of(key, where)
        for other, named in spans.items():
            shared = max(layers.start, named.start)
            if shared < min(layers.stop, named.stop):
                raise ValueError(f"{where}: layer_lrs gives block {shared} two rates: block "
                                 f"{shared} is in both {other!r} and {key!r}")
        spans[key] = layers
    return spans


def _explicit_rates(layer_lrs: Mapping[str, float], top: int) -> dict[int | None, float]:
    """``layer_lrs`` against the model: each used layer 0 … ``top`` and the heads once."""
    where = "layerwise_param_groups()"
    used = "the embeddings only" if top == 0 else f"the embeddings and blocks 1 … {top}"
    spans = check_layer_lrs(layer_lrs, where)
    for key, layers in spans.items():
        if layers and layers[-1] > top:
            raise ValueError(f"{where}: layer_lrs key {key!r} names block {layers[-1]}, but "
                             f"the model uses {used} (it pools layer {top})")
    rates: dict[int | None, float] = {k: float(layer_lrs[key])
                                      for key, layers in spans.items() for k in layers}
    missing = [("the embeddings" if k == 0 else f"block {k}")
               for k in range(top + 1) if k not in rates]
    missing += [] if HEADS in layer_lrs else ["the heads"]
    if missing:
        raise ValueError(f"{where}: layer_lrs covers no rate for {', '.join(missing)} (the "
                         f"model uses {used}, and the heads; keys given: {list(layer_lrs)})")
    rates[None] = float(layer_lrs[HEADS])
    return rates


def _layer_rates(top: int, lr: float, decay: float, head_lr: float | None,
                layer_lrs: Mapping[str, float] | None = None) -> dict[int | None, float]:
    """The rate of each used layer 0 … ``top``, and of the heads (key None)."""
    if layer_lrs is not None:
        return _explicit_rates(layer_lrs, top)
    if not lr > 0 or not 0 < decay <= 1:
        raise ValueError(f"layerwise_param_groups(): need lr > 0 and 0 < decay ≤ 1, "
                         f"got lr={lr}, decay={decay}")
    rates: dict[int | None, float] = {k: lr * decay ** (top - k) for k in range(top + 1)}
    rates[None] = lr if head_lr is None else head_lr
    return rates


def layerwise_param_groups(
    model: MultiTaskModel,
    lr: float,
    decay: float = 0.9,
    head_lr: float | None = None,
    weight_decay: float = 0.01,
    extra: Iterable[tuple[str, nn.Parameter]] = (),
    layer_lrs: Mapping[str, float] | None = None,
) -> tuple[list[dict], pd.DataFrame]:
    """Optimiser groups (one per component × decay/no-decay) and a printable table.

    Matrices get ``weight_decay``; biases and LayerNorm weights (1-D) get none. Frozen
    parameters are included: they have no gradient, so AdamW leaves them alone, and
    unfreezing them later needs no new optimiser. ``extra`` named parameters (e.g. the
    uncertainty loss weights) join the heads' rate without weight decay. ``layer_lrs``
    (see the module docstring) sets every rate; ``lr``, ``decay`` and ``head_lr`` are then
    not used (``TrainConfig`` refuses both at once).
    """
    import pandas as pd

    top, unused = model.encoder.top_layer, model.unused_components()
    rates = _layer_rates(top, lr, decay, head_lr, layer_lrs)
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
            "layer_id": top + 1 if ident is None else ident, "lr": rates[ident],
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
    from transformers import get_scheduler  # here: TrainConfig's checks need no trainer code

    return get_scheduler(name, optimizer, num_warmup_steps=warmup_steps,
                         num_training_steps=total_steps)
