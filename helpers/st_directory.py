"""A sentence-transformers model directory as a backbone: its own settings, read.

``SentenceTransformer.save`` writes ``modules.json`` (Transformer → Pooling → Normalize)
and the pooling mode in ``<Pooling path>/config.json``. ``SentenceEncoder.from_pretrained``
reads them when the caller leaves ``pooling`` / ``normalize`` unset, so an exported or
downloaded sentence-transformers model pools the way it was trained, not the way we would
guess. A module we cannot reproduce (a ``Dense`` layer, another pooling mode) is refused
by name instead of silently dropped.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .loading import resolve_model

MODES = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls",
         "pooling_mode_max_tokens": "max"}
READABLE = ("Transformer", "Pooling", "Normalize")


@dataclass(frozen=True)
class StSettings:
    """Where the transformer's weights are, and how the directory pools its output."""

    transformer: Path
    pooling: str
    normalize: bool


def _pooling_mode(config_file: Path) -> str:
    """Older versions write one flag per mode (``pooling_mode_cls_token``), newer ones
    ``"pooling_mode": "cls"`` (a name or a list of names)."""
    config = json.loads(config_file.read_text())
    given = config.get("pooling_mode")
    if given is not None:
        on = [given] if isinstance(given, str) else list(given)
    else:
        on = [MODES.get(key, key) for key, value in config.items()
              if key.startswith("pooling_mode_") and value is True]
    if len(on) != 1 or on[0] not in MODES.values():
        raise ValueError(f"{config_file}: pooling {on or 'none'} cannot be read as one of our "
                         f"modes (mean, cls, max); pass pooling= explicitly to pool otherwise")
    return on[0]


def read_st_directory(directory: str | Path) -> StSettings | None:
    """The directory's settings, or None when it is not a sentence-transformers model."""
    folder = Path(directory)
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return None
    modules = {entry["type"].rsplit(".", 1)[-1]: entry
               for entry in json.loads(modules_file.read_text())}
    unreadable = sorted(set(modules) - set(READABLE))
    if unreadable or "Transformer" not in modules:
        raise ValueError(f"{modules_file}: module(s) {unreadable or ['no Transformer']} cannot "
                         f"be used as a backbone (only {', '.join(READABLE)}); load its "
                         f"transformer folder directly to train on it")
    pooling_path = modules.get("Pooling", {}).get("path")
    pooling = (_pooling_mode(folder / pooling_path / "config.json")
               if pooling_path is not None else "mean")
    return StSettings(folder / modules["Transformer"]["path"], pooling, "Normalize" in modules)


def own_settings(name_or_path: str | os.PathLike | None, pooling: str | None,
                 normalize: bool | None) -> tuple[str | os.PathLike | None, str, bool]:
    """(what to load, pooling, normalize): a setting given wins; one left as None comes
    from a sentence-transformers directory, else mean pooling, normalised. Hub names are
    not read (that would need the network before loading): they pool as told."""
    resolved = resolve_model(name_or_path)
    settings = read_st_directory(resolved) if Path(resolved).is_dir() else None
    if settings is None:
        return (resolved, "mean" if pooling is None else pooling,
                True if normalize is None else normalize)
    return (settings.transformer, settings.pooling if pooling is None else pooling,
            settings.normalize if normalize is None else normalize)
