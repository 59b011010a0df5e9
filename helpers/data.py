"""The project's data: task specs, loading and validating labelled sentences.

Multi-task data often arrives as separate data sets, one per task, so a row may carry
a label for some tasks only: an empty cell means "no label for this task" and is stored
as ``None``, then as label id ``-1`` (ignored by the loss).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
from datasets import Dataset, DatasetDict

from .tasks import (  # noqa: F401  (re-exported: the data API names them)
    CHALLENGE_CSV,
    DATA_DIR,
    MISSING_LABEL,
    SENTENCE_TASKS,
    SENTENCES_CSV,
    TaskSpec,
)

PAIR_COLUMNS = ("sentence1", "sentence2", "score")
SPLIT_ORDER = ("train", "validation", "test")
READERS = {".csv": pd.read_csv, ".jsonl": lambda p: pd.read_json(p, lines=True),
           ".json": pd.read_json, ".parquet": pd.read_parquet}


def check_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """Raise naming the missing columns or an empty table; return ``pairs``."""
    missing = [column for column in PAIR_COLUMNS if column not in pairs.columns]
    if missing:
        raise ValueError(f"sentence pairs: missing column(s) {missing}; expected {PAIR_COLUMNS}")
    if pairs.empty:
        raise ValueError("sentence pairs: the table is empty")
    return pairs


def load_sts_pairs(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """Scored sentence pairs (``sentence1, sentence2, score`` 0–5); default: ours."""
    path = Path(path) if path is not None else DATA_DIR / "sts_pairs.csv"
    if not path.is_file():
        raise ValueError(f"load_sts_pairs(): no file at {str(path)!r}")
    return check_pairs(pd.read_csv(path))


def read_sentences_frame(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """A local CSV/JSONL/JSON/Parquet table as pandas; default: data/sentences.csv."""
    path = Path(path) if path is not None else SENTENCES_CSV
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise ValueError(f"unsupported file type {path.suffix!r} for {str(path)!r}; "
                         f"expected one of {sorted(READERS)}")
    if not path.is_file():
        raise ValueError(f"no data file at {str(path)!r}")
    return reader(path)


def read_challenge_frame() -> pd.DataFrame:
    """The challenge set: hard sentences (negation, sarcasm, slang, ...) labelled for both
    tasks, with a ``category`` column; never used for training or model selection."""
    frame = pd.read_csv(CHALLENGE_CSV)
    _check_frame(frame, "challenge", "text", {task.name: task.name for task in SENTENCE_TASKS})
    return frame


def _is_file_path(path_or_name: str | os.PathLike | None) -> bool:
    """A file path (exists, has a suffix, or starts like a path) rather than a data set name
    or folder, both of which ``datasets.load_dataset`` reads."""
    if path_or_name is None:
        return True
    text = os.fspath(path_or_name)
    path = Path(text).expanduser()
    if path.is_dir():
        return False
    return (isinstance(path_or_name, os.PathLike) or path.exists() or bool(path.suffix)
            or text.startswith(("/", ".", "~")))


def _library_frames(source: str) -> dict[str, pd.DataFrame]:
    """Every split that ``datasets.load_dataset`` finds: a local folder of split files
    (``train.csv``, ``test.jsonl``, ...) or a Hugging Face hub name (needs a network or a
    local cache)."""
    from datasets import load_dataset

    local = Path(source).expanduser()
    folder = local.is_dir()
    try:
        loaded = load_dataset(str(local) if folder else source)
    except Exception as error:  # datasets raises many types for "not found / offline"
        origin = ("reading the folder's data files failed" if folder else
                  "it is not a local file, and loading it from the Hugging Face hub failed "
                  "(hub names need a network connection)")
        raise ValueError(f"could not load data set {source!r}: {origin}. "
                         f"Cause: {error}") from error
    return {split: part.to_pandas() for split, part in loaded.items()}


def _in_split_order(frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """train, validation, test first (in that order), then any other split."""
    rank = {name: index for index, name in enumerate(SPLIT_ORDER)}
    return dict(sorted(frames.items(), key=lambda item: rank.get(item[0], len(rank))))


def _check_frame(frame: pd.DataFrame, split: str, text_column: str,
                 task_columns: Mapping[str, str]) -> None:
    """Raise naming the first missing column, empty text or unlabelled row."""
    for role, column in [("text", text_column), *task_columns.items()]:
        if column not in frame.columns:
            raise ValueError(f"load_sentences(): {role} column {column!r} not found in split "
                             f"{split!r}; columns are {list(frame.columns)}")
    for row, text in zip(frame.index, frame[text_column], strict=True):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"load_sentences(): row {row} of split {split!r} has an empty or "
                             f"non-string text: {text!r}")
    unlabelled = frame[list(task_columns.values())].isna().all(axis=1)
    if unlabelled.any():
        raise ValueError(f"load_sentences(): row {unlabelled.idxmax()} of split {split!r} has "
                         f"no label for any task {list(task_columns)}")


def load_sentences(
    path_or_name: str | os.PathLike | None = None,
    text_column: str = "text",
    task_columns: Mapping[str, str] | Sequence[str] | None = None,
    tasks: Sequence[TaskSpec] | None = None,
    split_column: str = "split",
) -> DatasetDict:
    """Labelled sentences as a ``DatasetDict`` by split, validated.

    ``path_or_name``: ``None`` (our data/sentences.csv), a local CSV/JSONL/JSON/Parquet file
    (split by its ``split_column``, else everything is ``train``), a folder of split files
    (``train.csv``, ``test.csv``, ...) or a hub data set name.
    ``task_columns`` maps task name → column (a list means same-named columns; default:
    the names of ``tasks``, else topic and sentiment). With ``tasks``, every label must be
    in its task's label list. Output columns: ``text`` and one per task (``None`` = no label).
    """
    task_names = [task.name for task in tasks] if tasks else [t.name for t in SENTENCE_TASKS]
    if task_columns is None:
        task_columns = {name: name for name in task_names}
    elif not isinstance(task_columns, Mapping):
        task_columns = {name: name for name in task_columns}
    if not task_columns:
        raise ValueError("load_sentences(): task_columns is empty; name at least one task")
    if tasks is None and path_or_name is None:
        tasks = SENTENCE_TASKS

    location = Path(path_or_name) if path_or_name is not None else SENTENCES_CSV
    if _is_file_path(path_or_name):
        frame = read_sentences_frame(location)
        frames = ({str(split): part for split, part in frame.groupby(split_column, sort=False)}
                  if split_column in frame.columns else {"train": frame})
    else:
        frames = _library_frames(os.fspath(path_or_name))
    frames = _in_split_order(frames)
    if not frames or all(part.empty for part in frames.values()):
        raise ValueError(f"load_sentences(): the data set {str(location)!r} has no rows")

    specs = {task.name: task for task in tasks or ()}
    splits = {}
    for split, frame in frames.items():
        _check_frame(frame, split, text_column, task_columns)
        columns = {"text": [text.strip() for text in frame[text_column]]}
        for task, column in task_columns.items():
            values = [None if pd.isna(value) else str(value) for value in frame[column]]
            if task in specs:
                for row, value in zip(frame.index, values, strict=True):
                    if value is not None and value not in specs[task].labels:
                        raise ValueError(
                            f"load_sentences(): row {row} of split {split!r}: {task} label "
                            f"{value!r} is not one of {list(specs[task].labels)}")
            columns[task] = values
        splits[split] = Dataset.from_dict(columns)
    return DatasetDict(splits)


def infer_tasks(data: DatasetDict, task_names: Sequence[str]) -> tuple[TaskSpec, ...]:
    """Task specs whose labels are the sorted label values seen in any split."""
    specs = []
    for name in task_names:
        seen = {value for split in data.values() for value in split[name] if value is not None}
        specs.append(TaskSpec(name, tuple(sorted(seen))))
    return tuple(specs)


def get_split(data: DatasetDict, split: str) -> Dataset:
    """One split, or an error listing the splits that exist."""
    if split not in data:
        raise ValueError(f"split {split!r} does not exist; available splits: {list(data)}")
    if len(data[split]) == 0:
        raise ValueError(f"split {split!r} is empty")
    return data[split]


def label_counts(data: DatasetDict, task: str) -> pd.DataFrame:
    """Rows per label (and unlabelled) of one task in every split."""
    counts = {split: pd.Series(part[task]).fillna("(no label)").value_counts()
              for split, part in data.items() if task in part.column_names}
    if not counts:
        raise ValueError(f"label_counts(): no split has a column {task!r}")
    return pd.DataFrame(counts).fillna(0).astype(int).rename_axis(task)
