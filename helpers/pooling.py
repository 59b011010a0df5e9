"""Pooling: turn token vectors into one sentence vector, ignoring padding.

Pure functions on tensors. Shapes: ``tokens`` is (batch, seq, hidden), ``mask`` is
(batch, seq) with 1 for real tokens and 0 for padding; each returns (batch, hidden).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .validation import check_choice


def mean_pool(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average of the real tokens (the sentence-transformers recipe)."""
    weights = mask.unsqueeze(-1).to(tokens.dtype)  # (batch, seq, 1)
    summed = (tokens * weights).sum(dim=1)  # (batch, hidden)
    counts = weights.sum(dim=1).clamp(min=1e-9)  # (batch, 1)
    return summed / counts


def cls_pool(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The first token ([CLS]); the mask is unused but kept for one signature."""
    del mask
    return tokens[:, 0]


def max_pool(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Element-wise maximum over the real tokens; padding can never win."""
    padding = (mask == 0).unsqueeze(-1)  # (batch, seq, 1)
    return tokens.masked_fill(padding, torch.finfo(tokens.dtype).min).max(dim=1).values


POOLERS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "mean": mean_pool,
    "cls": cls_pool,
    "max": max_pool,
}
POOLING_MODES = tuple(POOLERS)


def check_pooling(mode: str, where: str = "pooling") -> str:
    """Return ``mode`` if it is a known pooling mode, else raise listing the modes."""
    check_choice(mode, POOLING_MODES, "pooling mode", where)
    return mode


def pool(tokens: torch.Tensor, mask: torch.Tensor, mode: str) -> torch.Tensor:
    """Pool ``tokens`` with the named ``mode`` (one of ``POOLING_MODES``)."""
    return POOLERS[check_pooling(mode)](tokens, mask)


def check_dim(dim: int | None, full: int, where: str) -> None:
    """``dim`` for ``truncate``: None (keep all) or 1 … ``full``."""
    if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int)
                            or not 1 <= dim <= full):
        raise ValueError(f"{where}: dim must be an int from 1 to {full} (or None), got {dim!r}")


def truncate(vectors: torch.Tensor, dim: int | None, normalize: bool) -> torch.Tensor:
    """Matryoshka-style: the first ``dim`` coordinates of (n, full) vectors, re-normalised
    to unit length when ``normalize`` (cosine similarity on the shorter vectors)."""
    if dim is None:
        return vectors
    kept = vectors[:, :dim]
    return torch.nn.functional.normalize(kept, dim=-1) if normalize else kept
