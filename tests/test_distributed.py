"""Data parallelism on CPU: two processes (gloo) split each epoch and stay in sync."""

import json
import subprocess
import sys

import pytest

from helpers.data import load_sentences

from .conftest import REPO

pytestmark = pytest.mark.slow  # several processes

LAUNCHERS = {
    "torchrun": [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"],
    # accelerate's --cpu flag starts one process; --multi_gpu starts torchrun, and our
    # loop asks accelerate for a CPU process group where there is no accelerator.
    "accelerate launch": [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
                          "--num_processes", "2", "--num_machines", "1",
                          "--mixed_precision", "no", "--dynamo_backend", "no"],
}


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_two_processes_split_the_data_and_stay_in_sync(tmp_path, tiny_model_dir, launcher):
    result = subprocess.run(
        [*LAUNCHERS[launcher], str(REPO / "tests" / "distributed_run.py"), str(tmp_path),
         str(tiny_model_dir)], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    # 24 rows, batch 4: 6 batches an epoch, 3 per process; 2 epochs = 6 updates each.
    assert [r["steps"] for r in ranks] == [6, 6]
    assert [len(r["texts"]) for r in ranks] == [24, 24]
    tokenizer_view = _decoded_training_texts(tiny_model_dir)
    for epoch in (0, 1):
        shards = [set(r["texts"][12 * epoch:12 * (epoch + 1)]) for r in ranks]
        assert not shards[0] & shards[1], "the two processes drew the same rows"
        assert shards[0] | shards[1] == tokenizer_view, "an epoch is one pass over all rows"
    # warm-up then linear decay over the whole run: 6 updates, 0 at the end, on both
    assert [r["final_lr"] for r in ranks] == [0.0, 0.0]
    assert ranks[0]["first_lr"] == pytest.approx(1e-3 * 5 / 6)
    assert ranks[0]["weights"] == ranks[1]["weights"], "weights differ across processes"
    assert (tmp_path / "saves-rank0.txt").is_file()
    assert not (tmp_path / "saves-rank1.txt").exists(), "only the main process writes"
    assert (tmp_path / "checkpoints" / "best" / "model.safetensors").is_file()


def test_pcgrad_in_two_processes_with_unlabelled_steps(tmp_path, tiny_model_dir):
    """PCGrad's backwards sync by hand. They failed under DDP ("gradient which is undefined,
    but still allreduced": the forward ran before ``no_sync``), and a process whose step had
    no labelled row skipped the sync by hand the other process waited in."""
    result = subprocess.run(
        [*LAUNCHERS["torchrun"], str(REPO / "tests" / "distributed_run.py"), str(tmp_path),
         str(tiny_model_dir), "pcgrad"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["steps"] for r in ranks] == [12, 12]  # 24 rows, one a batch, 12 per process
    assert ranks[0]["weights"] == ranks[1]["weights"], "weights differ across processes"
    assert ranks[0]["moved"], "the run did not train"


def _decoded_training_texts(model_dir) -> set[str]:
    """The 24 training rows as the tokenizer gives them back (lower case, no accents)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    texts = list(load_sentences()["train"].select(range(24))["text"])
    ids = tokenizer(texts, truncation=True, max_length=32)["input_ids"]
    return set(tokenizer.batch_decode(ids, skip_special_tokens=True))
