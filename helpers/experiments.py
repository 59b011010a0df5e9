"""Freezing strategies as experiments: same seed, data and budget; one results row each."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
from datasets import DatasetDict

from .data import get_split
from .freezing import freeze, parse_strategy, trainable_count
from .multitask import MultiTaskModel
from .runtime import seed_everything
from .training import GradualUnfreezing, History, TrainConfig, split_metrics, train

__all__ = ["fit_heads", "logistic_accuracies", "logistic_baseline", "run_strategy",
           "split_metrics", "unfreezing_callbacks"]


def unfreezing_callbacks(model: MultiTaskModel, strategy: str | Sequence[str]
                         ) -> list[GradualUnfreezing]:
    """``[GradualUnfreezing]`` for a ``gradual:N`` strategy (one layer every N steps), else []."""
    every = parse_strategy(model, strategy).unfreeze_every
    return [] if every is None else [GradualUnfreezing(model, every, unit="step")]


def run_strategy(
    make_model: Callable[[], MultiTaskModel],
    data: DatasetDict,
    strategy: str | Sequence[str],
    config: TrainConfig,
    resume_from: str | None = None,
) -> tuple[MultiTaskModel, History | None, float]:
    """Build a fresh model (seeded), freeze it, train it (or go on from ``resume_from``);
    nothing trainable = no training."""
    seed_everything(config.seed)
    model = freeze(make_model(), strategy)
    callbacks = unfreezing_callbacks(model, strategy)
    started = time.perf_counter()
    history = None
    if callbacks or trainable_count(model.parameters()) > 0:
        history = train(model, data, config, callbacks, resume_from)
    return model, history, time.perf_counter() - started


def fit_heads(model: MultiTaskModel, data: DatasetDict, config: TrainConfig) -> MultiTaskModel:
    """Train only the heads (encoder frozen, vectors cached: seconds), then make everything
    trainable again. Every strategy then starts from the same trained heads, so none is
    judged by heads that had less training than another's (linear probe, then fine-tune).
    Not ``training.linear_probe.fit_heads_first``: that is a phase inside one run, while
    this is a run of its own (its config, evaluation and best epoch) shared by many."""
    train(freeze(model, "backbone"), data, config)
    return freeze(model, "none")


def logistic_accuracies(train_vectors: np.ndarray, scored_vectors: np.ndarray,
                        data: DatasetDict, tasks: Sequence[str], split: str = "test"
                        ) -> dict[str, float]:
    """Per task: scikit-learn logistic regression fitted on the train split's vectors,
    accuracy on ``split``'s vectors (rows without a label for the task left out)."""
    from sklearn.linear_model import LogisticRegression

    train_part, scored = get_split(data, "train"), get_split(data, split)
    accuracies = {}
    for task in tasks:
        fit_rows = [i for i, label in enumerate(train_part[task]) if label is not None]
        score_rows = [i for i, label in enumerate(scored[task]) if label is not None]
        classifier = LogisticRegression(max_iter=2000).fit(
            train_vectors[fit_rows], [train_part[task][i] for i in fit_rows])
        accuracies[task] = float(classifier.score(
            scored_vectors[score_rows], [scored[task][i] for i in score_rows]))
    return accuracies


def logistic_baseline(model: MultiTaskModel, data: DatasetDict, split: str = "test"
                      ) -> dict[str, float]:
    """The yardstick for the heads: logistic regression per task on the same frozen
    sentence vectors; keys ``{split}/{task}/accuracy``."""
    vectors = [model.encoder.encode(get_split(data, part)["text"], batch_size=64)
               for part in ("train", split)]
    found = logistic_accuracies(*vectors, data, model.task_names, split)
    return {f"{split}/{task}/accuracy": value for task, value in found.items()}
