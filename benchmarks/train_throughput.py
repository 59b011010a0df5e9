"""Fine-tuning throughput: ours (random and length-grouped batches, a cached frozen prefix,
a sweep side by side) against the Hugging Face Trainer (random and ``group_by_length``).

Run by hand: ``python benchmarks/train_throughput.py``. One fine-tuning epoch of the
packaged all-MiniLM-L6-v2 over the training split of data/sentences.csv (735 sentences),
batch size 32, the TrainConfig defaults (rates, warm-up, schedule, weight decay; no
heads-first phase, which the Trainer does not have), fp32 unless ``--precision`` says
otherwise. Each arm is timed from the call to the end of training (set-up, tokenizing and
the epoch), best of ``--repeats`` (seeds 0, 1, ...), with the test sentiment accuracy of
each (1,028 sentences, 95 % interval) to show the speed is not bought with accuracy:

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
from contextlib import AbstractContextManager, nullcontext

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
         strategy: str = "none", epochs: int = 1, cache: bool = True,
         around: AbstractContextManager | None = None) -> tuple[float, float]:
    """Seconds for ``epochs`` of ``train()`` and the test sentiment accuracy after them;
    ``around`` wraps the training alone (a FLOP counter)."""
    seed_everything(seed)
    model = freeze(MultiTaskModel(SentenceEncoder.from_pretrained(), SENTENCE_TASKS), strategy)
    config = TrainConfig(epochs=epochs, batching=batching, mixed_precision=precision,
                         seed=seed, probe_epochs=0, eval_split=None, grad_conflict=False,
                         progress=False, cache_frozen_encoder=cache)
    started = time.perf_counter()
    with around or nullcontext():
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
    """Floating-point work (GFLOP) of one grouped training epoch, counted by PyTorch."""
    counter = FlopCounterMode(display=False)
    ours(data, "grouped", precision, around=counter)
    return counter.get_total_flops() / 1e9


def warm_up(data) -> None:
    """What a notebook's first sweep leaves behind in a worker: imports done, the model's
    files read, one short training run (8 sentences) through every code path."""
    few = type(data)({"train": data["train"].select(range(8)), "test": data["test"].select(
        range(8))})
    ours(few)


def sweep_speed(data, runs: int, threads: int) -> tuple[float, float, int]:
    """Seconds for ``runs`` one-epoch runs (seeds 0 …) serially at ``threads`` threads and
    side by side (warm pool), and the worker count."""
    jobs = [(data, "grouped", "no", seed) for seed in range(runs)]
    workers = resolve_workers("auto", "sweep")
    run_jobs(warm_up, [(data,)] * workers, workers, progress=False)
    parallel = _timed(lambda: run_jobs(ours, jobs, workers, progress=False))
    torch.set_num_threads(threads)
    serial = _timed(lambda: [ours(*job) for job in jobs])
    return serial, parallel, workers


def arms(data, precision: str) -> dict:
    """name → (epochs, the timed run for a seed)."""
    return {"random": (1, lambda seed: ours(data, "random", precision, seed)),
            "grouped": (1, lambda seed: ours(data, "grouped", precision, seed)),
            "Trainer": (1, lambda seed: hf_trainer(data, precision, seed)),
            "Trainer grouped": (1, lambda seed: hf_trainer(data, precision, seed,
                                                           "group_by_length")),
            "bottom:3 uncached": (3, lambda seed: ours(data, seed=seed, strategy="bottom:3",
                                                       epochs=3, cache=False)),
            "bottom:3 cached": (3, lambda seed: ours(data, seed=seed, strategy="bottom:3",
                                                     epochs=3))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--precision", default="no", help="no | bf16 | auto")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sweep", type=int, default=6, help="runs in the sweep comparison")
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
        results = [run(seed) for seed in range(args.repeats)]
        seconds[name] = min(s for s, _ in results)
        print(f"{name:>17}: {rows * epochs / seconds[name]:6.1f} sentences/s "
              f"({epochs} epoch{'s' * (epochs > 1)}, {seconds[name]:.1f} s); test sentiment "
              f"accuracy, seed by seed: {'; '.join(interval(a, tests) for _, a in results)}")
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
