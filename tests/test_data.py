"""Loading labelled sentences: formats, partial labels and every bad-input message."""

import pandas as pd
import pytest
import torch

from helpers.data import (
    MISSING_LABEL,
    SENTENCE_TASKS,
    TaskSpec,
    get_split,
    infer_tasks,
    load_sentences,
)
from helpers.training.batching import collate_fn, label_ids

TOPIC, SENTIMENT = SENTENCE_TASKS


def write(tmp_path, rows, name="data.csv"):
    frame = pd.DataFrame(rows)
    path = tmp_path / name
    {".csv": lambda: frame.to_csv(path, index=False),
     ".jsonl": lambda: frame.to_json(path, orient="records", lines=True),
     ".parquet": lambda: frame.to_parquet(path)}[path.suffix]()
    return path


ROWS = [
    {"text": "The match went to penalties.", "topic": "sports", "sentiment": "neutral",
     "split": "train"},
    {"text": "Great pasta tonight.", "topic": "food", "sentiment": None, "split": "train"},
    {"text": "Rates went up.", "topic": None, "sentiment": "negative", "split": "test"},
]


def test_shipped_data_loads_by_split():
    data = load_sentences()
    assert list(data) == ["train", "validation", "test"]
    assert data["train"].column_names == ["text", "topic", "sentiment"]
    assert sum(len(part) for part in data.values()) >= 1000


@pytest.mark.parametrize("name", ["data.csv", "data.jsonl", "data.parquet"])
def test_local_formats_and_partial_labels(tmp_path, name):
    data = load_sentences(write(tmp_path, ROWS, name), tasks=SENTENCE_TASKS)
    assert list(data) == ["train", "test"]
    assert data["train"]["sentiment"] == ["neutral", None]
    ids = label_ids(data["train"], SENTENCE_TASKS)
    assert ids["sentiment"].tolist() == [SENTIMENT.labels.index("neutral"), MISSING_LABEL]


def test_no_split_column_means_train_and_custom_columns(tmp_path):
    rows = [{"sentence": "Good phone.", "label": "technology"},
            {"sentence": "Lovely beach.", "label": "travel"}]
    data = load_sentences(write(tmp_path, rows), text_column="sentence",
                          task_columns={"topic": "label"})
    assert list(data) == ["train"]
    assert infer_tasks(data, ["topic"]) == (TaskSpec("topic", ("technology", "travel")),)


@pytest.mark.parametrize(("rows", "kwargs", "message"), [
    ([{"body": "x y z", "topic": "food", "sentiment": "neutral"}], {},
     "text column 'text' not found"),
    ([{"text": "x y z", "topic": "food"}], {}, "sentiment column 'sentiment' not found"),
    ([{"text": "  ", "topic": "food", "sentiment": "neutral"}], {},
     "row 0 of split 'train' has an empty or non-string text"),
    ([{"text": 12345, "topic": "food", "sentiment": "neutral"}], {},
     "empty or non-string text: 12345"),
    ([{"text": "ok then", "topic": "food", "sentiment": "happy"}], {"tasks": SENTENCE_TASKS},
     r"row 0 of split 'train': sentiment label 'happy' is not one of \['negative'"),
    ([{"text": "ok then", "topic": None, "sentiment": None}], {}, "has no label for any task"),
])
def test_bad_data_is_named(tmp_path, rows, kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_sentences(write(tmp_path, rows), **kwargs)


def test_empty_file_and_missing_file_and_split(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("text,topic,sentiment\n")
    with pytest.raises(ValueError, match="has no rows"):
        load_sentences(empty)
    with pytest.raises(ValueError, match="no data file at"):
        load_sentences(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="unsupported file type '.txt'"):
        load_sentences(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match=r"split 'dev' does not exist; available splits: \["):
        get_split(load_sentences(), "dev")


def test_unknown_label_and_bad_task_spec():
    with pytest.raises(ValueError, match="unknown label 'happy'"):
        SENTIMENT.label_id("happy")
    with pytest.raises(ValueError, match="two or more distinct labels"):
        TaskSpec("x", ("a", "a"))


def test_collate_gives_tokens_or_cached_vectors_and_label_ids(tiny_encoder):
    data = load_sentences()
    first = collate_fn(data["train"], SENTENCE_TASKS, tiny_encoder.tokenize)([0, 5, 9, 12])
    assert first["input_ids"].shape[0] == 4
    assert set(first["labels"]) == {"topic", "sentiment"}
    assert (first["labels"]["topic"] >= 0).all()
    cache = torch.arange(len(data["train"]) * 2, dtype=torch.float32).reshape(-1, 2)
    cached = collate_fn(data["train"], SENTENCE_TASKS, tiny_encoder.tokenize, cache)([3, 1])
    assert cached["vectors"].tolist() == [[6.0, 7.0], [2.0, 3.0]]
    assert "input_ids" not in cached


def test_folder_of_split_files_loads_through_datasets(tmp_path):
    """A folder goes through ``datasets.load_dataset``, the same code that reads hub names."""
    by_split = {"test": ROWS[2:], "train": ROWS[:2], "validation": ROWS[:1]}
    for split, rows in by_split.items():
        pd.DataFrame(rows).drop(columns="split").to_csv(tmp_path / f"{split}.csv", index=False)
    data = load_sentences(tmp_path, tasks=SENTENCE_TASKS)
    assert list(data) == ["train", "validation", "test"]
    assert data["train"]["sentiment"] == ["neutral", None]
    assert data["test"]["text"] == ["Rates went up."]


def test_unreadable_folder_and_unknown_hub_name_are_named(tmp_path):
    (tmp_path / "train.csv").write_text("")
    with pytest.raises(ValueError, match="reading the folder's data files failed"):
        load_sentences(tmp_path)
    with pytest.raises(ValueError, match="no-such-org/no-such-data.*hub names need a network"):
        load_sentences("no-such-org/no-such-data")


def test_form_labels_come_from_the_text():
    from helpers.data import load_sentences
    from helpers.derived_tasks import form_label, with_form_labels

    assert form_label("Is the museum open on Mondays? ") == "question"
    assert form_label("The museum is open.") == "statement"
    data = with_form_labels(load_sentences())
    questions = sum(label == "question" for label in data["train"]["form"])
    assert 0 < questions < len(data["train"]) / 2
    with pytest.raises(ValueError, match="already has a 'form' column"):
        with_form_labels(data)
