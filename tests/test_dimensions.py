"""Smaller sentence vectors: the size table and its plot."""

import pytest
from datasets import DatasetDict

from helpers import SentenceEncoder, dimensions, evidence, plots
from helpers.data import SENTENCE_TASKS, load_sts_pairs
from helpers.training import TrainConfig


@pytest.mark.slow  # a subprocess, several processes or the real model
def test_size_table_scores_truncation_and_projection(tiny_model_dir, small_data):
    data = DatasetDict({**small_data, "test": small_data["validation"]})
    pairs = load_sts_pairs().head(30)
    config = TrainConfig(epochs=2, batch_size=8, head_lr=1e-2, probe_epochs=0,
                         grad_conflict=False, progress=False)
    encoder = SentenceEncoder.from_pretrained(tiny_model_dir)
    table = dimensions.size_table(encoder, data, pairs, SENTENCE_TASKS, [8, 4], config,
                                  seeds=[0, 1])
    assert len(table) == 2 * (1 + 2) * 3  # dims × (truncated + 2 seeds) × (sts + 2 tasks)
    full = table[(table["run"] == "truncated, 8") & (table["task"] == "sts")]["value"].item()
    summary = evidence.summarize(table)
    projected = summary[(summary["run"] == "learned projection, 4") & (summary["task"] == "topic")]
    assert projected["seeds"].item() == 2 and 0 <= projected["mean"].item() <= 1
    assert -100 <= full <= 100
    assert len(plots.embedding_sizes(summary).axes) == 3
