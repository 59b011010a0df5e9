"""Seeds side by side: worker processes give exactly the numbers of a serial sweep."""

import numpy as np
import pandas as pd
import pytest
import torch
from datasets import DatasetDict

from helpers import SentenceEncoder
from helpers.data import SENTENCE_TASKS
from helpers.multitask import MultiTaskModel
from helpers.parallel import one_thread, resolve_workers, run_jobs
from helpers.seeded import once_per_seed, run_seeded
from helpers.training import TrainConfig


def _square(x: int) -> tuple[int, int]:
    return x * x, torch.get_num_threads()


def test_run_jobs_keeps_order_and_runs_at_one_thread():
    before = torch.get_num_threads()
    for workers in (1, 2):
        results = run_jobs(_square, [(i,) for i in range(5)], workers, progress=False)
        assert results == [(i * i, 1) for i in range(5)]
    assert torch.get_num_threads() == before  # the serial path restores the caller's count
    with one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("bad", [0, -1, 1.5, "all", True, None])
def test_bad_worker_counts_are_named(bad):
    with pytest.raises(ValueError, match=f"workers must be 'auto' or an int ≥ 1, got {bad!r}"):
        resolve_workers(bad, "run_seeded()")
    assert resolve_workers("auto", "x") >= 1


@pytest.mark.slow
def test_one_worker_and_two_workers_give_identical_results(tiny_model_dir, small_data,
                                                            tmp_path):
    """Each run trains at one thread wherever it runs, so the worker count cannot move a
    number; the shared starting model is built once per seed, also across processes."""
    data = DatasetDict({**small_data, "test": small_data["validation"]})

    def make_model(seed):
        (tmp_path / f"built-{seed}-{len(list(tmp_path.iterdir()))}").touch()
        return MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS)

    config = TrainConfig(epochs=2, batch_size=8, head_lr=1e-2, lr=1e-3, progress=False)
    runs = {"heads": "backbone", "bottom": "bottom:1", "all": "none"}
    found = {}
    for workers in (1, 2):
        shared = once_per_seed(make_model)
        found[workers] = run_seeded(shared, data, runs, config, seeds=[0, 1, 2],
                                    workers=workers)
        assert len(list(tmp_path.glob("built-*"))) == 3 * workers  # once per seed
    serial, parallel = found[1], found[2]
    pd.testing.assert_frame_equal(serial.table, parallel.table)
    assert serial.correct.keys() == parallel.correct.keys()
    for key, flags in serial.correct.items():
        assert np.array_equal(flags, parallel.correct[key])
    for key, parts in serial.logits.items():
        for split, tasks in parts.items():
            for task, (logits, _) in tasks.items():
                assert torch.equal(logits, parallel.logits[key][split][task][0]), key
    for name, model in serial.models.items():
        for (p, a), b in zip(model.state_dict().items(),
                             parallel.models[name].state_dict().values(), strict=True):
            assert torch.equal(a, b), (name, p)
    assert serial.histories[("all", 1)].epochs == parallel.histories[("all", 1)].epochs


GROWING_WORKER = """
import builtins, time
import torch
from helpers.parallel import run_jobs

def grow(megabytes):
    builtins.kept = torch.ones(megabytes * 1024**2 // 4)  # as a training run's memory stays
    time.sleep(1.5)  # loky checks a worker's memory at most once a second
    return megabytes

run_jobs(abs, [(1,), (2,)], 2, progress=False)  # each worker's size after its first job
print(run_jobs(grow, [(600,), (600,), (700,), (700,)], 2, progress=False))
"""


@pytest.mark.slow
def test_workers_that_hold_a_training_runs_memory_are_not_restarted():
    """loky restarts a worker whose memory grew 300 MB past its first job's, with a warning
    in the caller's cell and a fresh import of torch; a training run holds more."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", GROWING_WORKER], capture_output=True,
                            text=True, timeout=300, check=True)
    assert result.stdout.strip() == "[600, 600, 700, 700]"
    assert "A worker stopped" not in result.stderr, result.stderr


def _load_tiny(path: str) -> int:
    return SentenceEncoder.from_pretrained(path).dim


@pytest.mark.slow
def test_workers_print_no_loading_bars(tiny_model_dir, capfd):
    """A worker's stderr reaches the notebook cell: loading a model there stays quiet."""
    assert run_jobs(_load_tiny, [(str(tiny_model_dir),)] * 2, 2, progress=False) == [32, 32]
    assert "Loading weights" not in capfd.readouterr().err
