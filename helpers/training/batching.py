"""Turning rows of a data set into model batches: label ids per task, tokens or cached
vectors. An unlabelled cell becomes ``MISSING_LABEL``, which the loss ignores."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from datasets import Dataset

from ..tasks import TaskSpec


def label_ids(dataset: Dataset, tasks: Sequence[TaskSpec]) -> dict[str, np.ndarray]:
    """Per task, an int64 array of label ids (``MISSING_LABEL`` where unlabelled)."""
    ids = {}
    for task in tasks:
        if task.name not in dataset.column_names:
            raise ValueError(f"no column for task {task.name!r}; columns are "
                             f"{dataset.column_names}")
        ids[task.name] = np.array([task.label_id(v) for v in dataset[task.name]], dtype=np.int64)
    return ids


def collate_fn(
    dataset: Dataset,
    tasks: Sequence[TaskSpec],
    tokenize: Callable[[list[str]], Mapping[str, torch.Tensor]],
    cache: torch.Tensor | None = None,
) -> Callable[[Sequence[int]], dict[str, object]]:
    """Row indices → a batch: ``input_ids`` + ``attention_mask`` (or cached ``vectors``)
    and ``labels`` {task: label ids}.

    ``tokenize`` is the encoder's ``tokenize`` (pads each batch to its own longest row);
    ``cache`` holds one precomputed sentence vector per row, for a frozen encoder.
    """
    ids = label_ids(dataset, tasks)
    texts = dataset["text"]

    def collate(indices: Sequence[int]) -> dict[str, object]:
        chosen = np.asarray(indices)
        batch: dict[str, object] = ({"vectors": cache[chosen]} if cache is not None
                                    else dict(tokenize([texts[i] for i in chosen])))
        batch["labels"] = {name: torch.from_numpy(values[chosen]) for name, values in ids.items()}
        return batch

    return collate
