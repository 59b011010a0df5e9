"""A trained model out of the project: a sentence-transformers directory, heads beside it.

``export_sentence_transformer(model, path)`` writes what ``SentenceTransformer(path)`` loads:
the backbone (cut after the pooled layer, so its last hidden state *is* that layer), a
``Pooling`` module in the model's mode, ``Normalize`` where the model normalises, and the
learned projection as a ``Dense`` layer. Its ``encode`` gives our ``model.encode`` vectors.
The task heads go beside it (``sentence_mtl_heads.safetensors`` and ``.json``); the model
card says how to apply them. A setting sentence-transformers cannot express is refused by
name rather than exported approximately.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

from .multitask import MultiTaskModel
from .saving import check_full_precision, replace_directory

HEADS_WEIGHTS, HEADS_CONFIG = "sentence_mtl_heads.safetensors", "sentence_mtl_heads.json"


def _refusal(model: MultiTaskModel) -> str | None:
    """Why this model cannot be exported as it is, or None."""
    encoder = model.encoder
    if model.lora_settings:
        return "the encoder has LoRA adapters; merge_lora(model) first"
    if encoder.top_layer < encoder.num_layers and not hasattr(
            getattr(encoder.backbone, "encoder", None), "layer"):
        return (f"pooling hidden state {encoder.top_layer} of {encoder.num_layers} needs a "
                f"BERT-style backbone (encoder.layer) to cut; this one is "
                f"{encoder.backbone.config.model_type!r}")
    return None


def _cut_backbone(model: MultiTaskModel) -> torch.nn.Module:
    """A copy of the backbone with only the blocks up to the pooled layer."""
    backbone, top = copy.deepcopy(model.encoder.backbone), model.encoder.top_layer
    if top < model.encoder.num_layers:
        backbone.encoder.layer = backbone.encoder.layer[:top]
        backbone.config.num_hidden_layers = top
    return backbone


def _modules(model: MultiTaskModel, folder: Path, projection: bool) -> list[torch.nn.Module]:
    from sentence_transformers.sentence_transformer.modules import (
        Dense,
        Normalize,
        Pooling,
        Transformer,
    )

    encoder = model.encoder
    _cut_backbone(model).save_pretrained(folder)
    encoder.tokenizer.save_pretrained(folder)
    modules = [Transformer(str(folder), max_seq_length=encoder.max_length),
               Pooling(encoder.dim, pooling_mode=encoder.pooling)]
    modules += [Normalize()] if encoder.normalize else []
    if projection and model.projection is not None:
        linear = model.projection
        modules.append(Dense(linear.in_features, linear.out_features,
                             activation_function=torch.nn.Identity(),
                             init_weight=linear.weight.detach().cpu().clone(),
                             init_bias=linear.bias.detach().cpu().clone()))
        modules += [Normalize()] if encoder.normalize else []
    return modules


def _write_heads(model: MultiTaskModel, folder: Path) -> None:
    save_file({name: tensor.detach().cpu().contiguous()
               for name, tensor in model.heads.state_dict().items()}, folder / HEADS_WEIGHTS)
    config = model.config()
    (folder / HEADS_CONFIG).write_text(json.dumps({
        "tasks": config["tasks"], "heads": config["heads"],
        "temperatures": config["temperatures"], "dim": model.dim,
        "input": "the vectors SentenceTransformer(path).encode returns"}, indent=2))
    card = folder / "README.md"
    card.write_text(card.read_text() + HEADS_CARD)


HEADS_CARD = f"""

## Task heads (sentence-mtl)

This directory also holds the classification heads trained with the encoder:
`{HEADS_WEIGHTS}` (weights) and `{HEADS_CONFIG}` (tasks, labels, head shapes and
temperatures). Each head reads the vectors `SentenceTransformer(path).encode(...)` returns.
With sentence-mtl installed, `helpers.export.heads_from_export(path)` rebuilds them as
`{{task: torch.nn.Module}}`; `logits / temperature`, then softmax, gives the probabilities
`MultiTaskModel.predict` reports.
"""


def export_sentence_transformer(model: MultiTaskModel, path: str | os.PathLike,
                                projection: bool = True) -> Path:
    """Write ``model`` as a sentence-transformers directory at ``path`` (atomically), with
    the task heads beside it. ``projection=False`` leaves the learned projection out (the
    encoder's own vectors; the heads, which read projected vectors, are then not written)."""
    check_full_precision(model.encoder, "export_sentence_transformer()", "export")
    why = _refusal(model)
    if why is not None:
        raise ValueError(f"export_sentence_transformer(): {why}")
    from sentence_transformers import SentenceTransformer

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        with tempfile.TemporaryDirectory() as backbone:
            exported = SentenceTransformer(
                modules=_modules(model, Path(backbone), projection), device="cpu")
            exported.save(str(staging))
        if projection or model.projection is None:
            _write_heads(model, staging)
        replace_directory(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def heads_from_export(path: str | os.PathLike) -> tuple[dict[str, torch.nn.Module], dict]:
    """The exported heads as modules, and their config (tasks, labels, temperatures)."""
    from safetensors.torch import load_file

    from .heads import HeadConfig

    folder = Path(path)
    config = json.loads((folder / HEADS_CONFIG).read_text())
    weights = load_file(folder / HEADS_WEIGHTS)
    heads = {}
    for task in config["tasks"]:
        name = task["name"]
        head = HeadConfig(**config["heads"][name]).build(config["dim"], len(task["labels"]))
        head.load_state_dict({key.removeprefix(f"{name}."): value
                              for key, value in weights.items() if key.startswith(f"{name}.")})
        heads[name] = head.eval()
    return heads, config

