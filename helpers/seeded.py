"""Experiments with several seeds: every run trained once per seed, scored on the same
test sentences, summarised with intervals and compared pairwise (``helpers.evidence``).

A run is a freezing strategy (trained with the shared config), a ``TrainConfig`` (no
freezing), ``(strategy, TrainConfig)``, or a ``Run`` that may also build its own starting
model (a randomly initialised encoder, LoRA adapters). Epochs are chosen on the config's
evaluation split; the reported split is only scored, and choosing epochs on it is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np
import pandas as pd
from datasets import DatasetDict
from tqdm.auto import tqdm

from .data import MISSING_LABEL, get_split
from .evidence import describe, paired_difference, summarize
from .experiments import run_strategy
from .freezing import trainable_count
from .multitask import MultiTaskModel
from .training import History, TrainConfig, predict_labels, task_metrics

ModelMaker = Callable[[int], MultiTaskModel]


@dataclass(frozen=True)
class Run:
    """One run: a freezing strategy, its config (None = the shared one) and the function
    that builds its starting model from a seed (None = the shared one)."""

    strategy: str | Sequence[str] = "none"
    config: TrainConfig | None = None
    make_model: ModelMaker | None = None


RunSpec = str | Sequence[str] | TrainConfig | tuple[str | Sequence[str], TrainConfig] | Run


@dataclass
class SeededResults:
    """Tidy scores (run, seed, task, metric, value), per-sentence correctness for paired
    comparisons, one row of facts per trained model, and the first seed's models."""

    split: str
    table: pd.DataFrame
    runs: pd.DataFrame
    correct: dict[tuple[str, str], np.ndarray] = field(repr=False)
    histories: dict[tuple[str, int], History | None] = field(repr=False)
    models: dict[str, MultiTaskModel] = field(repr=False)
    # (run, seed) → {split: {task: (logits, true ids)}} on validation and the scored split
    logits: dict[tuple[str, int], dict[str, dict[str, tuple]]] = field(repr=False,
                                                                      default_factory=dict)

    def summary(self, metric: str | None = "accuracy") -> pd.DataFrame:
        """Mean ± sd over seeds and a 95 % interval, per run and task (one ``metric``)."""
        table = self.table if metric is None else self.table[self.table["metric"] == metric]
        return summarize(table)

    def compare(self, a: str, b: str, task: str, resamples: int = 2000) -> dict[str, float]:
        """Accuracy of run ``a`` minus run ``b`` on ``task``, paired bootstrap interval."""
        for name in (a, b):
            if (name, task) not in self.correct:
                raise ValueError(f"compare(): no run {name!r} with task {task!r}; runs are "
                                 f"{sorted({r for r, _ in self.correct})}")
        return paired_difference(self.correct[(a, task)], self.correct[(b, task)], resamples)

    def describe(self, a: str, b: str, task: str) -> str:
        return f"{task}: " + describe(self.compare(a, b, task), a, b)


def once_per_seed(make_model: ModelMaker) -> ModelMaker:
    """``make_model`` run once per seed, a copy handed out on every call: runs that start
    from the same model (heads fitted first) share it instead of fitting it again. Training
    reseeds itself, so the copies train exactly as freshly built models would."""
    built: dict[int, MultiTaskModel] = {}

    def copy_of(seed: int) -> MultiTaskModel:
        if seed not in built:
            built[seed] = make_model(seed)
        return deepcopy(built[seed])

    return copy_of


def _as_run(spec: RunSpec, name: str) -> Run:
    if isinstance(spec, Run):
        return spec
    if isinstance(spec, TrainConfig):
        return Run("none", spec)
    if isinstance(spec, tuple):
        if len(spec) != 2 or not isinstance(spec[1], TrainConfig):
            raise TypeError(f"run {name!r}: a tuple must be (strategy, TrainConfig)")
        return Run(*spec)
    return Run(spec)


def _labelled_logits(model: MultiTaskModel, data: DatasetDict, split: str
                     ) -> dict[str, tuple]:
    """{task: (logits, true ids)} over the rows of ``split`` labelled for the task."""
    found = predict_labels(model, get_split(data, split))
    return {name: (part["logits"][keep], part["true"][keep])
            for name, part in found.items() if (keep := part["true"] != MISSING_LABEL).any()}


def _scores(model: MultiTaskModel, found: dict[str, tuple]
            ) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Accuracy and macro-F1 per task, and which sentences each task got right."""
    rows, correct = [], {}
    for task in model.tasks:
        if task.name not in found:
            continue
        logits, true = found[task.name]
        pred = logits.argmax(dim=-1).numpy()
        correct[task.name] = true == pred
        metrics = task_metrics(task, true, pred, logits)
        rows += [{"task": task.name, "metric": kind, "value": metrics[f"{task.name}/{kind}"]}
                 for kind in ("accuracy", "macro_f1")]
    return rows, correct


def sentence_correctness(model: MultiTaskModel, data: DatasetDict, split: str = "test"
                         ) -> dict[str, np.ndarray]:
    """Per task, which labelled sentences of ``split`` the model gets right (for
    ``helpers.evidence.paired_difference`` between two single models)."""
    return _scores(model, _labelled_logits(model, data, split))[1]


def run_seeded(
    make_model: ModelMaker,
    data: DatasetDict,
    runs: Mapping[str, RunSpec],
    config: TrainConfig,
    seeds: Sequence[int] = (0, 1, 2),
    split: str = "test",
) -> SeededResults:
    """Train every run once per seed (same seeds for every run), score each on ``split``.

    ``make_model(seed)`` builds the starting model for one seed (it may train heads first).
    """
    seeds = list(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"run_seeded(): seeds must be distinct and non-empty, got {seeds}")
    plans = {name: _as_run(spec, name) for name, spec in runs.items()}
    for name, plan in plans.items():
        if (plan.config or config).eval_split == split:
            raise ValueError(f"run_seeded(): run {name!r} would choose its epochs on "
                             f"{split!r}, the split it is scored on; select on validation")
    table, facts, correct, histories, models, logits = [], [], {}, {}, {}, {}
    jobs = [(name, seed) for name in plans for seed in seeds]
    for name, seed in tqdm(jobs, desc="runs × seeds", disable=not config.progress):
        plan = plans[name]
        model, history, seconds = run_strategy(partial(plan.make_model or make_model, seed),
                                               data, plan.strategy,
                                               replace(plan.config or config, seed=seed))
        outputs = {part: _labelled_logits(model, data, part)
                   for part in dict.fromkeys(["validation", split]) if part in data}
        rows, right = _scores(model, outputs[split])
        logits[(name, seed)] = outputs
        table += [{"run": name, "seed": seed, **row} for row in rows]
        for task, flags in right.items():
            correct.setdefault((name, task), []).append(flags)
        facts.append({"run": name, "seed": seed, "trainable": trainable_count(model.parameters()),
                      "best epoch": history.best_epoch if history else None,
                      "seconds": round(seconds, 1)})
        histories[(name, seed)] = history
        if seed == seeds[0]:
            models[name] = model
    return SeededResults(split, pd.DataFrame(table), pd.DataFrame(facts),
                         {key: np.stack(value) for key, value in correct.items()},
                         histories, models, logits)
