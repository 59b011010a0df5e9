"""Which number format runs fast on this machine: bf16 only where the CPU computes it natively.

A CPU with AVX-512 BF16 or AMX multiplies bfloat16 in hardware; elsewhere PyTorch
emulates it, and bf16 is far *slower* than fp32: on an AVX2-only AMD EPYC, a bf16 encoder
ran 55 sentences/s against 372 for fp32. We ask PyTorch which kernels it will run
(``torch.backends.cpu.get_cpu_capability()``, which honours ``ATEN_CPU_CAPABILITY``) and
what the CPU offers (``torch.cpu.get_capabilities()``), never assume. ``"auto"`` picks
the fastest choice that kept quality in our measurements (see the README).
"""

from __future__ import annotations

import warnings

import torch

from .validation import check_choice

TRAINING_PRECISIONS = ("no", "bf16", "fp16", "auto")
ENCODING_PRECISIONS = (None, "int8", "bf16", "auto")
SLOW_BF16 = ("this CPU has no native bfloat16 arithmetic (PyTorch runs {kernels} kernels; "
             "native bf16 needs AVX-512 BF16 or AMX), so bf16 is emulated and much slower "
             "than fp32 (7x on an AVX2-only EPYC); use {fallback!r} or 'auto'")


def native_bf16() -> bool:
    """True when PyTorch runs AVX-512 kernels on a CPU with AVX-512 BF16 or AMX-BF16."""
    capabilities = torch.cpu.get_capabilities()
    has_bf16 = bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))
    return has_bf16 and torch.backends.cpu.get_cpu_capability() == "AVX512"


def _on_accelerator() -> bool:
    return torch.accelerator.is_available()


def _warn_if_emulated(fallback: object, where: str) -> None:
    if not native_bf16():
        kernels = torch.backends.cpu.get_cpu_capability()
        warnings.warn(f"{where}: bf16 requested, but "
                      + SLOW_BF16.format(kernels=kernels, fallback=fallback), stacklevel=3)


def training_precision(choice: str) -> str:
    """``TrainConfig.mixed_precision`` → what accelerate gets: "no", "bf16" or "fp16".

    ``"auto"``: bf16 on a GPU that has it (else fp16) and on a CPU with native bf16,
    otherwise full precision. An explicit ``"bf16"`` on a CPU without it is honoured
    with a warning saying why it will be slow.
    """
    check_choice(choice, TRAINING_PRECISIONS, "mixed_precision", "TrainConfig")
    if _on_accelerator():
        if choice != "auto":
            return choice
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() \
            else "fp16"
    if choice == "auto":
        return "bf16" if native_bf16() else "no"
    if choice == "bf16":
        _warn_if_emulated("no", "TrainConfig(mixed_precision='bf16')")
    return choice


def encoding_precision(choice: str | None) -> str | None:
    """``SentenceEncoder(quantize=...)`` → None (fp32), "int8" or "bf16".

    ``"auto"`` on a CPU: bf16 where it is native (fastest and closest to fp32 on such a
    CPU), otherwise int8 (faster than fp32 with an STS Spearman loss under 0.5); on an
    accelerator, full precision (dynamic int8 is CPU-only).
    """
    check_choice(choice, ENCODING_PRECISIONS, "quantize mode", "quantize")
    if choice == "auto":
        if _on_accelerator():
            return None
        return "bf16" if native_bf16() else "int8"
    if choice == "bf16" and not _on_accelerator():
        _warn_if_emulated(None, "quantize='bf16'")
    return choice
