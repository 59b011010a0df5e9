"""One layer numbering for the whole project: which component a parameter belongs to."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from torch import nn

if TYPE_CHECKING:  # pandas loads where a table is built: the command line never builds one
    import pandas as pd

_LAYER = re.compile(r"\.layers?\.(\d+)\.")
# Encoder parameters that every block reads (MPNet's relative attention bias, DeBERTa's
# relative embeddings and the norm after them): they belong to no single block.
_STACK_WIDE = re.compile(r"\.encoder\.(relative_attention_bias|rel_embeddings|LayerNorm)\.")


def component_of(parameter_name: str, num_layers: int, top_layer: int | None = None) -> str:
    """Which part of the model a parameter belongs to, in the project's one layer numbering.

    Layers are numbered as the backbone's hidden states are: **0 is the embeddings, k is
    transformer block k** (1 … L, bottom to top; the module ``encoder.layer.{k-1}``). The
    same number names the component (``layer.3``), the optimiser's layer id and the K of
    ``bottom:K``. Encoder parameters outside the embeddings and the blocks (MPNet's relative
    attention bias, DeBERTa's relative embeddings) are shared by the stack and count as part
    of the top *used* block ``layer.{top_layer}`` (default L): they get its learning rate,
    thaw with it, and stay trained when a lower layer is pooled. A parameter name the
    numbering does not know is an error, never a silent guess. Heads are ``head:TASK``;
    BERT's ``pooler`` is its own component (no pooling mode uses it), and so is the
    optional ``projection`` after pooling (trained at the heads' rate, like a head), and
    so are LoRA ``adapters`` (``helpers.lora``; also the heads' rate).
    """
    if parameter_name.startswith("heads."):
        return "head:" + parameter_name.split(".")[1]
    if parameter_name.startswith("projection."):
        return "projection"
    if ".lora_" in parameter_name:
        return "adapters"
    match = _LAYER.search(parameter_name)
    if match:
        return f"layer.{int(match.group(1)) + 1}"
    if ".embeddings." in parameter_name:
        return "embeddings"
    if ".pooler." in parameter_name:
        return "pooler"
    if _STACK_WIDE.search(parameter_name):
        top = num_layers if top_layer is None else top_layer
        return f"layer.{top}" if top > 0 else "embeddings"
    raise ValueError(f"component_of(): {parameter_name!r} is neither a head, the projection, "
                     f"an adapter, the embeddings, a numbered block nor a known stack-wide "
                     f"parameter; add its pattern to helpers.components before training this "
                     f"backbone, so it gets a layer's rate and freezing")


def frozen_depth(named_parameters: Iterable[tuple[str, nn.Parameter]], top_layer: int) -> int:
    """How deep the encoder is frozen from the bottom: the largest k ≤ ``top_layer`` with the
    embeddings and blocks 1 … k all frozen (LoRA adapters inside a block count as the
    block's); -1 when the embeddings train, or a parameter shared by every block does."""
    depth = top_layer
    for name, parameter in named_parameters:
        if not parameter.requires_grad:
            continue
        match = _LAYER.search(name)
        if match:
            depth = min(depth, int(match.group(1)))  # block k = module k - 1: depth k - 1
        else:
            return -1  # the embeddings, or something every block uses
    return depth


def layer_drift(model: nn.Module, reference: nn.Module, num_layers: int) -> pd.Series:
    """How far each encoder component moved from ``reference`` (e.g. the pretrained
    encoder): ‖θ − θ₀‖ / ‖θ₀‖ over all its weights, indexed embeddings, layer.1 … layer.L.

    The picture that explains layer-wise rates: with decay the lower layers move less.
    """
    import pandas as pd

    before = dict(reference.named_parameters())
    moved: dict[str, list[float]] = {}
    for name, parameter in model.named_parameters():
        component = component_of(name, num_layers)
        if component in ("pooler", "projection", "adapters") or component.startswith("head:"):
            continue
        if name not in before:
            raise ValueError(f"layer_drift(): reference has no parameter {name!r}")
        start = before[name].detach().float()
        change = (parameter.detach().float() - start).pow(2).sum().item()
        sums = moved.setdefault(component, [0.0, 0.0])
        sums[0], sums[1] = sums[0] + change, sums[1] + start.pow(2).sum().item()
    order = ["embeddings"] + [f"layer.{k}" for k in range(1, num_layers + 1)]
    return pd.Series({c: (moved[c][0] / moved[c][1]) ** 0.5 for c in order if c in moved},
                     name="relative change")


def parameter_table(model: nn.Module) -> pd.DataFrame:
    """Parameters per component of a ``MultiTaskModel`` (embeddings, each layer, pooler,
    projection, each head); ``used`` is False for components no pooling reads (always
    frozen)."""
    import pandas as pd

    counts: dict[str, list[int]] = {}
    for name, parameter in model.named_parameters():
        total, trainable = counts.setdefault(model.component(name), [0, 0])
        counts[model.component(name)] = [
            total + parameter.numel(), trainable + parameter.numel() * parameter.requires_grad]
    unused = model.unused_components()
    frame = pd.DataFrame(
        [(name, total, trainable, name not in unused)
         for name, (total, trainable) in counts.items()],
        columns=["component", "parameters", "trainable", "used"],
    )
    frame["used"] = frame["used"].astype(object)
    frame.loc[len(frame)] = ["total", frame["parameters"].sum(), frame["trainable"].sum(), ""]
    return frame.set_index("component")
