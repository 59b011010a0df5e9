"""Smaller, faster CPU inference: int8 linear layers, or bfloat16 weights.

int8 rounds the weights of each ``nn.Linear`` to 8 bits with one scale per output channel
and the activations to 8 bits on the fly. It takes one of two routes, whichever is fast on
this CPU (``fast_int8_matmul``); measured over all pairs of 1,000 test sentences,
as the rank agreement of their cosines with fp32's (``benchmarks/encode_throughput.py``):

* **Per token**, where ``torch._int_mm`` runs on VNNI or AMX kernels: each token's
  activations get their own scale and zero point, so one large value in one token no
  longer coarsens every other token's levels. The value projections stay fp32
  (``KEEP_FP32_PER_TOKEN``): one at a time, per share of the weights, they did 7x the
  damage of any other kind of layer (``benchmarks/int8_sensitivity.py``). On a 2-core
  Zen 5 EPYC: 0.9993 at 2.5x fp32's speed (every layer int8: 0.9988).
* **Per tensor** elsewhere: PyTorch's dynamic int8 ``Linear`` with fbgemm, one scale for
  all activations of a call, quantized to the full 8 bits. (PyTorch uses 7, ``reduce_range``,
  to rule out an int16 overflow of paired products on CPUs without VNNI; over the 79,800
  pairs of 400 test sentences on an AVX2-only EPYC, 8 bits agree at 0.995 instead of
  0.985, at the same speed.) On AVX-512 CPUs fbgemm ran about 1.4x faster than the
  default ``x86`` engine. The feed-forward output projections of the first two blocks
  stay fp32 (``KEEP_FP32_PER_TENSOR``; ``benchmarks/int8_sensitivity.py``): their GELU
  outliers under one scale moved the vectors most, a third of all the int8 error.

Both routes run attention "eager": PyTorch's flash-attention kernel was slower for our
short sentences (int8 encoder: 718 vs 941 sentences/s on 2 cores, batch 32). Backbones
without the kept layers' names quantize every linear layer.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.ao.nn.quantized import dynamic as nnqd

from .validation import check_choice

QUANTIZE_MODES = (None, "int8", "bf16")
KEEP_FP32_PER_TENSOR = ("encoder.layer.0.output.dense", "encoder.layer.1.output.dense")
KEEP_FP32_PER_TOKEN = ".attention.self.value"  # every block's value projection


def refuse_gradient(x: torch.Tensor) -> None:
    """An int8 layer passes no gradient back: training anything below it would silently
    train on a cut graph (PyTorch's dynamic int8 only warns), so refuse, with the fix."""
    if x.requires_grad and torch.is_grad_enabled():
        raise RuntimeError("an int8 layer has no gradient, but a parameter below it is being "
                           "trained; train the fp32 model, then quantize it (quantize='int8' "
                           "when loading it)")


class FullRangeDynamicLinear(nnqd.Linear):
    """PyTorch's dynamic int8 ``Linear``, with activations quantized to all 8 bits."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        refuse_gradient(x)
        return torch.ops.quantized.linear_dynamic(x, self._packed_params._packed_params,
                                                  reduce_range=False)


def fast_int8_matmul() -> bool:
    """True when ``torch._int_mm`` (int8 × int8 → int32) runs fast here, and exactly.

    PyTorch hands it to oneDNN only on a CPU with AVX-512 VNNI (AMX CPUs have it) and
    oneDNN switched on; elsewhere a plain loop runs it (the real model at 9 sentences/s on
    an AVX2 EPYC). oneDNN capped below VNNI (``ONEDNN_MAX_CPU_ISA=AVX2`` or
    ``AVX512_CORE``) adds pairs of products in 16 bits, which saturate: on a Zen 5 EPYC
    64 × 127 × 127 came back as 8,160. A known answer rules that out.
    """
    mkldnn = torch.backends.mkldnn
    if not (torch.cpu.get_capabilities().get("avx512_vnni") and mkldnn.is_available()
            and mkldnn.enabled):
        return False
    top = torch.full((4, 64), 127, dtype=torch.int8)
    return bool((torch._int_mm(top, top.T.contiguous()) == 64 * 127 * 127).all())


def token_levels(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each row of ``x`` (tokens, features) on the 256 int8 levels with its own scale and
    shift, ``x ≈ (levels + shift) * scale``; every row's range holds 0, so zeros stay exact."""
    low = x.amin(-1, keepdim=True).clamp_(max=0)  # (tokens, 1)
    high = x.amax(-1, keepdim=True).clamp_(min=0)
    scale = (high - low).div_(255).clamp_(min=1e-12)
    shift = (low / scale).round_().add_(128)
    levels = (x / scale).round_().sub_(shift).clamp_(-128, 127).to(torch.int8)
    return levels, scale, shift


class PerTokenInt8Linear(nn.Module):
    """``nn.Linear`` as int8 × int8 → int32 products (``torch._int_mm``): weights rounded
    once per output channel, activations per token (``token_levels``). The activations'
    shift comes back through the weights' column sums, so a signed kernel is enough."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        weight = linear.weight.detach().float()  # (out, in)
        scale = weight.abs().amax(1).clamp(min=1e-12) / 127
        levels = (weight / scale[:, None]).round().clamp(-127, 127).to(torch.int8)
        self.register_buffer("weight", levels.t().contiguous())  # (in, out), as _int_mm takes it
        self.register_buffer("weight_scale", scale)
        self.register_buffer("column_sums", levels.sum(1, dtype=torch.int32).float())
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        refuse_gradient(x)
        levels, scale, shift = token_levels(x.reshape(-1, self.in_features))
        out = torch._int_mm(levels, self.weight).float()  # (tokens, out)
        out.addr_(shift.squeeze(1), self.column_sums).mul_(scale).mul_(self.weight_scale)
        if self.bias is not None:
            out.add_(self.bias)
        return out.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, per-token int8"


def quantize_backbone(backbone: nn.Module, mode: str | None,
                      keep_fp32: Collection[str] | None = None,
                      per_token: bool | None = None) -> nn.Module:
    """Return ``backbone`` converted for ``mode`` (``None`` leaves it as it is). int8 goes
    per token where this CPU multiplies int8 fast and exactly, per tensor elsewhere
    (``per_token`` forces one); ``keep_fp32`` names linear layers left in full precision
    (default: the route's measured choice, where the backbone has those layers)."""
    check_choice(mode, QUANTIZE_MODES, "quantize mode", "quantize")
    check_choice(per_token, (None, True, False), "per_token", "quantize_backbone()")
    if mode is None:
        return backbone
    if mode == "bf16":
        return backbone.to(torch.bfloat16)
    per_token = fast_int8_matmul() if per_token is None else per_token
    linears = {name for name, module in backbone.named_modules()
               if isinstance(module, nn.Linear)}
    chosen = sorted(linears - _kept(linears, keep_fp32, per_token))
    backbone.set_attn_implementation("eager")
    if not per_token:
        return _per_tensor_int8(backbone, chosen)
    for name in chosen:
        backbone.set_submodule(name, PerTokenInt8Linear(backbone.get_submodule(name)))
    return backbone


def _kept(linears: set[str], keep_fp32: Collection[str] | None, per_token: bool) -> set[str]:
    """The linear layers to leave fp32; a name that is not one of them is a typo."""
    if keep_fp32 is None:
        if per_token:
            return {name for name in linears if name.endswith(KEEP_FP32_PER_TOKEN)}
        return linears & set(KEEP_FP32_PER_TENSOR)
    if isinstance(keep_fp32, str):
        raise TypeError(f"quantize_backbone(): keep_fp32 must be a collection of layer names, "
                        f"got the string {keep_fp32!r}")
    unknown = sorted(set(keep_fp32) - linears)
    if unknown:
        raise ValueError(f"quantize_backbone(): keep_fp32 names {unknown}, which are not linear "
                         f"layers of this backbone (e.g. {sorted(linears)[:2]})")
    return set(keep_fp32)


def _per_tensor_int8(backbone: nn.Module, chosen: list[str]) -> nn.Module:
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings(), _quantized_engine("fbgemm"):
        warnings.simplefilter("ignore")  # torch.ao prints a deprecation notice on every call
        return quantize_dynamic(backbone, dict.fromkeys(chosen, per_channel_dynamic_qconfig),
                                mapping={nn.Linear: FullRangeDynamicLinear})


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
