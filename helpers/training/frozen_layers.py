"""Frozen layers in training: eval mode, and their output computed once per sentence.

With the embeddings and blocks 1 … K frozen (``bottom:K``, the frozen stretch of gradual
unfreezing), every epoch would compute the same hidden state after block K for every
sentence. ``PrefixCache`` computes it once (dropout off: frozen layers run in eval mode
in training too, cached or not, so caching changes the speed only) and training runs
only the blocks above it. Under gradual unfreezing the frozen depth shrinks as layers
thaw, so the cache keeps every depth from 0 up to the one frozen at the start, and each
step reads the depth frozen at that moment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from ..components import frozen_depth
from ..encoder import SentenceEncoder
from ..freezing import trainable_count
from ..multitask import MultiTaskModel
from .config import TrainConfig
from .mixture import Source

# Beyond this many bytes of cached states a run computes its frozen layers every step.
MAX_CACHE_BYTES = 2 * 1024**3


class PrefixCache:
    """Per depth k, per training row: the (tokens, hidden) state after layer k."""

    def __init__(self, states: dict[int, list[torch.Tensor]]) -> None:
        self.states = states

    @classmethod
    def build(cls, encoder: SentenceEncoder, texts: Sequence[str], depths: Sequence[int],
              batch_size: int = 64) -> PrefixCache | None:
        """The states of ``texts`` at ``depths``; None where they would not fit in memory."""
        encoded = encoder.tokenizer(list(texts), truncation=True,
                                    max_length=encoder.max_length)["input_ids"]
        tokens = sum(len(ids) for ids in encoded)
        if tokens * encoder.dim * 4 * len(depths) > MAX_CACHE_BYTES:
            return None
        states: dict[int, list] = {depth: [None] * len(encoded) for depth in depths}
        order = np.argsort([-len(ids) for ids in encoded], kind="stable")
        was_training = encoder.training
        encoder.eval()
        try:
            with torch.no_grad():  # not inference_mode: the states enter autograd later
                for start in range(0, len(order), batch_size):
                    chosen = order[start:start + batch_size]
                    batch = encoder.tokenizer.pad({"input_ids": [encoded[i] for i in chosen]},
                                                  return_tensors="pt").to(encoder.device)
                    hidden = encoder.backbone.embeddings(input_ids=batch["input_ids"])
                    for depth in range(max(depths) + 1):  # only the frozen blocks run
                        if depth:
                            hidden = encoder.blocks_from(hidden, batch["attention_mask"],
                                                         depth - 1, depth)
                        for place, row in enumerate(chosen if depth in states else ()):
                            states[depth][row] = hidden[place, :len(encoded[row])].cpu()
        finally:
            encoder.train(was_training)
        return cls(states)

    def inputs(self, batch: dict, depth: int) -> dict:
        """A training batch (``rows``, ``attention_mask``, labels) → the model's inputs from
        the cached state after layer ``depth`` (the batch's own padding)."""
        rows = batch["rows"].tolist()
        mask = batch["attention_mask"]
        # (batch, seq, hidden): padded to the longest row, as the batch's tokens were
        hidden = pad_sequence([self.states[depth][row] for row in rows], batch_first=True)
        return {"hidden_states": hidden.to(mask.device), "attention_mask": mask,
                "from_layer": depth, "labels": batch["labels"]}


def encoder_is_frozen(model: MultiTaskModel) -> bool:
    return trainable_count(model.encoder.parameters()) == 0


def encoder_depth_frozen(model: MultiTaskModel) -> int:
    """Layers frozen from the bottom (``helpers.components.frozen_depth``): -1 … top."""
    return frozen_depth(model.encoder.named_parameters(), model.encoder.top_layer)


def set_train_mode(model: MultiTaskModel) -> None:
    """Train mode, except frozen bottom layers (or a fully frozen encoder) stay in eval
    mode: no dropout noise where nothing learns, so a frozen prefix gives the same output
    every epoch and can be cached."""
    model.train()
    if encoder_is_frozen(model):
        model.encoder.eval()
    elif model.encoder.runs_from_layer and (depth := encoder_depth_frozen(model)) >= 0:
        for module in model.encoder.prefix_modules(depth):
            module.eval()


def prefix_caches(model: MultiTaskModel, sources: Sequence[Source], config: TrainConfig,
                  changes_trainable: bool) -> list[PrefixCache | None]:
    """Per source, the frozen layers' outputs (every depth a thawing run will pass through),
    or None where nothing is frozen from the bottom or caching is off."""
    depth = encoder_depth_frozen(model)
    if not (config.cache_frozen_encoder and model.encoder.runs_from_layer and depth >= 0):
        return [None] * len(sources)
    depths = range(depth + 1) if changes_trainable else [depth]
    return [PrefixCache.build(model.encoder, s.train["text"], depths, config.batch_size)
            for s in sources]


def with_rows(collate: Callable[[Sequence[int]], dict]) -> Callable[[Sequence[int]], dict]:
    """The collated batch and its row indices (to look up cached prefix states)."""
    def collate_with_rows(indices: Sequence[int]) -> dict:
        return {**collate(indices), "rows": torch.as_tensor(list(indices))}
    return collate_with_rows


def model_inputs(prefix: PrefixCache | None, model: MultiTaskModel, batch: dict) -> dict:
    """The batch as the model takes it: from the cached frozen prefix where there is one,
    at the depth frozen now (gradual unfreezing thaws layers between steps)."""
    if prefix is not None and "input_ids" in batch:
        depth = encoder_depth_frozen(model)
        if depth in prefix.states:
            return prefix.inputs(batch, depth)
    return {name: value for name, value in batch.items() if name != "rows"}
