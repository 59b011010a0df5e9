"""Partial labels: each training sentence keeps the label of one task only.

Multi-task data usually arrives as one data set per task, so a sentence carries one label;
ours carries both, so the tasks never compete for data, only for the encoder. Dropping one
label per training sentence recreates the common case: the tasks take turns over a seeded
shuffle, so each keeps an equal share of the sentences and no sentence is labelled twice.
Validation and test keep every label, so selection and scoring stay as with full labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from datasets import DatasetDict

from .data import get_split


def keep_one_label(data: DatasetDict, tasks: Sequence[str], seed: int = 0,
                   split: str = "train") -> DatasetDict:
    """``data`` with each sentence of ``split`` labelled for one of ``tasks`` (the others
    ``None``); a sentence that lacks its turn's label keeps the next task's it has."""
    part = get_split(data, split)
    tasks = list(tasks)
    if len(tasks) < 2 or len(set(tasks)) != len(tasks):
        raise ValueError(f"keep_one_label(): needs two or more distinct tasks, got {tasks}")
    unknown = [task for task in tasks if task not in part.column_names]
    if unknown:
        raise ValueError(f"keep_one_label(): task column(s) {unknown} not in split {split!r}; "
                         f"columns are {part.column_names}")
    turn = np.random.default_rng(seed).permutation(len(part)) % len(tasks)

    def one_label(row: dict, index: int) -> dict:
        order = [tasks[(turn[index] + step) % len(tasks)] for step in range(len(tasks))]
        kept = next((task for task in order if row[task] is not None), None)
        return {task: row[task] if task == kept else None for task in tasks}

    return DatasetDict({**data, split: part.map(one_label, with_indices=True)})
