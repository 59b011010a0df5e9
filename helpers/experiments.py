"""Freezing strategies as experiments: same seed, data and budget; one results row each."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
from datasets import DatasetDict

from .data import get_split
from .freezing import freeze, parse_strategy, trainable_count
from .multitask import MultiTaskModel
from .runtime import seed_everything
from .training import GradualUnfreezing, History, TrainConfig, split_metrics, train

__all__ = ["fit_heads", "logistic_accuracies", "logistic_baseline", "run_strategies",
           "run_strategy", "split_metrics", "unfreezing_callbacks"]


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
) -> tuple[MultiTaskModel, History | None, float]:
    """Build a fresh model (seeded), freeze it, train it; nothing trainable = no training."""
    seed_everything(config.seed)
    model = freeze(make_model(), strategy)
    callbacks = unfreezing_callbacks(model, strategy)
    started = time.perf_counter()
    history = None
    if callbacks or trainable_count(model.parameters()) > 0:
        history = train(model, data, config, callbacks)
    return model, history, time.perf_counter() - started


def run_strategies(
    make_model: Callable[[], MultiTaskModel],
    data: DatasetDict,
    strategies: Mapping[str, str | Sequence[str]],
    config: TrainConfig,
    overrides: Mapping[str, Mapping[str, object]] | None = None,
    split: str = "test",
) -> tuple[pd.DataFrame, dict[str, tuple[MultiTaskModel, History | None]]]:
    """Run every ``{name: strategy}`` with the same seed, data and config.

    A strategy is anything ``freeze`` accepts (``"gradual:N"`` included); a strategy that
    leaves nothing trainable (``"all"``) is evaluated untrained: the floor. ``overrides``
    changes config fields for one strategy by name. Returns the results table (trainable
    parameters, epochs, training seconds, ``{split}/{task}/accuracy`` and ``.../macro_f1``)
    and each run's trained model and history.
    """
    unknown = sorted(set(overrides or {}) - set(strategies))
    if unknown:
        raise ValueError(f"run_strategies(): overrides name unknown strategies {unknown}; "
                         f"strategies are {list(strategies)}")
    rows, runs = [], {}
    for name, strategy in strategies.items():
        run_config = replace(config, **dict((overrides or {}).get(name, {})))
        model, history, seconds = run_strategy(make_model, data, strategy, run_config)
        runs[name] = (model, history)
        rows.append({"strategy": name, "trainable": trainable_count(model.parameters()),
                     "epochs": len(history.epochs) if history else 0,
                     "seconds": round(seconds, 1), **split_metrics(model, data, split)})
    return pd.DataFrame(rows), runs


def fit_heads(model: MultiTaskModel, data: DatasetDict, config: TrainConfig) -> MultiTaskModel:
    """Train only the heads (encoder frozen, vectors cached: seconds), then make everything
    trainable again. Every strategy then starts from the same trained heads, so none is
    judged by heads that had less training than another's (linear probe, then fine-tune)."""
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
