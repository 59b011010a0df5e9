"""Smaller, faster CPU inference: dynamic int8 on linear layers, or bfloat16 weights.

The int8 path quantizes the weights of every ``nn.Linear`` per output channel (one
scale per row), which keeps similarity quality much closer to fp32 than one scale per
tensor; activations are quantized on the fly. We select the ``fbgemm`` kernels where PyTorch
has them: on the AVX-512 CPUs we measured they ran per-channel int8 about 1.4x faster
than the default ``x86`` engine. Dynamic int8 runs on the CPU only, where PyTorch's
flash-attention kernel was slower than plain ("eager") attention for our short
sentences (int8 encoder: 718 vs 941 sentences/s on 2 cores, batch 32), so the int8 path
switches attention to eager. See ``benchmarks/encode_throughput.py``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from .validation import check_choice

QUANTIZE_MODES = (None, "int8", "bf16")


def quantize_backbone(backbone: nn.Module, mode: str | None) -> nn.Module:
    """Return ``backbone`` converted for ``mode`` (``None`` leaves it as it is)."""
    check_choice(mode, QUANTIZE_MODES, "quantize mode", "quantize")
    if mode is None:
        return backbone
    if mode == "bf16":
        return backbone.to(torch.bfloat16)
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    backbone.set_attn_implementation("eager")
    with warnings.catch_warnings(), _quantized_engine("fbgemm"):
        warnings.simplefilter("ignore")  # torch.ao prints a deprecation notice on every call
        return quantize_dynamic(backbone, {nn.Linear: per_channel_dynamic_qconfig})


@contextmanager
def _quantized_engine(engine: str) -> Iterator[None]:
    """Pack weights for ``engine`` (where PyTorch has it), then restore the process's
    engine: the packed weights keep their own kernels, so nothing else changes."""
    previous = torch.backends.quantized.engine
    if engine in torch.backends.quantized.supported_engines:
        torch.backends.quantized.engine = engine
    try:
        yield
    finally:
        torch.backends.quantized.engine = previous
