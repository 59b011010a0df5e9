"""Freezing by parameter name: the ``only:GLOB`` and ``name:GLOB`` strategies.

Patterns reach inside a block (a block's feed-forward but not its attention), which the
component strategies of ``helpers.freezing`` cannot. They are shell globs
(``fnmatch.fnmatchcase``: ``*`` also crosses dots) over the encoder's parameter names as
``model.named_parameters()`` prints them, e.g.
``encoder.backbone.encoder.layer.5.output.dense.weight``. A pattern that does not start
with that prefix, ``encoder.backbone.``, is also tried on the name without it, so
``encoder.layer.5.output.*`` (the Hugging Face name) works. Hugging Face counts blocks from
0: its ``encoder.layer.5`` is the project's block 6 (component ``layer.6``; see
``helpers.components``). Under LoRA the adapted weights are renamed ``….base_layer.weight``.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from .multitask import MultiTaskModel

PREFIX = "encoder.backbone."  # MultiTaskModel.encoder → SentenceEncoder.backbone
KINDS = ("only", "name")  # only:GLOB keeps matches trainable; name:GLOB freezes them


def is_encoder(name: str) -> bool:
    return name.startswith("encoder.")


def matches(name: str, pattern: str) -> bool:
    """Whether a full parameter name matches, also without ``PREFIX`` if the pattern lacks it."""
    if fnmatchcase(name, pattern):
        return True
    return not pattern.startswith(PREFIX) and fnmatchcase(name.removeprefix(PREFIX), pattern)


def matches_any(name: str, patterns: Sequence[str]) -> bool:
    return any(matches(name, pattern) for pattern in patterns)


def check_pattern(model: MultiTaskModel, strategy: str) -> str:
    """``only:GLOB`` / ``name:GLOB`` → its GLOB, once it is known to match an encoder
    parameter: a typo would otherwise freeze everything (``only:``) or nothing (``name:``)."""
    pattern = strategy.partition(":")[2]
    names = [name for name, _ in model.named_parameters() if is_encoder(name)]
    if not pattern:
        raise ValueError(f"freeze(): {strategy!r} has an empty pattern; expected e.g. "
                         f"'{strategy}encoder.layer.0.output.*'")
    if not any(matches(name, pattern) for name in names):
        example = names[len(names) // 2]
        raise ValueError(f"freeze(): {strategy!r} matches no encoder parameter; names look "
                         f"like {names[0]!r} or, without {PREFIX!r}, "
                         f"{example.removeprefix(PREFIX)!r}")
    return pattern


def pattern_frozen(name: str, only: Sequence[str], named: Sequence[str]) -> bool:
    """Frozen by the patterns: an encoder parameter outside every ``only:`` (when there are
    any), or inside a ``name:``. Heads and the projection are never matched."""
    if not is_encoder(name):
        return False
    return bool(only) and not matches_any(name, only) or matches_any(name, named)


def top_block_feed_forward(model: MultiTaskModel) -> list[str]:
    """The strategy that trains only the top used block's feed-forward sub-layer and the
    LayerNorm after it (BERT's ``intermediate.*`` and ``output.*``), with every head.

    The smallest encoder change that still adapts the vector: the top block's attention
    and everything below stay as pretrained. Block k is Hugging Face's ``layer.{k-1}``.
    """
    top = model.encoder.top_layer
    if top < 1:
        raise ValueError(f"top_block_feed_forward(): the model pools layer {top} (the "
                         f"embeddings), so no block is used")
    return [f"only:encoder.layer.{top - 1}.intermediate.*",
            f"only:encoder.layer.{top - 1}.output.*"]
