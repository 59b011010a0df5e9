"""Process-wide settings every notebook and test wants: quiet libraries, seeds, threads.

Kept in one place so a notebook needs one call (``seed_everything``) and nbval sees the
same stderr and the same numbers on every run.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

DEFAULT_THREADS = 2


def quiet_libraries() -> None:
    """Silence download/loading progress bars and info logs (nbval compares stderr)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from huggingface_hub.utils import disable_progress_bars
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    disable_progress_bars()
    try:
        import datasets

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
    except ImportError:  # datasets is optional for encoder-only use
        pass


def seed_everything(seed: int = 0, threads: int | None = DEFAULT_THREADS) -> int:
    """Seed Python, NumPy and PyTorch and fix the CPU thread count.

    Fixing threads matters as much as the seed: float sums are reduced in a
    different order with a different number of threads, so the last digits move.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed_everything(): seed must be an int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if threads is not None:
        torch.set_num_threads(threads)
    return seed
