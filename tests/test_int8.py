"""int8 on both routes: per token where ``torch._int_mm`` is fast and exact, per tensor
elsewhere. Each test forces the route, so every CPU tests both (``_int_mm`` gives the same
int32 products on any CPU; it is only slow without VNNI)."""

import os
import subprocess
import sys

import pytest
import torch
from torch import nn

from helpers import (
    SENTENCE_TASKS,
    MultiTaskModel,
    SentenceEncoder,
    TrainConfig,
    freeze,
    quantize,
    training,
)
from helpers.export import export_sentence_transformer
from helpers.quantize import (
    KEEP_FP32_PER_TENSOR,
    FullRangeDynamicLinear,
    PerTokenInt8Linear,
    fast_int8_matmul,
    quantize_backbone,
    token_levels,
)
from helpers.training.callbacks import _copied_weights

SENTENCES = ["The striker scored twice.", "Rates rose again this quarter.", "I loved it!"]


@pytest.fixture(params=[True, False], ids=["per-token", "per-tensor"])
def per_token(request, monkeypatch) -> bool:
    """``quantize="int8"`` takes this route, whatever this CPU would pick."""
    monkeypatch.setattr(quantize, "fast_int8_matmul", lambda: request.param)
    return request.param


def test_the_per_token_route_needs_vnni_and_onednn(monkeypatch):
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"avx512_vnni": False})
    assert not fast_int8_matmul()
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"avx512_vnni": True})
    assert fast_int8_matmul()
    monkeypatch.setattr(torch.backends.mkldnn, "enabled", False)
    assert not fast_int8_matmul()


def test_a_kernel_that_saturates_is_not_used(monkeypatch):
    """oneDNN capped below VNNI adds products in 16 bits: 64 × 127 × 127 came back 8,160."""
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"avx512_vnni": True})
    monkeypatch.setattr(torch, "_int_mm", lambda a, b: torch.full((4, 4), 8160, dtype=torch.int32))
    assert not fast_int8_matmul()


@pytest.mark.slow  # a subprocess, several processes or the real model
@pytest.mark.skipif(not torch.cpu.get_capabilities().get("avx512_vnni"),
                    reason="only a CPU with AVX-512 VNNI can cap oneDNN below it")
def test_onednn_capped_below_vnni_turns_the_per_token_route_off():
    code = "from helpers.quantize import fast_int8_matmul; print(fast_int8_matmul())"
    found = {}
    for isa in ("AVX2", "AVX512_CORE", None):
        env = {key: value for key, value in os.environ.items() if key != "ONEDNN_MAX_CPU_ISA"}
        env |= {"ONEDNN_MAX_CPU_ISA": isa} if isa else {}
        found[isa] = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                    text=True, check=True).stdout.strip()
    assert found == {"AVX2": "False", "AVX512_CORE": "False", None: "True"}


def test_token_levels_round_each_token_on_its_own_scale():
    x = torch.randn(4, 48)
    x[0, 3], x[2] = 40.0, 0.0  # an outlier in one token; a token of zeros
    x[3] = x[3].abs()  # all positive: the range still holds 0
    levels, scale, shift = token_levels(x)
    assert levels.dtype == torch.int8 and scale.shape == shift.shape == (4, 1)
    restored = (levels.float() + shift) * scale
    assert ((restored - x).abs() <= scale / 2 + 1e-6).all()
    assert scale[1] < scale[0] / 5  # the outlier coarsens its own token only
    assert torch.equal(restored[2], x[2])


