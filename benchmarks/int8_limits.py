"""What limits dynamic int8 on a CPU without VNNI: 16-bit saturation, and the [CLS] token.

Run by hand: ``python benchmarks/int8_limits.py``. Three measurements:

1. One 384→1536 linear layer on Gaussian inputs, PyTorch's dynamic int8 kernels: the mean
   |error| with 8-bit weights and 8-bit activations, 7-bit activations (PyTorch's default
   ``reduce_range``) and 7-bit weights. Without VNNI the kernels add pairs of
   unsigned×signed 8-bit products in 16 bits, which saturate when both use all 8 bits
   (255 × 127 × 2 > 32,767; 255 × 64 × 2 is not).
2. Which tokens set the per-tensor activation scale: each feed-forward layer's largest
   input on the [CLS] token against the largest on a word.
3. Rank agreement with fp32 (Spearman of all pairwise cosines of ``--sentences`` test
   sentences; see encode_throughput.py) for both routes of helpers.quantize (per token
   with real ``torch._int_mm`` kernels: timed only where they are fast, with VNNI; the
   value projections kept fp32, and every layer int8) and for variants: weights alone
   rounded (simulated in fp32), per-token 8-bit activations (simulated), 7-bit weights (no
   saturation possible), and 7-bit weights with the [CLS] row kept in fp32 (real kernels,
   with their speed).
"""

from __future__ import annotations

import argparse
import copy
import os
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from encode_throughput import agreement, best_rate, int8_copy  # noqa: E402
from torch import nn  # noqa: E402
from torch.ao.quantization import (  # noqa: E402
    PerChannelMinMaxObserver,
    PlaceholderObserver,
    QConfig,
    quantize_dynamic,
)

from helpers import SentenceEncoder, load_sentences, notebook_setup  # noqa: E402
from helpers.quantize import (  # noqa: E402
    KEEP_FP32_PER_TENSOR,
    FullRangeDynamicLinear,
    _quantized_engine,
    fast_int8_matmul,
    token_levels,
)


def int8_linears(module: nn.Module, weight_bits: int, keep: tuple[str, ...] = ()) -> nn.Module:
    """Dynamic int8 copy of ``module`` with per-channel ``weight_bits``-bit weights and
    8-bit activations (the path helpers.quantize uses, weights narrowed)."""
    half = 2 ** (weight_bits - 1)
    qconfig = QConfig(
        activation=PlaceholderObserver.with_args(dtype=torch.quint8, quant_min=0, quant_max=255,
                                                 is_dynamic=True),
        weight=PerChannelMinMaxObserver.with_args(dtype=torch.qint8, quant_min=-half,
                                                  quant_max=half - 1,
                                                  qscheme=torch.per_channel_symmetric))
    chosen = {name: qconfig for name, child in module.named_modules()
              if isinstance(child, nn.Linear) and name not in keep}
    with warnings.catch_warnings(), _quantized_engine("fbgemm"):
        warnings.simplefilter("ignore")
        return quantize_dynamic(module, chosen, mapping={nn.Linear: FullRangeDynamicLinear})


def layer_errors() -> None:
    torch.manual_seed(0)
    layer, inputs = nn.Linear(384, 1536), torch.randn(32, 19, 384)
    expected = layer(inputs)
    for weight_bits, reduce_range in ((8, False), (8, True), (7, False)):
        packed = int8_linears(nn.Sequential(layer), weight_bits)[0]._packed_params._packed_params
        found = torch.ops.quantized.linear_dynamic(inputs, packed, reduce_range=reduce_range)
        print(f"  {weight_bits}-bit weights, {7 if reduce_range else 8}-bit activations: "
              f"mean |error| {(found - expected).abs().mean():.4f}")


def token_peaks(encoder: SentenceEncoder, sentences: list[str]) -> None:
    batch = encoder.tokenizer(sentences, padding=True, return_tensors="pt")
    words = batch["attention_mask"].bool() & (batch["input_ids"] != encoder.tokenizer.cls_token_id)
    words &= batch["input_ids"] != encoder.tokenizer.sep_token_id

    def report(name: str, args: tuple) -> None:
        peak = args[0].detach().abs().amax(-1)
        print(f"  {name:<42} [CLS] {peak[:, 0].max():6.2f}   words {peak[words].max():6.2f}")

    hooks = [module.register_forward_pre_hook(lambda _, args, name=name: report(name, args))
             for name, module in encoder.backbone.encoder.named_modules()
             if name.endswith("intermediate.dense")
             or (name.endswith("output.dense") and "attention" not in name)]
    with torch.no_grad():
        encoder.backbone(**batch)
    for hook in hooks:
        hook.remove()


