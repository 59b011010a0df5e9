"""Process-wide settings, changed only when a caller opts in.

Importing ``helpers`` or calling a library function leaves thread counts, logging levels
and progress bars as they were. Notebooks and tests call ``notebook_setup()`` once:
quiet libraries (nbval compares stderr) and a fixed thread count (float sums are reduced
in another order with another number of threads, so the last digits would move).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import torch

NOTEBOOK_THREADS = 2


def quiet_libraries() -> None:
    """Silence download/loading progress bars and info logs of the Hugging Face libraries.

    ``datasets`` (with pandas and pyarrow, about a second) is not imported for this: when
    it is not loaded yet, its own environment settings quiet it whenever it is, so a
    command that never reads data never pays for it."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from huggingface_hub.utils import disable_progress_bars
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    disable_progress_bars()
    if "datasets" in sys.modules:
        sys.modules["datasets"].disable_progress_bars()
        sys.modules["datasets"].logging.set_verbosity_error()
    else:
        os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("DATASETS_VERBOSITY", "error")


def notebook_setup(seed: int = 0, threads: int | None = NOTEBOOK_THREADS) -> int:
    """The one opt-in call of a notebook or test session: quiet libraries, ``threads``
    CPU threads (None leaves torch's choice), everything seeded. Returns the seed."""
    quiet_libraries()
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"notebook_setup(): threads must be a positive int or None, "
                             f"got {threads!r}")
        torch.set_num_threads(threads)
    return seed_everything(seed)


def seed_everything(seed: int = 0) -> int:
    """Seed Python, NumPy and PyTorch (CPU and every accelerator), through accelerate's
    ``set_seed``; nothing else changes."""
    from accelerate.utils import set_seed

    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed_everything(): seed must be an int, got {seed!r}")
    set_seed(seed)
    return seed


@contextmanager
def drawn_from(seed: int | None, where: str) -> Iterator[None]:
    """Random draws inside the block come from ``seed`` (None: torch's global generator, as
    ``nn.Linear`` does), and the global generator is left as it was: new weights that are
    the same whatever random work ran before."""
    if seed is None:
        yield
        return
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"{where}: seed must be an int or None, got {seed!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def process_state():
    """accelerate's view of this process (rank, count, main or not).

    accelerate forms a CPU process group (gloo) only when asked for the CPU, so on a
    machine without an accelerator we ask: then ``accelerate launch --num_processes N`` and
    ``torchrun --nproc_per_node N`` give N ranks instead of N copies of one.
    """
    from accelerate import PartialState

    return PartialState(cpu=not torch.accelerator.is_available())
