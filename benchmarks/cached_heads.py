"""Frozen encoder: heads trained on cached sentence vectors vs through the encoder.

Run by hand: ``python benchmarks/cached_heads.py``. Trains the heads of the packaged
all-MiniLM-L6-v2 multi-task model on data/sentences.csv (735 training sentences) with the
backbone frozen, once with the cache and once without, and reports seconds per epoch,
the one-off cost of building the cache, the speed-up, and whether both runs end with the
same head weights.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from helpers import MultiTaskModel, SentenceEncoder, TrainConfig, freeze, load_sentences  # noqa: E402
from helpers.data import SENTENCE_TASKS  # noqa: E402
from helpers.runtime import notebook_setup  # noqa: E402
from helpers.training import train  # noqa: E402


def run(cache: bool, epochs: int) -> tuple[float, list[float], dict[str, torch.Tensor]]:
    notebook_setup(0)
    model = freeze(MultiTaskModel(SentenceEncoder.from_pretrained(), SENTENCE_TASKS), "backbone")
    config = TrainConfig(epochs=epochs, head_lr=1e-2, cache_frozen_encoder=cache,
                         grad_conflict=False, progress=False)
    started = time.perf_counter()
    history = train(model, load_sentences(), config)
    return time.perf_counter() - started, history.seconds, model.heads.state_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    cached_total, cached_epochs, cached_heads = run(True, args.epochs)
    plain_total, plain_epochs, plain_heads = run(False, args.epochs)
    cached_epoch = sum(cached_epochs) / len(cached_epochs)
    plain_epoch = sum(plain_epochs) / len(plain_epochs)
    same = all(torch.allclose(cached_heads[k], plain_heads[k], atol=1e-5) for k in plain_heads)
    print(f"{args.epochs} epochs, 735 training + 157 validation sentences, "
          f"{torch.get_num_threads()} threads")
    print(f"through the encoder: {plain_epoch:.3f} s/epoch ({plain_total:.1f} s in all)")
    print(f"on cached vectors:   {cached_epoch:.3f} s/epoch ({cached_total:.1f} s in all, "
          f"{cached_total - sum(cached_epochs):.1f} s of it building the cache once)")
    print(f"speed-up per epoch:  {plain_epoch / cached_epoch:.0f}x")
    print(f"same head weights (atol 1e-5): {same}")


if __name__ == "__main__":
    main()
