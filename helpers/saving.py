"""Saving and loading a model directory atomically, with errors that name the mismatch.

A saved model is: safetensors weights, a JSON config, the backbone's own config and its
tokenizer, so it reloads offline whatever backbone it was fine-tuned from.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer

from .encoder import SentenceEncoder
from .loading import default_model_path
from .tasks import TaskSpec

CONFIG_FILE, WEIGHTS_FILE = "multitask_config.json", "model.safetensors"
BACKBONE_DIR, TOKENIZER_DIR, CARD_FILE = "backbone", "tokenizer", "README.md"


def check_full_precision(encoder: SentenceEncoder, where: str, verb: str) -> None:
    """int8 weights are not what ``load`` or another library reads: refuse, with the fix."""
    if encoder.quantize is not None:
        raise ValueError(f"{where}: the encoder is quantized ({encoder.quantize!r}); {verb} "
                         f"the fp32 model and quantize after loading")


def save_model(model: nn.Module, config: dict, directory: str | os.PathLike,
               card: str | None = None) -> Path:
    """Write ``model`` (with ``.encoder``), ``config`` and the model ``card`` (README.md)
    to ``directory``.

    Files go to a temporary sibling directory that is renamed into place at the end, so a
    crash leaves the old directory or nothing, never half a checkpoint.
    """
    target = Path(directory)
    if target.exists() and not target.is_dir():
        raise ValueError(f"save(): {str(target)!r} is a file; expected a directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        state = {name: tensor.detach().cpu().contiguous()
                 for name, tensor in model.state_dict().items()}
        save_file(state, staging / WEIGHTS_FILE)
        model.encoder.backbone.config.save_pretrained(staging / BACKBONE_DIR)
        model.encoder.tokenizer.save_pretrained(staging / TOKENIZER_DIR)
        (staging / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        if card is not None:
            (staging / CARD_FILE).write_text(card)
        replace_directory(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def replace_directory(staging: Path, target: Path) -> None:
    """Put ``staging`` at ``target`` so that at every instant one complete checkpoint is
    there: files and folders flushed to disk first, then one atomic rename (or, when
    ``target`` exists, an atomic exchange of the two names), then the parent flushed."""
    _flush_tree(staging)
    if not target.exists():
        staging.rename(target)
    else:
        _exchange(staging, target)
        shutil.rmtree(staging)  # now holds the old checkpoint
    _flush(target.parent)


def _flush(path: Path) -> None:
    """fsync one file or directory (a renamed entry is durable once its folder is)."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _flush_tree(root: Path) -> None:
    for path in sorted(root.rglob("*"), reverse=True):  # files before their folders
        _flush(path)
    _flush(root)


def _exchange(first: Path, second: Path) -> None:
    """Swap two directory names atomically (Linux ``renameat2(RENAME_EXCHANGE)``); where
    the call is missing, move the old one aside first (the old copy stays complete on
    disk under ``first`` until the new one is in place)."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is not None:
        at_cwd, exchange = -100, 2
        if renameat2(at_cwd, os.fsencode(first), at_cwd, os.fsencode(second), exchange) == 0:
            return
    aside = first.with_name(first.name + ".old")
    second.rename(aside)
    first.rename(second)
    aside.rename(first)


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, or one line naming the file and the fix."""
    try:
        return load_file(path)
    except Exception as error:  # safetensors raises its own SafetensorError / OSError
        raise ValueError(f"load(): {str(path)!r} is truncated or not a safetensors file "
                         f"({error}); save the model again, or restore that file from a "
                         f"copy") from error


def load_model(cls: type, directory: str | os.PathLike, format_version: int) -> nn.Module:
    """A saved ``MultiTaskModel`` rebuilt: encoder, heads, adapters, weights, temperatures."""
    config, weights, backbone, tokenizer = read_saved(directory, format_version)
    encoder, tasks = encoder_and_tasks(config, backbone, tokenizer)
    heads = config.get("heads") or config["head"]  # older saves: one head for all tasks
    model = cls(encoder, tasks, heads, config.get("hidden", 256), config.get("dropout", 0.1),
                config.get("projection_dim"))
    if config.get("lora"):  # adapters first, so their weights have a place to go
        from .lora import add_lora

        add_lora(model, **config["lora"])
    load_weights(model, read_weights(weights), origin=str(weights))
    for task, temperature in config.get("temperatures", {}).items():  # older saves: none
        model.set_temperature(task, temperature)
    return model.eval()


def read_saved(directory: str | os.PathLike, format_version: int
               ) -> tuple[dict, Path, nn.Module, object]:
    """(config, weights file, backbone with random weights, tokenizer) of a saved model."""
    source = Path(directory)
    config_path = source / CONFIG_FILE
    if not config_path.is_file():
        raise ValueError(f"load(): {str(source)!r} is not a saved MultiTaskModel "
                         f"(no {CONFIG_FILE})")
    config = json.loads(config_path.read_text())
    if config.get("format_version") != format_version:
        raise ValueError(f"load(): {str(source)!r} has format version "
                         f"{config.get('format_version')!r}; expected {format_version}")
    weights = source / WEIGHTS_FILE
    if not weights.is_file():
        raise ValueError(f"load(): {str(source)!r} has no {WEIGHTS_FILE}")
    backbone = AutoModel.from_config(AutoConfig.from_pretrained(source / BACKBONE_DIR))
    tokenizer = AutoTokenizer.from_pretrained(source / TOKENIZER_DIR)
    return config, weights, backbone, tokenizer


def load_weights(model: nn.Module, state: dict[str, torch.Tensor], origin: str) -> None:
    """Load a state dict, naming missing, unexpected and mis-shaped tensors."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mis_shaped = [f"{name} {tuple(state[name].shape)} vs {tuple(own[name].shape)}"
                  for name in sorted(set(own) & set(state))
                  if state[name].shape != own[name].shape]
    if missing or unexpected or mis_shaped:
        differing = {model.component(name.split()[0]) for name in
                     [*missing, *unexpected, *mis_shaped]} if hasattr(model, "component") else {}
        raise ValueError(
            f"load(): the weights in {origin} do not match this model's config in "
            f"{sorted(differing)} (another backbone, task, label set or head shape?): "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}, "
            f"shape mismatch {mis_shaped[:5]}")
    model.load_state_dict(state)


def encoder_and_tasks(config: dict, backbone: nn.Module, tokenizer: object
                      ) -> tuple[SentenceEncoder, list[TaskSpec]]:
    """The saved encoder settings around ``backbone`` and the saved task list."""
    encoder = SentenceEncoder(
        backbone, tokenizer, config["pooling"], config["layer"], config["normalize"],
        config["max_length"], config["backbone"] or str(default_model_path()),
    )
    return encoder, [TaskSpec(task["name"], tuple(task["labels"])) for task in config["tasks"]]


def model_config(model: nn.Module, format_version: int) -> dict:
    """A ``MultiTaskModel``'s settings for its JSON config (everything but the weights)."""
    encoder = model.encoder
    packaged = encoder.name_or_path == str(default_model_path())
    return {
        "format_version": format_version,
        "backbone": None if packaged else encoder.name_or_path,
        "pooling": encoder.pooling, "layer": encoder.layer,
        "normalize": encoder.normalize, "max_length": encoder.max_length,
        "tasks": [{"name": task.name, "labels": list(task.labels)} for task in model.tasks],
        "heads": {name: config.to_dict() for name, config in model.head_configs.items()},
        "projection_dim": model.projection.out_features if model.projection else None,
        "temperatures": model.temperatures,
        "lora": model.lora_settings,  # helpers.lora.add_lora's arguments
    }
