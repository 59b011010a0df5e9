"""Number formats chosen for the CPU at hand: native bf16 or not, "auto" (int8: test_int8.py)."""

import os
import subprocess
import sys

import pytest
import torch

from helpers import TrainConfig, precision

AVX2_ONLY = {"avx2": True, "avx512_f": True, "avx512_bf16": False, "amx_bf16": False}
SAPPHIRE_RAPIDS = {"avx2": True, "avx512_f": True, "avx512_bf16": True, "amx_bf16": True}


@pytest.fixture
def cpu(monkeypatch):
    """Pretend to be a CPU without an accelerator, with the given features and kernels."""
    def pretend(features: dict, kernels: str) -> None:
        monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: features)
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: kernels)
        monkeypatch.setattr(precision, "_on_accelerator", lambda: False)
    return pretend


def test_auto_picks_bf16_only_where_it_is_native(cpu):
    cpu(SAPPHIRE_RAPIDS, "AVX512")
    assert precision.native_bf16()
    assert precision.training_precision("auto") == "bf16"
    assert precision.encoding_precision("auto") == "bf16"
    cpu(AVX2_ONLY, "AVX2")
    assert not precision.native_bf16()
    assert precision.training_precision("auto") == "no"
    assert precision.encoding_precision("auto") == "int8"
    cpu(SAPPHIRE_RAPIDS, "AVX2")  # kernels capped (ATEN_CPU_CAPABILITY=avx2): emulated
    assert not precision.native_bf16()


def test_bf16_on_a_cpu_without_it_warns_why(cpu):
    cpu(AVX2_ONLY, "AVX2")
    with pytest.warns(UserWarning, match="no native bfloat16 arithmetic .* AVX2 kernels"):
        assert precision.training_precision("bf16") == "bf16"
    with pytest.warns(UserWarning, match="quantize='bf16'.*7x on an AVX2-only EPYC"):
        assert precision.encoding_precision("bf16") == "bf16"


def test_bad_precisions_are_named():
    with pytest.raises(ValueError, match="unknown mixed_precision 'bf15'"):
        TrainConfig(mixed_precision="bf15")
    assert TrainConfig(mixed_precision="auto").mixed_precision == "auto"
    with pytest.raises(ValueError, match="unknown quantize mode 'fp8'"):
        precision.encoding_precision("fp8")


@pytest.mark.slow  # a subprocess, several processes or the real model
def test_aten_capability_variable_turns_native_bf16_off():
    """CI simulates an AVX2 CPU with ATEN_CPU_CAPABILITY; the check must follow it."""
    code = "from helpers.precision import native_bf16; print(native_bf16())"
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "False"
