"""Seeds, intervals and paired comparisons: the numbers behind every notebook claim."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from datasets import DatasetDict
from scipy import stats

from helpers import SentenceEncoder, plots
from helpers.data import SENTENCE_TASKS, load_sts_pairs
from helpers.evidence import (
    describe,
    holm,
    macro_f1_interval,
    mean_interval,
    paired_difference,
    summarize,
    verdict,
)
from helpers.multitask import MultiTaskModel
from helpers.seeded import run_seeded
from helpers.selection import rate_sweep
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


def _two_runs(rng: np.random.Generator, seeds: int, sentences: int, seed_sd: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """Correctness of runs A and B: sentence difficulty shared, each seed shifting a run's
    skill (logit scale), B 0.3 better; the same draw decides both (paired, as on one test
    set)."""
    difficulty = rng.normal(0, 1, sentences)
    draw = rng.random((seeds, sentences))
    skill_a, skill_b = rng.normal(0, seed_sd, (2, seeds, 1))
    a = draw < 1 / (1 + np.exp(-(1.5 + difficulty + skill_a)))
    b = draw < 1 / (1 + np.exp(-(1.8 + difficulty + skill_b)))
    return a, b


def _true_accuracies(seed_sd: float) -> tuple[float, float]:
    """Population accuracies of A and B: the mean over many sentences and seeds."""
    rng = np.random.default_rng(99)
    difficulty, skill = rng.normal(0, 1, 1_000_000), rng.normal(0, seed_sd, (2, 1_000_000))
    return tuple(float((1 / (1 + np.exp(-(base + difficulty + s)))).mean())
                 for base, s in zip((1.5, 1.8), skill, strict=True))


@pytest.mark.parametrize("seeds", [3, 5])
def test_intervals_cover_the_truth_about_95_percent_of_the_time(seeds):
    """Known seed and sentence variance: the mean's and the paired difference's intervals
    cover the population value in about 95 % of 600 simulated experiments (a bootstrap that
    redraws the seeds covers about 82 % here)."""
    seed_sd, trials, rng = 0.5, 600, np.random.default_rng(seeds)
    true_a, true_b = _true_accuracies(seed_sd)
    covered_mean = covered_difference = 0
    for _ in range(trials):
        a, b = _two_runs(rng, seeds, 300, seed_sd)
        mean, difference = mean_interval(a), paired_difference(a, b)
        covered_mean += mean["ci_low"] <= true_a <= mean["ci_high"]
        covered_difference += difference["ci_low"] <= true_a - true_b <= difference["ci_high"]
    assert 0.92 <= covered_mean / trials <= 0.985
    assert 0.92 <= covered_difference / trials <= 0.985


def test_one_seed_gives_the_interval_over_sentences_alone():
    """With one seed the interval is the t-interval of a mean over sentences: 1.96 sd/√n
    (it was √n times too wide)."""
    right = np.random.default_rng(0).random((1, 400)) < 0.8
    found = mean_interval(right)
    half = stats.t.ppf(0.975, 399) * right.std(ddof=1) / np.sqrt(400)
    assert found["ci_high"] - found["mean"] == pytest.approx(half)


def test_intervals_stay_within_the_scores_range():
    nearly_all = np.ones((3, 200), bool)
    nearly_all[0, :2] = False
    found = mean_interval(nearly_all)
    assert 0.99 < found["mean"] < found["ci_high"] == 1.0
    assert paired_difference(nearly_all, ~nearly_all)["ci_high"] <= 1.0
    with pytest.raises(ValueError, match=r"got shape \(5,\)"):
        mean_interval(np.ones(5))


def test_macro_f1_interval_matches_scikit_learn_and_widens_with_seed_spread():
    from sklearn.metrics import f1_score
    rng = np.random.default_rng(0)
    true = rng.integers(0, 3, 400)
    steady = np.stack([np.where(rng.random(400) < 0.8, true, rng.integers(0, 3, 400))
                       for _ in range(3)])
    found = macro_f1_interval(true, steady, 3)
    expected = np.mean([f1_score(true, p, average="macro") for p in steady])
    assert found["mean"] == pytest.approx(expected)
    assert found["ci_low"] < expected < found["ci_high"] <= 1
    shaky = steady.copy()
    shaky[0] = rng.integers(0, 3, 400)  # one seed much worse: the interval must widen
    wide = macro_f1_interval(true, shaky, 3)
    assert wide["ci_high"] - wide["ci_low"] > 2 * (found["ci_high"] - found["ci_low"])
    with pytest.raises(ValueError, match=r"need \(seeds, 400\) predictions"):
        macro_f1_interval(true, steady[:, :10], 3)


def test_run_seeded_trains_every_run_per_seed(tiny_model_dir, small_data):
    data = DatasetDict({**small_data, "test": small_data["validation"]})

    def make_model(seed):
        return MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS)

    config = TrainConfig(epochs=1, batch_size=8, head_lr=1e-2, progress=False,
                         grad_conflict=False)
    runs = {"heads": "backbone", "all": TrainConfig(epochs=1, batch_size=8, progress=False,
                                                    grad_conflict=False)}
    pairs = load_sts_pairs().head(40)
    results = run_seeded(make_model, data, runs, config, seeds=[0, 1], workers=1,
                         sts_pairs=pairs)
    assert len(results.table) == 2 * 2 * (2 * 2 + 1)  # runs × seeds × (tasks × metrics + STS)
    sts = results.summary("spearman").set_index("run")
    assert (sts["ci_low"] < sts["mean"]).all() and (sts["mean"] < sts["ci_high"]).all()
    assert results.cosines[("heads", 0)].shape == (40,)
    assert results.compare("heads", "heads", "sts")["difference"] == 0
    family = results.comparisons([("all", "heads")], ["topic", "sentiment", "sts"], "demo")
    assert len(family) == 3 and "Holm p (demo, 3 tests)" in family.columns
    f1 = results.summary("macro_f1")
    assert ((f1["ci_low"] >= 0) & (f1["ci_low"] <= f1["mean"]) & (f1["ci_high"] <= 1)).all()
    assert results.correct[("heads", "topic")].shape == (2, 12)
    summary = results.summary()
    assert set(summary["run"]) == {"heads", "all"} and (summary["seeds"] == 2).all()
    comparison = results.compare("all", "heads", "sentiment")
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


def test_holm_adjusts_a_family_step_down():
    assert holm([0.01, 0.04, 0.03]).tolist() == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]).tolist() == [0.5] and holm([0.9, 0.8]).max() <= 1


def test_rate_sweep_chooses_each_arms_rate_on_validation(tiny_model_dir, small_data):
    def make_model(seed):
        return MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS)

    config = TrainConfig(epochs=1, batch_size=8, head_lr=1e-2, progress=False,
                         grad_conflict=False, probe_epochs=0)
    arms = {"joint": config, "topic only": replace(config, tasks=["topic"],
                                                   metric="topic/accuracy")}
    chosen, table = rate_sweep(make_model, small_data, arms, [1e-5, 1e-3], config, seeds=[0],
                               workers=1)
    assert list(table.index) == ["joint", "topic only"] and list(table.columns) == [1e-5, 1e-3]
    assert chosen == {arm: table.loc[arm].idxmax() for arm in arms}
    with pytest.raises(ValueError, match=r"rates must be .* got \[0\]"):
        rate_sweep(make_model, small_data, arms, [0], config)


def test_choose_breaks_ties_toward_the_simpler_recipe(tiny_model_dir, small_data):
    def make_model(seed):
        return MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS)

    config = TrainConfig(epochs=1, batch_size=8, head_lr=1e-2, progress=False,
                         grad_conflict=False)
    runs = {"flat": config, "flat again": config}  # identical: a tie
    results = run_seeded(make_model, small_data, runs, config, seeds=[0], split="validation",
                         workers=1)
    assert results.choose(["flat again", "flat"]) == "flat again"
    assert results.choose(["flat", "flat again"]) == "flat"
    with pytest.raises(ValueError, match=r"no runs \['nope'\]"):
        results.choose(["nope"])


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
