"""Independent runs side by side: one worker process per physical core, one thread each.

On the small matrices of a sentence model a second thread adds less than a second process:
two training runs side by side at one thread each finished 1.61x sooner than one after the
other at two threads, start-up included (the epochs alone 1.42x; 2-core AMD EPYC). The pool
is ``joblib``'s loky backend: its workers are started fresh (never forked from a process
that has run OpenMP threads), reused between calls, and receive functions defined in a
notebook (cloudpickle).

Every job runs at one thread, serially too, so a run's numbers do not depend on how many
workers there are (float sums are reduced in another order with another thread count).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from tqdm.auto import tqdm

from .runtime import quiet_libraries

AUTO = "auto"


def resolve_workers(workers: int | str, where: str) -> int:
    """``"auto"`` → one worker per physical core; an int ≥ 1 as it is; anything else is
    an error naming the value."""
    if workers == AUTO:
        from joblib import cpu_count

        return max(1, cpu_count(only_physical_cores=True))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"{where}: workers must be 'auto' or an int ≥ 1, got {workers!r}")
    return workers


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block at one PyTorch thread, then restore the caller's count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# loky restarts a worker whose memory grew 300 MB past its size after its first job (a
# leak guard), warning in the caller's cell. A training run legitimately holds more
# (weights, gradients, optimiser state of 22 M parameters) and a restart re-imports torch,
# so our workers widen the guard to this.
WORKER_MEMORY_GROWTH = 8 * 1024**3


def _widen_leak_guard() -> None:
    from joblib.externals.loky import process_executor

    if hasattr(process_executor, "_MAX_MEMORY_LEAK_SIZE"):
        process_executor._MAX_MEMORY_LEAK_SIZE = WORKER_MEMORY_GROWTH


def _at_one_thread(function: Callable[..., Any], index: int, args: tuple, in_worker: bool
                   ) -> tuple[int, Any]:
    if in_worker:  # our own process: its output lands in the caller's cell, keep it quiet
        _widen_leak_guard()
        quiet_libraries()
    with one_thread():
        return index, function(*args)


def run_jobs(function: Callable[..., Any], jobs: Sequence[tuple], workers: int | str = AUTO,
             desc: str = "runs", progress: bool = True, where: str = "run_jobs()") -> list:
    """``[function(*job) for job in jobs]``, each at one thread, on ``workers`` processes
    (1 = in this process); results in the order of ``jobs``, one progress bar in all."""
    count = min(resolve_workers(workers, where), max(1, len(jobs)))
    bar = tqdm(total=len(jobs), desc=desc, disable=not progress)
    results: list[Any] = [None] * len(jobs)
    if count == 1:
        done = (_at_one_thread(function, i, job, False) for i, job in enumerate(jobs))
    else:
        from joblib import Parallel, delayed

        pool = Parallel(n_jobs=count, backend="loky", return_as="generator_unordered")
        done = pool(delayed(_at_one_thread)(function, i, job, True)
                    for i, job in enumerate(jobs))
    with bar:
        for index, result in done:
            results[index] = result
            bar.update()
    return results
