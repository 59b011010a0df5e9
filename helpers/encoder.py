"""``SentenceEncoder``: a pretrained transformer plus pooling, as one ``nn.Module``.

``forward`` is differentiable, so the multi-task model trains through it; ``encode`` is
the fast inference path (length-sorted batches, dynamic padding, inference mode).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.masking_utils import create_bidirectional_mask

from .loading import load_backbone
from .modes import evaluating
from .pooling import check_dim, check_pooling, pool, truncate
from .precision import encoding_precision
from .quantize import quantize_backbone
from .st_directory import own_settings
from .validation import check_choice, check_positive_int, check_sentences

OUTPUT_FORMATS = ("numpy", "torch")
# Backbones whose blocks can be run from a cached hidden state (``blocks_from``).
PREFIX_BACKBONES = ("bert", "roberta", "xlm-roberta")


MAX_LENGTH = 256  # tokens; the default of every entry point (library, CLI, config)

class SentenceEncoder(nn.Module):
    """Backbone + pooling (+ L2 normalisation) → one vector per sentence."""

    def __init__(
        self,
        backbone: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        pooling: str = "mean",
        layer: int = -1,
        normalize: bool = True,
        max_length: int = MAX_LENGTH,
        name_or_path: str | None = None,
        quantize: str | None = None,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.tokenizer = tokenizer
        self.pooling = check_pooling(pooling, "SentenceEncoder")
        self.layer = self._check_layer(layer)
        self.normalize = bool(normalize)
        self.max_length = check_positive_int(max_length, "max_length", "SentenceEncoder")
        self.name_or_path = name_or_path
        self.quantize = quantize

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike | None = None,
        pooling: str | None = None,
        layer: int = -1,
        normalize: bool | None = None,
        max_length: int = MAX_LENGTH,
        quantize: str | None = None,
        pretrained: bool = True,
    ) -> SentenceEncoder:
        """Load a backbone by hub name or local path; ``None`` is the packaged MiniLM.
        ``pretrained=False`` keeps its architecture and tokenizer but not its weights.
        ``pooling`` / ``normalize`` left as None: a sentence-transformers directory's own
        settings (``helpers.st_directory``), else mean pooling, normalised."""
        source, pooling, normalize = own_settings(name_or_path, pooling, normalize)
        check_pooling(pooling, "SentenceEncoder.from_pretrained()")
        quantize = encoding_precision(quantize)  # "auto" → what is fast on this machine
        backbone, tokenizer, resolved = load_backbone(source, pretrained)
        backbone = quantize_backbone(backbone, quantize)
        return cls(backbone, tokenizer, pooling, layer, normalize, max_length, resolved, quantize)

    @property
    def num_layers(self) -> int:
        """Number of transformer layers in the backbone."""
        return int(self.backbone.config.num_hidden_layers)

    @property
    def top_layer(self) -> int:
        """The hidden state that is pooled, counted 0 (embeddings) … L: the top layer used.

        Layers above it (and BERT's pooler) never reach a sentence vector.
        """
        return self.layer if self.layer >= 0 else self.num_layers + 1 + self.layer

    @property
    def dim(self) -> int:
        """Size of one sentence vector."""
        return int(self.backbone.config.hidden_size)

    @property
    def device(self) -> torch.device:
        return self.backbone.get_input_embeddings().weight.device

    def _check_layer(self, layer: int) -> int:
        """Hidden states are numbered 0 (embeddings) … L (last layer); negatives count back."""
        top = int(self.backbone.config.num_hidden_layers)
        if isinstance(layer, bool) or not isinstance(layer, int) or not -(top + 1) <= layer <= top:
            raise ValueError(
                f"SentenceEncoder: layer {layer!r} is out of range for a {top}-layer backbone; "
                f"expected an int from {-(top + 1)} to {top} "
                f"(-1 is the last layer, 0 the embedding output)"
            )
        return layer

    def with_pooling(self, pooling: str | None = None, layer: int | None = None) -> SentenceEncoder:
        """A view with another pooling mode or layer that shares this backbone's weights."""
        view = copy.copy(self)  # shallow: submodules (the backbone) are shared, not copied
        view._modules = dict(self._modules)
        if pooling is not None:
            view.pooling = check_pooling(pooling, "SentenceEncoder.with_pooling()")
        if layer is not None:
            view.layer = self._check_layer(layer)
        return view

    def pooled(self, input_ids: torch.Tensor | None, attention_mask: torch.Tensor,
               hidden_states: torch.Tensor | None = None, from_layer: int | None = None
               ) -> torch.Tensor:
        """(batch, seq) token ids and mask → (batch, dim) pooled vectors, not normalised.

        Or, instead of token ids, the (batch, seq, hidden) ``hidden_states`` after layer
        ``from_layer`` (a cached frozen prefix): only the blocks above it run.
        """
        if hidden_states is not None:
            tokens = self.blocks_from(hidden_states, attention_mask, from_layer)
            return pool(tokens, attention_mask, self.pooling)
        pick_layer = self.layer != -1
        outputs = self.backbone(
            input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=pick_layer
        )
        tokens = outputs.hidden_states[self.layer] if pick_layer else outputs.last_hidden_state
        return pool(tokens, attention_mask, self.pooling)

    def forward(self, input_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None,
                hidden_states: torch.Tensor | None = None,
                from_layer: int | None = None) -> torch.Tensor:
        """(batch, seq) token ids and mask → (batch, dim) sentence vectors."""
        vectors = self.pooled(input_ids, attention_mask, hidden_states, from_layer)
        return F.normalize(vectors, dim=-1) if self.normalize else vectors

    @property
    def runs_from_layer(self) -> bool:
        """Whether ``blocks_from`` can continue from a hidden state: backbones whose blocks
        are ``encoder.layer`` and take (hidden states, attention mask), as BERT's do."""
        return (self.backbone.config.model_type in PREFIX_BACKBONES and self.quantize is None
                and not self.backbone.config.is_decoder)

    def prefix_modules(self, depth: int) -> list[nn.Module]:
        """The embeddings and blocks 1 … ``depth``: the modules below hidden state ``depth``."""
        return [self.backbone.embeddings, *self.backbone.encoder.layer[:depth]]

    def blocks_from(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor,
                    from_layer: int, to_layer: int | None = None) -> torch.Tensor:
        """(batch, seq, hidden) states after layer ``from_layer`` → those after ``to_layer``
        (default: the pooled layer), running only the blocks in between."""
        to_layer = self.top_layer if to_layer is None else to_layer
        if not self.runs_from_layer:
            raise ValueError(f"SentenceEncoder: cannot continue from a hidden state of a "
                             f"{self.backbone.config.model_type!r} backbone (quantize="
                             f"{self.quantize!r}); supported: {', '.join(PREFIX_BACKBONES)}")
        if not 0 <= from_layer <= to_layer <= self.top_layer:
            raise ValueError(f"SentenceEncoder: layers {from_layer!r} → {to_layer!r} are not "
                             f"within 0 … {self.top_layer} (the pooled layer), bottom to top")
        mask = create_bidirectional_mask(config=self.backbone.config,
                                         inputs_embeds=hidden_states,
                                         attention_mask=attention_mask)
        for block in self.backbone.encoder.layer[from_layer:to_layer]:
            hidden_states = block(hidden_states, mask)
        return hidden_states

    def tokenize(self, sentences: Sequence[str]) -> dict[str, torch.Tensor]:
        """Pad to the longest sentence in the batch and cut at ``max_length``."""
        encoded = self.tokenizer(
            list(sentences),
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}

    def token_counts(self, sentences: Sequence[str]) -> list[int]:
        """Tokens per sentence after truncation, special tokens included."""
        encoded = self.tokenizer(list(sentences), truncation=True, max_length=self.max_length)
        return [len(ids) for ids in encoded["input_ids"]]

    def encode(
        self,
        sentences: str | Sequence[str],
        batch_size: int = 32,
        normalize: bool | None = None,
        convert_to: str = "numpy",
        progress: bool = False,
        dim: int | None = None,
    ) -> np.ndarray | torch.Tensor:
        """Sentences → float32 vectors of shape (n, dim); one string → (dim,).

        Batches hold sentences of similar token count (less padding), and the original
        order is restored at the end. ``normalize=None`` uses the encoder's own setting.
        ``dim=k`` keeps the first k coordinates (Matryoshka-style truncation, re-normalised).
        """
        single = isinstance(sentences, str)
        items = check_sentences([sentences] if single else sentences, "encode()")
        check_positive_int(batch_size, "batch_size", "encode()")
        check_choice(convert_to, OUTPUT_FORMATS, "convert_to", "encode()")
        unit_length = self.normalize if normalize is None else bool(normalize)
        check_dim(dim, self.dim, "encode()")
        if not items:
            empty = torch.empty((0, self.dim), dtype=torch.float32)
            return empty if convert_to == "torch" else empty.numpy()

        # Tokenize once, then batch by token count: similar lengths mean little padding.
        encoded = self.tokenizer(items, truncation=True, max_length=self.max_length)["input_ids"]
        order = np.argsort([-len(ids) for ids in encoded], kind="stable")
        vectors = torch.empty((len(items), self.dim), dtype=torch.float32)
        with evaluating(self), torch.inference_mode():
            starts = range(0, len(items), batch_size)
            for start in tqdm(starts, desc="encode", disable=not progress, unit="batch"):
                chosen = order[start : start + batch_size]
                batch = self.tokenizer.pad(
                    {"input_ids": [encoded[i] for i in chosen]}, return_tensors="pt"
                )
                pooled = self.pooled(  # (batch, dim)
                    batch["input_ids"].to(self.device), batch["attention_mask"].to(self.device)
                )
                if unit_length:
                    pooled = F.normalize(pooled, dim=-1)
                vectors[torch.from_numpy(chosen)] = pooled.float().cpu()
        result = truncate(vectors, dim, unit_length)
        result = result[0] if single else result
        return result if convert_to == "torch" else result.numpy()

    def extra_repr(self) -> str:
        return (
            f"pooling={self.pooling!r}, layer={self.layer}, normalize={self.normalize}, "
            f"max_length={self.max_length}, dim={self.dim}, quantize={self.quantize!r}"
        )
