"""Fine-tuning throughput: ours (random and length-grouped batches, a cached frozen prefix,
a sweep side by side) against the Hugging Face Trainer (random and ``group_by_length``).

Run by hand: ``python benchmarks/train_throughput.py``. One fine-tuning epoch of the
packaged all-MiniLM-L6-v2 over the training split of data/sentences.csv (735 sentences),
batch size 32, the TrainConfig defaults (rates, warm-up, schedule, weight decay; no
heads-first phase, which the Trainer does not have), fp32 unless ``--precision`` says
otherwise. Each arm is timed from the call to the end of training (set-up, tokenizing and
the epoch), best of ``--repeats``, with its test sentiment accuracy (1,028 sentences, 95 %
interval) to show the speed is not bought with accuracy:

- ``random`` / ``grouped``: our ``train()`` with shuffled or length-grouped batches;
- ``Trainer`` / ``Trainer grouped``: ``benchmarks/trainer_anchor.py``;
- ``bottom:3 uncached`` / ``bottom:3 cached``: three epochs with embeddings and blocks 1-3
  frozen, their outputs computed every step or once (``cache_frozen_encoder``).

Then the achieved GFLOP/s of our grouped epoch (``FlopCounterMode``) against this CPU's
fp32 matrix-product rate, and a sweep of ``--sweep`` one-epoch runs: one after the other
at ``--threads`` threads (how the notebooks ran them before) against ``helpers.parallel``
(one process per physical core at one thread each, a warm pool as in a notebook session).
The last line reads ``grouped vs random: X.XXx; grouped vs Trainer: Y.YYx; vs Trainer
group_by_length: Z.ZZx; sweep parallel vs serial: W.WWx``.
"""

from __future__ import annotations

import argparse
import math
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402
from trainer_anchor import hf_trainer  # noqa: E402

from helpers import MultiTaskModel, SentenceEncoder, TrainConfig, freeze, load_sentences  # noqa: E402
from helpers.data import SENTENCE_TASKS  # noqa: E402
from helpers.parallel import resolve_workers, run_jobs  # noqa: E402
from helpers.precision import training_precision  # noqa: E402
from helpers.runtime import notebook_setup, seed_everything  # noqa: E402
from helpers.training import split_metrics, train  # noqa: E402
from helpers.training.mixture import padding_share, training_loader  # noqa: E402


def ours(data, batching: str = "grouped", precision: str = "no", seed: int = 0,
         strategy: str = "none", epochs: int = 1, cache: bool = True) -> tuple[float, float]:
    """Seconds for ``epochs`` of ``train()`` and the test sentiment accuracy after them."""
    seed_everything(seed)
    model = freeze(MultiTaskModel(SentenceEncoder.from_pretrained(), SENTENCE_TASKS), strategy)
    config = TrainConfig(epochs=epochs, batching=batching, mixed_precision=precision,
                         seed=seed, probe_epochs=0, eval_split=None, grad_conflict=False,
                         progress=False, cache_frozen_encoder=cache)
    started = time.perf_counter()
    train(model, data, config)
    seconds = time.perf_counter() - started
    return seconds, split_metrics(model, data, "test")["test/sentiment/accuracy"]


def interval(accuracy: float, n: int) -> str:
    half = 1.96 * math.sqrt(accuracy * (1 - accuracy) / n)
    return f"{accuracy:.3f} (95 % CI {accuracy - half:.3f}-{accuracy + half:.3f})"


