"""Smaller sentence vectors, measured: truncation (Matryoshka-style) or a learned projection.

Two ways to a k-dimensional vector from the encoder's 384: keep the first k coordinates
(``encode(..., dim=k)``: free, but all-MiniLM-L6-v2 was not trained to front-load its
information), or learn a projection with the multi-task heads (``projection_dim=k``, the
encoder frozen so its vectors are cached). Both are scored alike: STS Spearman of the
k-dimensional cosines, and logistic-regression accuracy per task on the same vectors
(one classifier for both, so only the vectors differ).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pandas as pd
import torch
from datasets import DatasetDict
from scipy.stats import spearmanr

from .data import get_split
from .encoder import SentenceEncoder
from .experiments import logistic_accuracies
from .freezing import freeze
from .multitask import MultiTaskModel
from .parallel import run_jobs
from .pooling import truncate
from .runtime import seed_everything
from .tasks import TaskSpec
from .training import TrainConfig, train

TRUNCATED, PROJECTED = "truncated", "learned projection"


def _vectors(encoder: SentenceEncoder, data: DatasetDict, pairs: pd.DataFrame
             ) -> dict[str, torch.Tensor]:
    texts = {"train": get_split(data, "train")["text"], "test": get_split(data, "test")["text"],
             "first": list(pairs["sentence1"]), "second": list(pairs["sentence2"])}
    return {part: encoder.encode(items, batch_size=64, convert_to="torch")
            for part, items in texts.items()}


def _scores(vectors: dict[str, torch.Tensor], data: DatasetDict, pairs: pd.DataFrame,
            tasks: Sequence[TaskSpec]) -> dict[str, float]:
    """STS Spearman (×100) and, per task, logistic-regression test accuracy."""
    cosines = torch.nn.functional.cosine_similarity(vectors["first"], vectors["second"])
    scores = {"sts": float(spearmanr(cosines.numpy(), pairs["score"]).statistic * 100)}
    scores.update(logistic_accuracies(vectors["train"].numpy(), vectors["test"].numpy(), data,
                                      [task.name for task in tasks]))
    return scores


def _projected(encoder: SentenceEncoder, data: DatasetDict, full: dict[str, torch.Tensor],
               tasks: Sequence[TaskSpec], dim: int, config: TrainConfig, seed: int
               ) -> dict[str, torch.Tensor]:
    """One seed's learned projection to ``dim`` (heads and projection trained, encoder
    frozen), applied to the full vectors."""
    seed_everything(seed)
    model = freeze(MultiTaskModel(encoder, tasks, projection_dim=dim), "backbone")
    train(model, data, replace(config, seed=seed, progress=False))
    with torch.inference_mode():
        return {part: model.project(vectors) for part, vectors in full.items()}


def size_table(encoder: SentenceEncoder, data: DatasetDict, pairs: pd.DataFrame,
               tasks: Sequence[TaskSpec], dims: Sequence[int], config: TrainConfig,
               seeds: Sequence[int] = (0, 1, 2), workers: int | str = "auto") -> pd.DataFrame:
    """Tidy rows (run, dim, seed, task, metric, value) for every size in ``dims``:
    truncation once (it has no randomness), a projection trained per seed with ``config``
    (heads and projection only; the encoder is frozen), ``workers`` side by side at one
    thread each (``helpers.parallel``: the same numbers for any worker count)."""
    full = _vectors(encoder, data, pairs)
    jobs = [(encoder, data, full, tasks, dim, config, seed) for dim in dims for seed in seeds]
    projected = iter(run_jobs(_projected, jobs, workers, "projections", config.progress,
                              "size_table()"))
    rows = []
    for dim in dims:
        runs = [(TRUNCATED, None, {part: truncate(v, dim, True) for part, v in full.items()})]
        runs += [(PROJECTED, seed, next(projected)) for seed in seeds]
        for method, seed, vectors in runs:
            for task, value in _scores(vectors, data, pairs, tasks).items():
                rows.append({"run": f"{method}, {dim}", "method": method, "dim": dim,
                             "seed": seed if seed is not None else 0, "task": task,
                             "metric": "spearman" if task == "sts" else "accuracy",
                             "value": value})
    return pd.DataFrame(rows)
