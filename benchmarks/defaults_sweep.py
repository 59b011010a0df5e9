"""The seeded sweep behind ``TrainConfig``'s defaults: one setting varied at a time.

Run by hand: ``python benchmarks/defaults_sweep.py --round 1`` and ``--round 2`` (about
10 minutes each on 2 cores). Every
configuration fine-tunes the packaged all-MiniLM-L6-v2 (fresh heads, the whole encoder
trainable) on the training split of data/sentences.csv with seeds 0, 1, 2, keeps its last
epoch (no epoch selection), and is scored on the **validation** split: the test split is
not looked at. Each variant changes one setting of the centre; its paired difference to
the centre (bootstrap over seeds and sentences) says whether the change is measurable.
A logistic regression on the frozen vectors is the yardstick.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pandas as pd  # noqa: E402

from helpers import MultiTaskModel, SentenceEncoder, TrainConfig, load_sentences  # noqa: E402
from helpers.data import SENTENCE_TASKS  # noqa: E402
from helpers.evidence import describe  # noqa: E402
from helpers.experiments import logistic_baseline  # noqa: E402
from helpers.runtime import notebook_setup, seed_everything  # noqa: E402
from helpers.seeded import run_seeded  # noqa: E402

PLAIN = TrainConfig(lr=1e-4, layer_decay=1.0, head_lr=1e-3, epochs=3, warmup_ratio=0.1,
                    probe_epochs=0, eval_split=None, grad_conflict=False, progress=False)
ROUNDS = {
    # Round 1: plain fine-tuning from fresh heads, one setting varied at a time.
    1: (PLAIN, {
        "lr 5e-5": dict(lr=5e-5), "lr 2e-4": dict(lr=2e-4),
        "layer decay 0.8": dict(layer_decay=0.8),
        "head lr 3e-4": dict(head_lr=3e-4), "head lr 3e-3": dict(head_lr=3e-3),
        "2 epochs": dict(epochs=2), "4 epochs": dict(epochs=4),
        "no warm-up": dict(warmup_ratio=0.0), "warm-up 0.2": dict(warmup_ratio=0.2),
    }),
    # Round 2: round 1 lost to logistic regression on topic, so the heads are fitted first
    # (30 epochs on cached vectors, LP-FT), and the settings that mattered are varied again.
    2: (replace(PLAIN, probe_epochs=30), {
        "no heads first": dict(probe_epochs=0), "heads first 10 epochs": dict(probe_epochs=10),
        "lr 5e-5": dict(lr=5e-5), "lr 2e-4": dict(lr=2e-4),
        "layer decay 0.8": dict(layer_decay=0.8), "head lr 1e-2": dict(head_lr=1e-2),
        "2 epochs": dict(epochs=2), "4 epochs": dict(epochs=4),
    }),
}


def fresh_model(seed: int) -> MultiTaskModel:
    seed_everything(seed)
    return MultiTaskModel(SentenceEncoder.from_pretrained(), SENTENCE_TASKS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--round", type=int, choices=sorted(ROUNDS), default=max(ROUNDS))
    args = parser.parse_args()
    notebook_setup(0)
    data = load_sentences()
    centre, variants = ROUNDS[args.round]
    runs = {"centre": centre} | {name: replace(centre, **change)
                                 for name, change in variants.items()}
    results = run_seeded(fresh_model, data, runs, centre, seeds=range(args.seeds),
                         split="validation")
    summary = results.summary()
    summary["mean ± sd (95 % CI)"] = [
        f"{r.mean:.3f} ± {r.sd:.3f} ({r.ci_low:.3f}-{r.ci_high:.3f})"
        for r in summary.itertuples()]
    summary = summary.pivot(index="run", columns="task", values="mean ± sd (95 % CI)")
    print(summary.reindex(list(runs)).to_string())
    for name in variants:
        print(f"{name} − centre: "
              + "; ".join(describe(results.compare(name, "centre", task), name, "centre")
                          for task in ("topic", "sentiment")))
    baseline = logistic_baseline(fresh_model(0), data, split="validation")
    print("logistic regression on frozen vectors:",
          pd.Series(baseline).round(3).to_dict())


if __name__ == "__main__":
    main()
