"""Which linear layers does int8 hurt most? One layer at a time, then the most sensitive kept fp32.

Run by hand: ``python benchmarks/int8_sensitivity.py``. The packaged all-MiniLM-L6-v2 is
quantized (dynamic int8, per-channel weights) one linear layer at a time; the damage is
the mean cosine *distance* between those sentence vectors and the fp32 ones over the
training sentences of data/sentences.csv (no labels needed, and not the STS pairs we
report on, so the choice is not tuned on the test). Then every layer is quantized except
the k most damaging, for several k: distance, STS Spearman on data/sts_pairs.csv, and
sentences/s; and the damage summed by kind of layer (value projection, feed-forward output,
...) beside its share of the linear weights. ``--per-token`` / ``--per-tensor`` picks the
int8 route (default: the one ``quantize="int8"`` takes on this CPU); the tables support
``helpers.quantize.KEEP_FP32_PER_TOKEN`` and ``KEEP_FP32_PER_TENSOR``.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from encode_throughput import int8_copy  # noqa: E402
from torch import nn  # noqa: E402

from helpers import SentenceEncoder, load_sentences, notebook_setup  # noqa: E402
from helpers.data import load_sts_pairs  # noqa: E402
from helpers.quantize import fast_int8_matmul  # noqa: E402
from helpers.similarity import sts_spearman  # noqa: E402


def by_kind(damage: pd.Series, base: SentenceEncoder) -> pd.DataFrame:
    """Damage summed over the blocks for each kind of layer, beside its share of the linear
    weights (of the compute per token, but for the pooler's, which sees one token), so the
    cost and the benefit of keeping a kind fp32 read together."""
    sizes = pd.Series({name: base.backbone.get_submodule(name).weight.numel()
                       for name in damage.index})
    kinds = damage.index.str.replace(r"^.*layer\.\d+\.", "", regex=True)
    table = pd.DataFrame({"damage": damage.groupby(kinds).sum(),
                          "weight share": sizes.groupby(kinds).sum() / sizes.sum()})
    table["damage per share"] = table["damage"] / table["weight share"]
    return table.sort_values("damage per share", ascending=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--per-token", action=argparse.BooleanOptionalAction,
                        default=fast_int8_matmul(), help="int8 route (--per-tensor: per tensor)")
    parser.add_argument("--per-tensor", dest="per_token", action="store_false")
    args = parser.parse_args()
    notebook_setup(0, threads=args.threads)
    print(f"int8 route: per {'token' if args.per_token else 'tensor'}")
    base = SentenceEncoder.from_pretrained()
    base.backbone.set_attn_implementation("eager")  # as the int8 path runs
    texts, pairs = load_sentences()["train"]["text"], load_sts_pairs()
    reference = base.encode(texts)
    linears = [name for name, module in base.backbone.named_modules()
               if isinstance(module, nn.Linear)]

    def distance(encoder: SentenceEncoder) -> float:
        return float(np.mean(1 - (encoder.encode(texts) * reference).sum(axis=1)))

    damage = pd.Series({name: distance(int8_copy(base, args.per_token, set(linears) - {name}))
                        for name in linears}).sort_values(ascending=False)
    print("cosine distance to fp32 when only this layer is int8 (top 10):")
    print(damage.head(10).map("{:.2e}".format).to_string())
    print("by kind of layer (summed over blocks):")
    print(by_kind(damage, base).to_string(float_format="{:.2e}".format))
    fp32_spearman = sts_spearman(base, pairs)
    rows = []
    for kept in (0, 1, 2, 4, 8):
        encoder = int8_copy(base, args.per_token, set(damage.index[:kept]))
        started = time.perf_counter()
        encoder.encode(texts)
        rate = len(texts) / (time.perf_counter() - started)
        rows.append({"fp32 layers": kept, "distance": f"{distance(encoder):.2e}",
                     "Spearman drop": round(fp32_spearman - sts_spearman(encoder, pairs), 2),
                     "sentences/s": round(rate)})
    print(pd.DataFrame(rows).to_string(index=False))
    print(f"fp32 (eager attention): Spearman {fp32_spearman:.2f}")


if __name__ == "__main__":
    main()
