"""Where each training batch comes from: one source per data set, mixed by a sampling rule.

A joint ``DatasetDict`` (every row labelled for one or more tasks) is one source; a
``{task: data set}`` mapping is one source per task. The ``TaskMixture`` is built from the
loaders *after* ``accelerator.prepare``, so an epoch is one pass over this process's
shard: with N processes each draws about 1/N of the batches, and every process draws
from the same source at the same step (the schedule is seeded, not per process).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from datasets import Dataset, DatasetDict
from torch.utils.data import DataLoader, Sampler

from ..data import get_split
from ..multitask import MultiTaskModel
from ..tasks import TaskSpec
from ..validation import check_choice
from .config import BATCHINGS

TrainData = DatasetDict | Mapping[str, Dataset | DatasetDict]


@dataclass
class Source:
    """One stream of training batches: a data set and the tasks it is labelled for."""

    name: str
    train: Dataset
    evaluation: Dataset | None
    tasks: tuple[TaskSpec, ...]


def _evaluation_split(part: DatasetDict, split: str | None, name: str) -> Dataset | None:
    if split is None:
        return None
    if split not in part:
        raise ValueError(f"train(): eval_split {split!r} is not a split of the data for "
                         f"{name!r} (splits: {list(part)}); set TrainConfig(eval_split=None) "
                         f"to train without evaluation")
    return get_split(part, split)


def sources_of(model: MultiTaskModel, data: TrainData, eval_split: str | None,
               only: Sequence[str] | None = None) -> list[Source]:
    """A joint ``DatasetDict`` is one source; a ``{task: data set}`` mapping is one each.
    ``only`` (``TrainConfig.tasks``) keeps those tasks' labels and drops the others'."""
    for name in only or ():
        model.task(name)  # an unknown name is an error listing the model's tasks
    sources = [_kept(source, only) for source in _all_sources(model, data, eval_split)]
    sources = [source for source in sources if source.tasks]
    if not sources:
        raise ValueError(f"train(): the data has no labels for the tasks {list(only or ())}")
    return sources


def _kept(source: Source, only: Sequence[str] | None) -> Source:
    if only is None:
        return source
    return replace(source, tasks=tuple(t for t in source.tasks if t.name in only))


def _all_sources(model: MultiTaskModel, data: TrainData, eval_split: str | None
                 ) -> list[Source]:
    if isinstance(data, DatasetDict):
        columns = get_split(data, "train").column_names
        present = tuple(t for t in model.tasks if t.name in columns)
        if not present:
            raise ValueError(f"train(): the data has no column for any task {model.task_names}")
        return [Source("all", data["train"], _evaluation_split(data, eval_split, "all"),
                       present)]
    if not isinstance(data, Mapping) or not data:
        raise TypeError("train(): data must be a DatasetDict or a non-empty "
                        "{task: Dataset or DatasetDict} mapping")
    sources = []
    for task_name, part in data.items():
        task = model.task(task_name)
        if isinstance(part, DatasetDict):
            train_part = get_split(part, "train")
            evaluation = _evaluation_split(part, eval_split, task_name)
        elif eval_split is not None:
            raise ValueError(f"train(): the data for {task_name!r} is a single Dataset, so it "
                             f"has no {eval_split!r} split; pass a DatasetDict or set "
                             f"TrainConfig(eval_split=None)")
        else:
            train_part, evaluation = part, None
        if len(train_part) == 0:
            raise ValueError(f"train(): the data set for task {task_name!r} is empty")
        sources.append(Source(task_name, train_part, evaluation, (task,)))
    return sources


def source_probabilities(sizes: Sequence[int], sampling: str, temperature: float
                         ) -> np.ndarray:
    """Proportional: p ∝ n; temperature: p ∝ n^(1/T) (T=1 proportional, T→∞ uniform)."""
    weights = np.asarray(sizes, dtype=float) ** (1.0 / temperature
                                                 if sampling == "temperature" else 1.0)
    return weights / weights.sum()


def source_schedule(sizes: Sequence[int], steps: int, sampling: str, temperature: float,
                    seed: int) -> list[int]:
    """Which source each step of an epoch draws its batch from."""
    if sampling == "round_robin":
        return [step % len(sizes) for step in range(steps)]
    rng = np.random.default_rng(seed)
    return rng.choice(len(sizes), size=steps, p=source_probabilities(
        sizes, sampling, temperature)).tolist()


class LengthGroupedBatches(Sampler[list[int]]):
    """Batches of rows with similar token counts, drawn anew each epoch.

    As ``group_by_length`` in the Hugging Face Trainer: shuffle the rows, cut them into
    windows of ``group`` batches, sort each window by length and cut it into batches, then
    shuffle the batches. A batch pads to its longest row, so similar lengths waste less
    compute, while which rows meet in a batch still changes from epoch to epoch.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int, group: int = 8):
        self.lengths, self.batch_size = np.asarray(lengths), batch_size
        self.seed, self.group, self.draws = seed, group, 0

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.draws])
        self.draws += 1  # the same on every process: each draws its shard of one order
        rows, window = rng.permutation(len(self.lengths)), self.batch_size * self.group
        batches = []
        for start in range(0, len(rows), window):
            part = rows[start:start + window]
            part = part[np.argsort(self.lengths[part], kind="stable")]
            batches += [part[i:i + self.batch_size].tolist()
                        for i in range(0, len(part), self.batch_size)]
        for index in rng.permutation(len(batches)):
            yield batches[index]


