"""A stored sweep is read back only for the same plan, and never half-written."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import DatasetDict

from helpers import SentenceEncoder
from helpers.data import SENTENCE_TASKS
from helpers.multitask import MultiTaskModel
from helpers.result_store import describe_callable
from helpers.seeded import once_per_seed, run_seeded
from helpers.training import TrainConfig

HIDDEN_SETTING = 1  # read by the model builder below: changing it must train again
BUILT: Counter = Counter()  # a counter, not a setting: described by its type only


@pytest.fixture
def sweep(tiny_model_dir, small_data, tmp_path):
    def make_model(seed):
        BUILT[seed] += 1
        model = MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS)
        with torch.no_grad():
            for parameter in model.heads["topic"].parameters():
                parameter.mul_(HIDDEN_SETTING)
        return model

    config = TrainConfig(epochs=1, batch_size=8, head_lr=1e-2, progress=False,
                         grad_conflict=False)
    runs = {"heads": "backbone", "all": "none"}

    def run(**changes):
        arguments = {"make_model": make_model, "data": small_data, "runs": runs,
                     "config": config, "seeds": [0, 1], "split": "validation", "workers": 1,
                     "store": tmp_path / "sweep.joblib", **changes}
        return run_seeded(**arguments)

    BUILT.clear()
    return run


def test_the_same_plan_is_read_back_and_its_models_rebuilt(sweep, tmp_path):
    first = sweep()
    built = BUILT.total()
    assert built == 4
    assert (tmp_path / "sweep.joblib").exists()
    assert not list(tmp_path.glob("*.partial"))
    again = sweep()
    assert BUILT.total() == built  # nothing trained
    assert again.table.equals(first.table)
    assert again.summary().equals(first.summary())
    rebuilt, kept = again.models["all"], first.models["all"]
    assert BUILT.total() == built + 1  # seed 0 of one run, on first use
    for (name, a), b in zip(rebuilt.state_dict().items(), kept.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name
    with pytest.raises(KeyError, match="no run 'nope'"):
        again.models["nope"]


def test_a_changed_plan_trains_again(sweep, small_data):
    global HIDDEN_SETTING
    sweep()
    built = BUILT.total()
    sweep(seeds=[0, 2])
    assert BUILT.total() == built + 4
    HIDDEN_SETTING = 2
    try:
        sweep(seeds=[0, 2])
    finally:
        HIDDEN_SETTING = 1
    assert BUILT.total() == built + 8
    changed = small_data["validation"].map(lambda row: {"text": row["text"] + "!"})
    sweep(seeds=[0, 2], data=DatasetDict({**small_data, "validation": changed}))
    assert BUILT.total() == built + 12


def test_an_unreadable_store_is_named(sweep, tmp_path):
    (tmp_path / "sweep.joblib").write_bytes(b"not a store")
    with pytest.raises(ValueError, match=r"sweep\.joblib: not a readable results store"):
        sweep()


def test_a_builder_is_described_by_its_code_and_settings_never_by_address(tiny_model_dir):
    def make_model(seed):
        return MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS)

    text = describe_callable(once_per_seed(make_model))
    assert text.startswith("SharedStart(") and "SentenceEncoder.from_pretrained" in text
    assert "0x" not in text and text == describe_callable(once_per_seed(make_model))
    assert Path(__file__).name not in text


def test_another_sweeps_store_is_read_as_it_is_and_mapped_beside_this_one(sweep, tmp_path):
    from helpers.data import load_sts_pairs
    from helpers.result_store import read
    from helpers.seeded_results import tradeoff_table

    with pytest.raises(ValueError, match=r"sweep\.joblib: no results store; run the notebook"):
        read(tmp_path / "sweep.joblib")
    ours = sweep(sts_pairs=load_sts_pairs().head(30))
    theirs = read(tmp_path / "sweep.joblib")  # read whatever plan made it
    table = tradeoff_table({"a": (ours, ["heads"]), "b": (theirs, ["all", "heads"])})
    assert list(table.index) == ["a · heads", "b · all", "b · heads"]
    assert table.loc["a · heads"].equals(table.loc["b · heads"])
    pooled = np.concatenate([ours.correct[("all", t)] for t in ("topic", "sentiment")], axis=1)
    assert table.loc["b · all", ("accuracy", "mean")] == pytest.approx(pooled.mean())
    low, high = table.loc["b · all", [("STS Spearman", "ci_low"), ("STS Spearman", "ci_high")]]
    assert -1 <= low <= table.loc["b · all", ("STS Spearman", "mean")] <= high <= 1