@pytest.mark.parametrize("bias", [True, False])
def test_per_token_linear_is_its_rounded_arithmetic_exactly(bias):
    torch.manual_seed(0)
    linear = nn.Linear(48, 20, bias=bias)
    int8 = PerTokenInt8Linear(linear)
    x = torch.randn(3, 5, 48)
    x[1, 2, 7] = 25.0
    levels, scale, shift = token_levels(x.reshape(-1, 48))
    weights = int8.weight.float().T * int8.weight_scale[:, None]  # (out, in)
    expected = nn.functional.linear((levels.float() + shift) * scale, weights, linear.bias)
    found = int8(x)
    assert found.shape == (3, 5, 20)
    torch.testing.assert_close(found, expected.reshape(3, 5, 20), rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        assert (found - linear(x)).abs().max() < 0.05 * linear(x).abs().max()
    assert int8(torch.zeros(0, 48)).shape == (0, 20)
    assert "per-token int8" in repr(int8)


def test_each_route_keeps_its_measured_layers_fp32(tiny_model_dir, per_token):
    encoder = SentenceEncoder.from_pretrained(tiny_model_dir, quantize="int8")
    modules = dict(encoder.backbone.named_modules())
    kept = {name for name, module in modules.items() if type(module) is nn.Linear}
    if per_token:
        assert kept == {f"encoder.layer.{i}.attention.self.value" for i in range(2)}
        assert isinstance(modules["encoder.layer.0.output.dense"], PerTokenInt8Linear)
    else:
        assert kept == set(KEEP_FP32_PER_TENSOR)
        assert isinstance(modules["encoder.layer.0.intermediate.dense"], FullRangeDynamicLinear)
    assert encoder.backbone.config._attn_implementation == "eager"


def test_both_routes_stay_close_to_fp32(tiny_model_dir, tiny_encoder, per_token):
    quantized = SentenceEncoder.from_pretrained(tiny_model_dir, quantize="int8")
    cosines = (quantized.encode(SENTENCES) * tiny_encoder.encode(SENTENCES)).sum(axis=1)
    assert cosines.min() > 0.99


def test_per_tensor_quantizes_activations_to_all_8_bits(tiny_model_dir, monkeypatch):
    monkeypatch.setattr(quantize, "fast_int8_matmul", lambda: False)
    encoder = SentenceEncoder.from_pretrained(tiny_model_dir, quantize="int8")
    layer = encoder.backbone.encoder.layer[0].intermediate.dense
    x = torch.randn(4, layer.in_features)
    full = torch.ops.quantized.linear_dynamic(x, layer._packed_params._packed_params,
                                              reduce_range=False)
    assert torch.equal(layer(x), full)


def test_bad_int8_settings_are_named_and_change_nothing(tiny_model_dir):
    backbone = SentenceEncoder.from_pretrained(tiny_model_dir).backbone
    with pytest.raises(ValueError, match=r"keep_fp32 names \['encoder.layer.0.output.dens'\]"):
        quantize_backbone(backbone, "int8", keep_fp32=["encoder.layer.0.output.dens"])
    with pytest.raises(TypeError, match="got the string 'pooler.dense'"):
        quantize_backbone(backbone, "int8", keep_fp32="pooler.dense")
    with pytest.raises(ValueError, match="unknown per_token 'yes'"):
        quantize_backbone(backbone, "int8", per_token="yes")
    assert all(type(module) is not PerTokenInt8Linear for module in backbone.modules())
    assert backbone.config._attn_implementation != "eager"


def test_an_int8_layer_refuses_to_train_what_is_below_it(tiny_model_dir, per_token):
    """Before, the per-tensor route only warned and trained on a cut graph."""
    encoder = SentenceEncoder.from_pretrained(tiny_model_dir, quantize="int8")
    batch = encoder.tokenize(SENTENCES)
    with pytest.raises(RuntimeError, match="int8 layer has no gradient"):
        encoder(**batch)
    with torch.no_grad():
        assert encoder(**batch).shape == (3, encoder.dim)
    encoder.requires_grad_(False)
    assert not encoder(**batch).requires_grad  # nothing below to train: allowed


def test_heads_train_on_a_frozen_int8_encoder(tiny_model_dir, small_data, per_token):
    """Before, the per-tensor route stopped at the end of epoch 1: keeping the best weights
    cloned every state_dict entry as a tensor, and packed int8 weights hold a dtype."""
    model = MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir, quantize="int8"),
                           SENTENCE_TASKS)
    before = [parameter.clone() for parameter in model.heads.parameters()]
    training.train(freeze(model, "backbone"), small_data, TrainConfig(epochs=2, batch_size=8,
                                                                      progress=False))
    after = model.heads.parameters()
    assert not any(torch.equal(*pair) for pair in zip(before, after, strict=True))


def test_train_refuses_what_an_int8_encoder_cannot_do_before_any_work(tiny_model_dir,
                                                                     small_data, tmp_path):
    model = MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir, quantize="int8"),
                           SENTENCE_TASKS)
    before = [parameter.clone() for parameter in model.parameters()]
    quick = TrainConfig(epochs=1, batch_size=8, progress=False)
    with pytest.raises(ValueError, match=r"int8, .* but it is trainable; freeze it"):
        training.train(model, small_data, quick)
    freeze(model, "backbone")
    with pytest.raises(ValueError, match="a callback unfreezes it"):
        training.train(model, small_data, quick,
                       callbacks=[training.GradualUnfreezing(model, every=1)])
    saving = TrainConfig(epochs=1, batch_size=8, progress=False, checkpoint_dir=tmp_path / "c")
    with pytest.raises(ValueError, match=r"checkpoint_dir=...\): the encoder is quantized"):
        training.train(model, small_data, saving)
    assert all(torch.equal(*pair) for pair in zip(before, model.parameters(), strict=True))
    assert not any(tmp_path.iterdir())


def test_a_quantized_model_is_neither_saved_nor_exported(tiny_model_dir, per_token, tmp_path):
    model = MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir, quantize="int8"),
                           SENTENCE_TASKS)
    with pytest.raises(ValueError, match="quantized"):
        model.save(tmp_path / "saved")
    with pytest.raises(ValueError, match="quantized"):
        export_sentence_transformer(model, tmp_path / "exported")
    assert not any(tmp_path.iterdir())


def test_the_best_weights_keep_a_bias_free_int8_layer():
    """Before, keeping the best weights broke on a bias-free int8 layer: its packed
    parameters are ``(weight, None)``, and the copy cloned the None."""
    def bias_free_int8_layer() -> nn.Module:
        return torch.ao.quantization.quantize_dynamic(
            nn.Sequential(nn.Linear(8, 4, bias=False)), {nn.Linear}, dtype=torch.qint8)

    torch.manual_seed(0)
    best, later = bias_free_int8_layer(), bias_free_int8_layer()
    kept = _copied_weights(best)
    inputs = torch.randn(3, 8)
    assert not torch.equal(later(inputs), best(inputs))
    later.load_state_dict(kept)
    assert torch.equal(later(inputs), best(inputs))
