"""Encoding throughput: SentenceEncoder vs sentence-transformers, fp32 vs int8 vs bf16.

Run by hand (``make bench`` or ``python benchmarks/encode_throughput.py``). Encodes every
sentence of data/sentences.csv (1,920 sentences since 2026-11-25, 4-40 words) with the packaged
all-MiniLM-L6-v2 at the same batch size, takes the best of ``--repeats`` timed runs after
one warm-up, and reports sentences/second, ratios, and the STS Spearman on
data/sts_pairs.csv for each variant. Since 180 scored pairs cannot see a loss of half a
point, each variant is also compared with fp32 without labels, over every pair of 1,000
test sentences (499,500 pairs): the Spearman correlation of its cosine similarities with
fp32's ("rank agreement") and the mean absolute change of a cosine. int8 is measured on
both of its routes (``helpers.quantize``): per token, which ``quantize="int8"`` takes where
``torch._int_mm`` is fast (VNNI or AMX; skipped elsewhere, where it runs a plain loop), and
per tensor; bf16 is fast only on a CPU with native bf16.
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from collections.abc import Callable, Collection
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pandas as pd  # noqa: E402
import torch  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

from helpers import SentenceEncoder, default_model_path, load_sentences, notebook_setup  # noqa: E402
from helpers.precision import encoding_precision, native_bf16  # noqa: E402
from helpers.quantize import fast_int8_matmul, quantize_backbone  # noqa: E402
from helpers.similarity import sts_spearman  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data"


def best_rate(encode: Callable[[list[str]], object], sentences: list[str], repeats: int) -> float:
    """Sentences per second of the fastest of ``repeats`` runs, after one warm-up run."""
    encode(sentences[:64])
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        encode(sentences)
        times.append(time.perf_counter() - start)
    return len(sentences) / min(times)


def agreement(reference: torch.Tensor, vectors: torch.Tensor) -> tuple[float, float]:
    """Spearman correlation between the pairwise cosines of ``vectors`` and those of
    ``reference`` (unit-length rows, every pair once), and the mean |cosine change|."""
    pairs = torch.triu_indices(len(reference), len(reference), offset=1)
    expected = (reference @ reference.T)[pairs[0], pairs[1]]
    found = (vectors @ vectors.T)[pairs[0], pairs[1]]
    rank = spearmanr(expected.numpy(), found.numpy()).statistic
    return float(rank), float((found - expected).abs().mean())


def int8_copy(encoder: SentenceEncoder, per_token: bool,
              keep_fp32: Collection[str] | None = None) -> SentenceEncoder:
    """A copy of ``encoder`` made int8 on one route of helpers.quantize, whatever this CPU
    would pick (``keep_fp32`` None: the route's own choice)."""
    copied = copy.deepcopy(encoder)
    copied.backbone = quantize_backbone(copied.backbone, "int8", keep_fp32, per_token)
    copied.quantize = "int8"
    return copied


def variants() -> dict[str, SentenceEncoder]:
    """fp32, int8 on each route this CPU runs fast, and bf16, each as a SentenceEncoder."""
    encoders = {"fp32": SentenceEncoder.from_pretrained()}
    for per_token in (True, False) if fast_int8_matmul() else (False,):
        encoders[f"int8 per-{'token' if per_token else 'tensor'}"] = int8_copy(
            encoders["fp32"], per_token)
    encoders["bf16"] = SentenceEncoder.from_pretrained(quantize="bf16")
    return encoders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    notebook_setup(0, threads=args.threads)

    sentences = list(pd.read_csv(DATA / "sentences.csv")["text"])
    pairs = pd.read_csv(DATA / "sts_pairs.csv")
    words = [len(text.split()) for text in sentences]
    print(f"{len(sentences)} sentences, {min(words)}-{max(words)} words, "
          f"batch size {args.batch_size}, {torch.get_num_threads()} threads")

    reference = SentenceTransformer(str(default_model_path()), device="cpu")
    rates = {"sentence-transformers": best_rate(
        lambda s: reference.encode(s, batch_size=args.batch_size, normalize_embeddings=True),
        sentences, args.repeats)}
    spearman = {"sentence-transformers": sts_spearman(reference, pairs)}
    unlabelled = list(load_sentences()["test"]["text"][:1000])
    vectors, agree = {}, {}
    for variant, encoder in variants().items():
        name = f"SentenceEncoder {variant}"
        rates[name] = best_rate(
            lambda s, e=encoder: e.encode(s, batch_size=args.batch_size), sentences, args.repeats
        )
        spearman[name] = sts_spearman(encoder, pairs)
        vectors[name] = encoder.encode(unlabelled, batch_size=args.batch_size,
                                       convert_to="torch").float()
        agree[name] = agreement(vectors["SentenceEncoder fp32"], vectors[name])

    fp32 = rates["SentenceEncoder fp32"]
    table = pd.DataFrame({
        "sentences/s": pd.Series(rates).round(1),
        "x sentence-transformers": (pd.Series(rates) / rates["sentence-transformers"]).round(2),
        "x fp32": (pd.Series(rates) / fp32).round(2),
        "STS Spearman": pd.Series(spearman).round(2),
        "Spearman drop vs fp32": (spearman["SentenceEncoder fp32"] - pd.Series(spearman)).round(2),
        "rank agreement": pd.Series({k: v[0] for k, v in agree.items()}).round(5),
        "mean |cos change|": pd.Series({k: v[1] for k, v in agree.items()}).round(5),
    })
    print(table.to_string())
    route = "per-token" if fast_int8_matmul() else "per-tensor"
    name = f"SentenceEncoder int8 {route}"
    print(f"int8 (quantize='int8' takes the {route} route here) vs fp32 over "
          f"{len(unlabelled) * (len(unlabelled) - 1) // 2:,} pairs of {len(unlabelled)} test "
          f"sentences: rank agreement {agree[name][0]:.5f}, {rates[name] / fp32:.2f}x the speed")
    print(f"quantize='auto' picks {encoding_precision('auto') or 'fp32'} on this CPU "
          f"(PyTorch kernels: {torch.backends.cpu.get_cpu_capability()}, "
          f"native bf16: {native_bf16()})")


if __name__ == "__main__":
    main()