def gemm_rate(size: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of the fastest of ``repeats`` fp32 (size × size) matrix products."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def epoch_gflops(data, precision: str) -> float:
    """Floating-point work (GFLOP) of one grouped epoch, counted by PyTorch."""
    with FlopCounterMode(display=False) as counter:
        ours(data, "grouped", precision)
    return counter.get_total_flops() / 1e9


def sweep_speed(data, runs: int, threads: int) -> tuple[float, float, int]:
    """Seconds for ``runs`` one-epoch runs (seeds 0 …) serially at ``threads`` threads and
    side by side (warm pool), and the worker count."""
    jobs = [(data, "grouped", "no", seed) for seed in range(runs)]
    run_jobs(seed_everything, [(0,)] * 2, "auto", progress=False)  # start the pool
    parallel = _timed(lambda: run_jobs(ours, jobs, "auto", progress=False))
    torch.set_num_threads(threads)
    serial = _timed(lambda: [ours(*job) for job in jobs])
    return serial, parallel, resolve_workers("auto", "sweep")


def arms(data, precision: str) -> dict:
    """name → (epochs, the timed run)."""
    return {"random": (1, lambda: ours(data, "random", precision)),
            "grouped": (1, lambda: ours(data, "grouped", precision)),
            "Trainer": (1, lambda: hf_trainer(data, precision, 0)),
            "Trainer grouped": (1, lambda: hf_trainer(data, precision, 0, "group_by_length")),
            "bottom:3 uncached": (3, lambda: ours(data, strategy="bottom:3", epochs=3,
                                                  cache=False)),
            "bottom:3 cached": (3, lambda: ours(data, strategy="bottom:3", epochs=3))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--precision", default="no", help="no | bf16 | auto")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sweep", type=int, default=4, help="runs in the sweep comparison")
    args = parser.parse_args()
    notebook_setup(0, threads=args.threads)
    precision = training_precision(args.precision)
    data = load_sentences()
    rows, tests = len(data["train"]), len(data["test"])
    lengths = SentenceEncoder.from_pretrained().token_counts(data["train"]["text"])
    for batching in ("random", "grouped"):
        batches = training_loader(lengths, list, 32, 0, batching).batch_sampler
        print(f"{batching} batches: {padding_share(lengths, batches):.1%} of tokens are padding")
    print(f"{rows} training sentences, batch size 32, precision {precision!r}, "
          f"{torch.get_num_threads()} threads, CPU {torch.backends.cpu.get_cpu_capability()}")
    seconds = {}
    for name, (epochs, run) in arms(data, precision).items():
        results = [run() for _ in range(args.repeats)]
        seconds[name] = min(s for s, _ in results)
        print(f"{name:>17}: {rows * epochs / seconds[name]:6.1f} sentences/s "
              f"({epochs} epoch{'s' * (epochs > 1)}, {seconds[name]:.1f} s), "
              f"test sentiment accuracy {interval(results[0][1], tests)}")
    report(data, precision, seconds, args)


def report(data, precision: str, seconds: dict[str, float], args: argparse.Namespace) -> None:
    """The cache, FLOP and sweep lines, then the summary line."""
    cached = seconds["bottom:3 uncached"] / seconds["bottom:3 cached"]
    print(f"bottom:3, 3 epochs: the cached frozen prefix is {cached:.2f}x as fast as uncached")
    work, peak = epoch_gflops(data, precision), gemm_rate()
    print(f"grouped epoch: {work:.0f} GFLOP in {seconds['grouped']:.1f} s = "
          f"{work / seconds['grouped']:.1f} GFLOP/s; this CPU's fp32 2048² matrix product: "
          f"{peak:.1f} GFLOP/s ({work / seconds['grouped'] / peak:.0%} of it)")
    serial, parallel, workers = sweep_speed(data, args.sweep, args.threads)
    print(f"sweep of {args.sweep} one-epoch runs: serial at {args.threads} threads {serial:.1f} s, "
          f"{workers} workers at 1 thread {parallel:.1f} s")
    print(f"grouped vs random: {seconds['random'] / seconds['grouped']:.2f}x; "
          f"grouped vs Trainer: {seconds['Trainer'] / seconds['grouped']:.2f}x; "
          f"vs Trainer group_by_length: {seconds['Trainer grouped'] / seconds['grouped']:.2f}x; "
          f"sweep parallel vs serial: {serial / parallel:.2f}x")


if __name__ == "__main__":
    main()
