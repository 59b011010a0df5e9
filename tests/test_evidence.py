"""Seeds, intervals and paired comparisons: the numbers behind every notebook claim."""

import numpy as np
import pandas as pd
import pytest
import torch
from datasets import DatasetDict

from helpers import SentenceEncoder, plots
from helpers.data import SENTENCE_TASKS
from helpers.evidence import describe, paired_difference, summarize, verdict
from helpers.multitask import MultiTaskModel
from helpers.seeded import run_seeded
from helpers.training import TrainConfig


def test_summary_mean_sd_and_t_interval():
    table = pd.DataFrame({"run": "a", "seed": [0, 1, 2], "task": "topic",
                          "metric": "accuracy", "value": [0.80, 0.82, 0.84]})
    row = summarize(table).iloc[0]
    assert (row["seeds"], row["mean"], row["sd"]) == (3, pytest.approx(0.82), pytest.approx(0.02))
    half = 4.302653 * 0.02 / np.sqrt(3)  # t(0.975, 2 degrees of freedom)
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(0.82 - half),
                                              pytest.approx(0.82 + half))
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['seed'\]"):
        summarize(table.drop(columns="seed"))


def test_paired_difference_and_its_verdict():
    rng = np.random.default_rng(0)
    same = rng.random((3, 500)) < 0.8
    tie = paired_difference(same, same)
    assert tie["difference"] == 0 and tie["ci_low"] == tie["ci_high"] == 0
    assert verdict(tie) == "no measurable difference on this data"
    always, never = np.ones((3, 500), bool), np.zeros((3, 500), bool)
    assert paired_difference(always, never)["ci_low"] == 1
    flipped = same.copy()
    flipped[:, :5] = ~flipped[:, :5]  # 5 sentences of 500 change: noise
    assert verdict(paired_difference(flipped, same)) == "no measurable difference on this data"
    better = same | (rng.random((3, 500)) < 0.5)  # B's rights plus many more
    text = describe(paired_difference(better, same), "new", "old")
    assert text.startswith("new − old = +0.") and text.endswith("new is better")
    with pytest.raises(ValueError, match="need two equal"):
        paired_difference(always, never[:, :10])


def test_run_seeded_trains_every_run_per_seed(tiny_model_dir, small_data):
    data = DatasetDict({**small_data, "test": small_data["validation"]})

    def make_model(seed):
        return MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS)

    config = TrainConfig(epochs=1, batch_size=8, head_lr=1e-2, progress=False,
                         grad_conflict=False)
    runs = {"heads": "backbone", "all": TrainConfig(epochs=1, batch_size=8, progress=False,
                                                    grad_conflict=False)}
    results = run_seeded(make_model, data, runs, config, seeds=[0, 1], workers=1)
    assert len(results.table) == 2 * 2 * 2 * 2  # runs × seeds × tasks × metrics
    assert results.correct[("heads", "topic")].shape == (2, 12)
    summary = results.summary()
    assert set(summary["run"]) == {"heads", "all"} and (summary["seeds"] == 2).all()
    comparison = results.compare("all", "heads", "sentiment", resamples=200)
    assert comparison["ci_low"] <= comparison["difference"] <= comparison["ci_high"]
    assert list(results.models) == ["heads", "all"]
    assert results.runs["trainable"].iloc[0] < results.runs["trainable"].iloc[-1]
    assert len(plots.seeded_results(summary).axes) == 2
    with pytest.raises(ValueError, match="choose its epochs on 'test'"):
        run_seeded(make_model, data, {"x": "backbone"}, TrainConfig(eval_split="test"))
    with pytest.raises(ValueError, match="seeds must be distinct"):
        run_seeded(make_model, data, runs, config, seeds=[1, 1])
    with pytest.raises(ValueError, match="no run 'nope'"):
        results.compare("nope", "heads", "topic")


def test_a_run_can_build_its_own_starting_model(tiny_model_dir, small_data):
    from helpers.lora import add_lora
    from helpers.seeded import Run

    data = DatasetDict({**small_data, "test": small_data["validation"]})
    built = []

    def make_model(seed):
        built.append(seed)
        return MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS)

    config = TrainConfig(epochs=1, batch_size=8, probe_epochs=0, progress=False,
                         grad_conflict=False)
    runs = {"lora": Run("backbone", make_model=lambda seed: add_lora(make_model(seed), rank=2)),
            "random": Run("none", make_model=lambda seed: MultiTaskModel(
                SentenceEncoder.from_pretrained(tiny_model_dir, pretrained=False),
                SENTENCE_TASKS))}
    results = run_seeded(make_model, data, runs, config, seeds=[0, 1], workers=1)
    assert built == [0, 1]  # only the LoRA run used the shared maker
    lora_trainable, random_trainable = results.runs.groupby("run")["trainable"].first()[
        ["lora", "random"]]
    assert 0 < lora_trainable < random_trainable / 10


def test_once_per_seed_builds_once_and_hands_out_copies(tiny_model_dir):
    from helpers.seeded import once_per_seed

    built = []

    def make_model(seed):
        built.append(seed)
        return MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS)

    shared = once_per_seed(make_model)
    first, second, other = shared(0), shared(0), shared(1)
    assert built == [0, 1] and first is not second
    assert all(torch.equal(a, b) for a, b in zip(first.parameters(), second.parameters(),
                                                 strict=True))
    next(first.parameters()).data.add_(1.0)  # a run changing its copy leaves the next intact
    assert not torch.equal(next(first.parameters()), next(shared(0).parameters()))
    assert other is not first


def test_interval_table_writes_means_and_intervals():
    import pandas as pd

    from helpers.evidence import interval_table, summarize

    table = pd.DataFrame({"run": ["b", "b", "a"], "seed": [0, 1, 0], "task": ["t"] * 3,
                          "metric": ["accuracy"] * 3, "value": [0.5, 0.7, 0.25]})
    shown = interval_table(summarize(table), digits=2)
    assert list(shown.index) == ["b", "a"]
    assert shown.loc["a", "t"] == "0.25"
    assert shown.loc["b", "t"].startswith("0.60 (") and " to " in shown.loc["b", "t"]