def rounded_weights(encoder: SentenceEncoder, bits: int) -> SentenceEncoder:
    """fp32 copy whose linear weights are rounded to ``bits`` per output channel."""
    copied, top = copy.deepcopy(encoder), 2 ** (bits - 1) - 1
    for module in copied.backbone.encoder.modules():
        if isinstance(module, nn.Linear):
            with torch.no_grad():
                scale = module.weight.abs().amax(1, keepdim=True) / top
                module.weight.copy_((module.weight / scale).round().clamp(-top - 1, top) * scale)
    return copied


def per_token_activations(encoder: SentenceEncoder) -> SentenceEncoder:
    """8-bit weights and 8-bit activations with one scale per token, simulated in fp32."""
    copied = rounded_weights(encoder, 8)

    def fake_quantize(_, args: tuple) -> tuple:
        levels, scale, shift = token_levels(args[0].reshape(-1, args[0].shape[-1]))
        return (((levels.float() + shift) * scale).reshape(args[0].shape),)

    for module in copied.backbone.encoder.modules():
        if isinstance(module, nn.Linear):
            module.register_forward_pre_hook(fake_quantize)
    return copied


class FirstTokenFP32(nn.Module):
    """int8 for every token after the first; the first ([CLS]) in fp32."""

    def __init__(self, full: nn.Linear, quantized: nn.Module) -> None:
        super().__init__()
        self.full, self.quantized = full, quantized

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.full(x[:, :1]), self.quantized(x[:, 1:].contiguous())], dim=1)


def seven_bit_weights(encoder: SentenceEncoder) -> SentenceEncoder:
    """7-bit weights (no saturation possible), 8-bit activations, KEEP_FP32_PER_TENSOR kept."""
    copied = copy.deepcopy(encoder)
    copied.backbone.set_attn_implementation("eager")
    copied.backbone = int8_linears(copied.backbone, 7, KEEP_FP32_PER_TENSOR)
    return copied


def cls_fp32(encoder: SentenceEncoder) -> SentenceEncoder:
    """7-bit weights (no saturation), 8-bit activations, [CLS] rows fp32, and
    KEEP_FP32_PER_TENSOR kept."""
    copied = seven_bit_weights(encoder)
    full = copy.deepcopy(encoder.backbone)
    full.set_attn_implementation("eager")
    for name, module in list(copied.backbone.encoder.named_modules()):
        if isinstance(module, FullRangeDynamicLinear):
            copied.backbone.encoder.set_submodule(
                name, FirstTokenFP32(full.encoder.get_submodule(name), module))
    return copied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=400)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    notebook_setup(0, threads=args.threads)
    print(f"CPU kernels: {torch.backends.cpu.get_cpu_capability()}")
    print("1. one linear layer, Gaussian inputs:")
    layer_errors()
    fp32 = SentenceEncoder.from_pretrained()
    sentences = list(load_sentences()["test"]["text"][: args.sentences])
    print("2. largest input of each feed-forward layer, 64 test sentences:")
    token_peaks(fp32, sentences[:64])
    reference = fp32.encode(sentences, convert_to="torch").float()
    fast = fast_int8_matmul()  # per token is a plain loop without VNNI: not timed there
    variants = {"fp32": (fp32, True),
        "int8 per tensor (helpers.quantize)": (int8_copy(fp32, False), True),
        "int8 per token (helpers.quantize, values fp32)": (int8_copy(fp32, True), fast),
        "int8 per token, every layer": (int8_copy(fp32, True, ()), fast),
        "8-bit weights only (simulated)": (rounded_weights(fp32, 8), False),
        "7-bit weights only (simulated)": (rounded_weights(fp32, 7), False),
        "8-bit weights, per-token activations (simulated)": (per_token_activations(fp32), False),
        "7-bit weights, 8-bit activations": (seven_bit_weights(fp32), True),
        "7-bit weights, [CLS] in fp32": (cls_fp32(fp32), True)}
    print(f"3. agreement with fp32 over all pairs of {len(sentences)} test sentences:")
    for name, (encoder, timed) in variants.items():
        rank, change = agreement(reference, encoder.encode(sentences, convert_to="torch").float())
        rate = f"{best_rate(encoder.encode, sentences, 3):6.0f} sentences/s" if timed else ""
        print(f"  {name:<50} {rank:.5f}  mean |cos change| {change:.5f}  {rate}")


if __name__ == "__main__":
    main()
