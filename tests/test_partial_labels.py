"""keep_one_label: one label per training sentence, the tasks in equal shares."""

import pytest
from datasets import Dataset, DatasetDict

from helpers.partial_labels import keep_one_label


def sentences(rows: int = 10) -> DatasetDict:
    split = {"text": [f"s{i}" for i in range(rows)], "topic": ["food"] * rows,
             "sentiment": ["positive"] * rows}
    return DatasetDict({"train": Dataset.from_dict(split), "test": Dataset.from_dict(split)})


def test_each_training_sentence_keeps_exactly_one_label_in_equal_shares():
    partial = keep_one_label(sentences(), ["topic", "sentiment"], seed=3)
    train = partial["train"]
    kept = [(topic is not None) + (sentiment is not None)
            for topic, sentiment in zip(train["topic"], train["sentiment"], strict=True)]
    assert kept == [1] * 10
    assert sum(label is not None for label in train["topic"]) == 5
    assert partial["test"]["sentiment"] == ["positive"] * 10  # scoring keeps every label
    assert train["text"] == sentences()["train"]["text"]


def test_the_draw_follows_the_seed():
    first, again, other = (keep_one_label(sentences(), ["topic", "sentiment"], seed=s)["train"]
                           for s in (1, 1, 2))
    assert first["topic"] == again["topic"] and first["topic"] != other["topic"]


def test_a_sentence_without_its_turns_label_keeps_the_one_it_has():
    data = sentences(4)
    data["train"] = data["train"].map(lambda row, i: {"topic": None} if i < 2 else {},
                                      with_indices=True)
    train = keep_one_label(data, ["topic", "sentiment"])["train"]
    assert train["sentiment"][:2] == ["positive", "positive"]


@pytest.mark.parametrize(("tasks", "split", "message"), [
    (["topic"], "train", "two or more distinct tasks"),
    (["topic", "topic"], "train", "two or more distinct tasks"),
    (["topic", "form"], "train", r"\['form'\] not in split 'train'"),
    (["topic", "sentiment"], "training", "split 'training' does not exist"),
])
def test_bad_settings_name_the_problem(tasks, split, message):
    with pytest.raises(ValueError, match=message):
        keep_one_label(sentences(), tasks, split=split)


def test_single_task_training_on_partial_labels_sees_only_its_share(tiny_encoder, small_data):
    """Batches where the trained task has no label at all must train nothing, not fail."""
    import copy

    import torch

    from helpers import MultiTaskModel, TrainConfig, data, experiments, training

    partial = keep_one_label(small_data, ["topic", "sentiment"])
    model = MultiTaskModel(copy.deepcopy(tiny_encoder), data.SENTENCE_TASKS, seed=0)
    heads_only = TrainConfig(epochs=1, batch_size=4, probe_epochs=0, progress=False)
    experiments.fit_heads(model, partial, heads_only)
    sentiment_head = copy.deepcopy(model.heads["sentiment"].state_dict())
    training.train(model, partial, TrainConfig(epochs=1, batch_size=2, probe_epochs=0,
                                               tasks=["topic"], progress=False))
    after = model.heads["sentiment"].state_dict()
    assert all(torch.equal(sentiment_head[name], after[name]) for name in after)
