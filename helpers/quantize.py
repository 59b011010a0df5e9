"""Smaller, faster CPU inference: dynamic int8 on linear layers, or bfloat16 weights.

The int8 path quantizes the weights of every ``nn.Linear`` per output channel (one scale
per row), which keeps similarity quality much closer to fp32 than one scale per tensor;
activations are quantized on the fly to the full 8 bits. (PyTorch's dynamic ``Linear``
uses 7 bits with fbgemm, ``reduce_range=True``, to rule out an int16 overflow of paired
products on CPUs without VNNI; measured over the 79,800 pairs of 400 test sentences on
an AVX2-only EPYC, 8 bits keep the rank order of fp32 cosines at 0.995 instead of 0.985,
at the same speed, so the rare overflow costs far less than the lost bit.) We select the
``fbgemm`` kernels where PyTorch has them: on the AVX-512 CPUs we measured they ran per-
channel int8 about 1.4x faster than the default ``x86`` engine. Dynamic int8 runs on the
CPU only, where PyTorch's flash-attention kernel was slower than plain ("eager")
attention for our short sentences (int8 encoder: 718 vs 941 sentences/s on 2 cores,
batch 32), so the int8 path switches attention to eager. See
``benchmarks/encode_throughput.py``.

A few linear layers stay fp32: measured one at a time (``benchmarks/int8_sensitivity.py``),
the feed-forward output projections of the first two blocks of all-MiniLM-L6-v2, whose
input is the GELU output with its outliers under one per-tensor activation scale, moved
the sentence vectors most (a third of all the int8 error between them) for about a ninth of
the linear compute. Backbones without these module names quantize every linear layer.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.ao.nn.quantized import dynamic as nnqd

from .validation import check_choice


class FullRangeDynamicLinear(nnqd.Linear):
    """PyTorch's dynamic int8 ``Linear``, with activations quantized to all 8 bits."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_dynamic(x, self._packed_params._packed_params,
                                                  reduce_range=False)


QUANTIZE_MODES = (None, "int8", "bf16")
KEEP_FP32 = ("encoder.layer.0.output.dense", "encoder.layer.1.output.dense")


def quantize_backbone(backbone: nn.Module, mode: str | None,
                      keep_fp32: Collection[str] = KEEP_FP32) -> nn.Module:
    """Return ``backbone`` converted for ``mode`` (``None`` leaves it as it is); with int8,
    the linear layers named in ``keep_fp32`` stay in full precision."""
    check_choice(mode, QUANTIZE_MODES, "quantize mode", "quantize")
    if mode is None:
        return backbone
    if mode == "bf16":
        return backbone.to(torch.bfloat16)
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    chosen = {name: per_channel_dynamic_qconfig for name, module in backbone.named_modules()
              if isinstance(module, nn.Linear) and name not in keep_fp32}
    backbone.set_attn_implementation("eager")
    with warnings.catch_warnings(), _quantized_engine("fbgemm"):
        warnings.simplefilter("ignore")  # torch.ao prints a deprecation notice on every call
        return quantize_dynamic(backbone, chosen, mapping={nn.Linear: FullRangeDynamicLinear})


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
