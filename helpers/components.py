"""One layer numbering for the whole project: which component a parameter belongs to."""

from __future__ import annotations

import re

_LAYER = re.compile(r"\.layers?\.(\d+)\.")


def component_of(parameter_name: str, num_layers: int) -> str:
    """Which part of the model a parameter belongs to, in the project's one layer numbering.

    Layers are numbered as the backbone's hidden states are: **0 is the embeddings, k is
    transformer block k** (1 … L, bottom to top; the module ``encoder.layer.{k-1}``). The
    same number names the component (``layer.3``), the optimiser's layer id and the K of
    ``bottom:K``. Encoder parameters outside the embeddings and the blocks (MPNet's relative
    attention bias, a final LayerNorm) are shared by the stack and count as part of the top
    block ``layer.L``: they get its learning rate and thaw with it. Heads are ``head:TASK``;
    BERT's ``pooler`` is its own component (no pooling mode uses it).
    """
    if parameter_name.startswith("heads."):
        return "head:" + parameter_name.split(".")[1]
    match = _LAYER.search(parameter_name)
    if match:
        return f"layer.{int(match.group(1)) + 1}"
    if ".embeddings." in parameter_name:
        return "embeddings"
    if ".pooler." in parameter_name:
        return "pooler"
    return f"layer.{num_layers}"