def padding_share(lengths: Sequence[int], batches: Iterable[Sequence[int]]) -> float:
    """Share of the padded token grid that is padding (each batch pads to its longest row)."""
    real = padded = 0
    for batch in batches:
        sizes = [lengths[i] for i in batch]
        real, padded = real + sum(sizes), padded + max(sizes) * len(sizes)
    return 1 - real / padded


def training_loader(lengths: Sequence[int], collate: Callable, batch_size: int, seed: int,
                    batching: str) -> DataLoader:
    """Batches of row indices, turned into tensors by ``collate``: ``"grouped"`` by token
    count (see ``LengthGroupedBatches``) or ``"random"`` (plain shuffling)."""
    check_choice(batching, BATCHINGS, "batching", "training_loader")
    rows = range(len(lengths))
    if batching == "grouped":
        return DataLoader(rows, batch_sampler=LengthGroupedBatches(lengths, batch_size, seed),
                          collate_fn=collate)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(rows, batch_size=batch_size, shuffle=True, generator=generator,
                      collate_fn=collate)


class TaskMixture:
    """An epoch of steps, each a list of ``(source index, batch)``. By default a step holds
    one batch, from a source picked by ``sampling``, and an epoch has as many steps as the
    (prepared) loaders hold batches. With ``joint`` (a gradient weighting such as PCGrad,
    which needs every task in a step, as LibMTL draws them) a step holds one batch of every
    source and an epoch has as many steps as the largest source has batches. A source that
    runs out restarts (new shuffle)."""

    def __init__(self, loaders: Sequence, sampling: str, temperature: float, seed: int,
                 joint: bool = False):
        self.loaders, self.sampling, self.joint = list(loaders), sampling, joint
        self.temperature, self.seed = temperature, seed
        self.batches = [len(loader) for loader in self.loaders]  # per process

    @property
    def steps_per_epoch(self) -> int:
        return max(self.batches) if self.joint else sum(self.batches)

    def epoch(self, epoch: int) -> Iterator[list[tuple[int, dict]]]:
        every = list(range(len(self.loaders)))
        schedule = ([every] * self.steps_per_epoch if self.joint else
                    [[index] for index in source_schedule(
                        self.batches, self.steps_per_epoch, self.sampling, self.temperature,
                        self.seed + epoch)])
        iterators = [iter(loader) for loader in self.loaders]
        for indices in schedule:
            step = []
            for index in indices:
                try:
                    batch = next(iterators[index])
                except StopIteration:
                    iterators[index] = iter(self.loaders[index])
                    batch = next(iterators[index])
                step.append((index, batch))
            yield step
