"""Which linear layers does int8 hurt most? One layer at a time, then the most sensitive kept fp32.

Run by hand: ``python benchmarks/int8_sensitivity.py``. The packaged all-MiniLM-L6-v2 is
quantized (dynamic int8, per-channel weights) one linear layer at a time; the damage is
the mean cosine *distance* between those sentence vectors and the fp32 ones over the
training sentences of data/sentences.csv (no labels needed, and not the STS pairs we
report on, so the choice is not tuned on the test). Then every layer is quantized except
the k most damaging, for several k: distance, STS Spearman on data/sts_pairs.csv, and
sentences/s. ``helpers.quantize.KEEP_FP32`` is the choice this table supports.
"""

from __future__ import annotations

import argparse
import copy
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from torch import nn  # noqa: E402

from helpers import SentenceEncoder, load_sentences, notebook_setup  # noqa: E402
from helpers.data import load_sts_pairs  # noqa: E402
from helpers.quantize import KEEP_FP32, quantize_backbone  # noqa: E402
from helpers.similarity import sts_spearman  # noqa: E402


def int8_except(base: SentenceEncoder, keep: set[str]) -> SentenceEncoder:
    """A copy of ``base`` with every linear layer int8 except those in ``keep``."""
    encoder = copy.deepcopy(base)
    encoder.backbone = quantize_backbone(encoder.backbone, "int8", keep_fp32=keep)
    return encoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    notebook_setup(0, threads=args.threads)
    base = SentenceEncoder.from_pretrained()
    base.backbone.set_attn_implementation("eager")  # as the int8 path runs
    texts, pairs = load_sentences()["train"]["text"], load_sts_pairs()
    reference = base.encode(texts)
    linears = [name for name, module in base.backbone.named_modules()
               if isinstance(module, nn.Linear)]

    def distance(encoder: SentenceEncoder) -> float:
        return float(np.mean(1 - (encoder.encode(texts) * reference).sum(axis=1)))

    damage = pd.Series({name: distance(int8_except(base, set(linears) - {name}))
                        for name in linears}).sort_values(ascending=False)
    print("cosine distance to fp32 when only this layer is int8 (top 10):")
    print(damage.head(10).map("{:.2e}".format).to_string())
    fp32_spearman = sts_spearman(base, pairs)
    rows = []
    for kept in (0, 1, 2, 4, 8):
        encoder = int8_except(base, set(damage.index[:kept]))
        started = time.perf_counter()
        encoder.encode(texts)
        rate = len(texts) / (time.perf_counter() - started)
        rows.append({"fp32 layers": kept, "distance": f"{distance(encoder):.2e}",
                     "Spearman drop": round(fp32_spearman - sts_spearman(encoder, pairs), 2),
                     "sentences/s": round(rate)})
    print(pd.DataFrame(rows).to_string(index=False))
    print(f"fp32 (eager attention): Spearman {fp32_spearman:.2f}; KEEP_FP32 = {KEEP_FP32}")


if __name__ == "__main__":
    main()
