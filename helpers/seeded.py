"""Experiments with several seeds: every run trained once per seed, scored on the same
test sentences, summarised with intervals and compared pairwise (``helpers.evidence``).

A run is a freezing strategy (trained with the shared config), a ``TrainConfig`` (no
freezing), ``(strategy, TrainConfig)``, or a ``Run`` that may also build its own starting
model (a randomly initialised encoder, LoRA adapters). Epochs are chosen on the config's
evaluation split; the reported split is only scored, and choosing epochs on it is refused.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import pandas as pd
from datasets import DatasetDict
from tqdm.auto import tqdm

from . import result_store
from .data import get_split
from .evidence import spearman_rows
from .experiments import run_strategy
from .freezing import trainable_count
from .multitask import MultiTaskModel
from .parallel import one_thread, resolve_workers, run_jobs
from .result_store import LazyModels, data_fingerprint, describe_callable, plan_key
from .runtime import seed_everything
from .seeded_results import SeededResults
from .shared_start import ModelMaker, SharedStart, once_per_seed  # noqa: F401 (public here)
from .similarity import pair_cosines
from .tasks import MISSING_LABEL
from .training import TrainConfig, predict_labels, task_metrics


@dataclass(frozen=True)
class Run:
    """One run: a freezing strategy, its config (None = the shared one) and the function
    that builds its starting model from a seed (None = the shared one)."""

    strategy: str | Sequence[str] = "none"
    config: TrainConfig | None = None
    make_model: ModelMaker | None = None


RunSpec = str | Sequence[str] | TrainConfig | tuple[str | Sequence[str], TrainConfig] | Run


def as_run(spec: RunSpec, name: str) -> Run:
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


def _start(make_model: ModelMaker, seed: int) -> None:
    """Build (and so store) one seed's shared starting model, seeded as a run would be."""
    seed_everything(seed)
    make_model(seed)


def _train_and_score(make_model: ModelMaker, data: DatasetDict, plan: Run, config: TrainConfig,
                     name: str, seed: int, split: str, keep_model: bool,
                     sts_pairs: pd.DataFrame | None = None) -> dict:
    """One (run, seed): train, then score on validation and ``split`` (and the encoder's
    cosines on ``sts_pairs``); picklable output."""
    model, history, seconds = run_strategy(partial(plan.make_model or make_model, seed), data,
                                           plan.strategy, replace(plan.config or config,
                                                                  seed=seed, progress=False))
    outputs = {part: _labelled_logits(model, data, part)
               for part in dict.fromkeys(["validation", split]) if part in data}
    rows, right = _scores(model, outputs[split])
    cosines = None
    if sts_pairs is not None:
        cosines = pair_cosines(model.encoder, sts_pairs)
        rows.append({"task": "sts", "metric": "spearman",
                     "value": float(spearman_rows(cosines, sts_pairs["score"].to_numpy())[0])})
    return {"rows": [{"run": name, "seed": seed, **row} for row in rows], "right": right,
            "cosines": cosines,
            "logits": outputs, "history": history, "model": model if keep_model else None,
            "facts": {"run": name, "seed": seed,
                      "trainable": trainable_count(model.parameters()),
                      "best epoch": history.best_epoch if history else None,
                      "seconds": round(seconds, 1)}}


def run_seeded(
    make_model: ModelMaker,
    data: DatasetDict,
    runs: Mapping[str, RunSpec],
    config: TrainConfig,
    seeds: Sequence[int] = (0, 1, 2),
    split: str = "test",
    workers: int | str = "auto",
    sts_pairs: pd.DataFrame | None = None,
    store: str | os.PathLike | None = None,
) -> SeededResults:
    """Train every run once per seed (same seeds for every run), score each on ``split``.

    ``split="validation"`` is a selection sweep (the epoch and the setting both chosen on
    validation; test untouched). ``sts_pairs`` (``load_sts_pairs()``) also scores every
    trained encoder on sentence similarity: what fine-tuning kept of it. ``store``: a file
    that keeps the results and is read back while the plan is unchanged
    (``helpers.result_store``).
    ``make_model(seed)`` builds the starting model for one seed (it may train heads first;
    wrap it in ``once_per_seed`` to share it between runs). ``workers`` runs side by side
    (``"auto"``: one process per physical core); every run trains at one thread, so the
    numbers are the same for any worker count. One progress bar for the sweep.
    """
    seeds = list(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"run_seeded(): seeds must be distinct and non-empty, got {seeds}")
    plans = {name: as_run(spec, name) for name, spec in runs.items()}
    for name, plan in plans.items():
        if (plan.config or config).eval_split == split != "validation":
            raise ValueError(f"run_seeded(): run {name!r} would choose its epochs on "
                             f"{split!r}, the split it is scored on; select on validation")
    resolve_workers(workers, "run_seeded()")
    key = None if store is None else _key(make_model, data, plans, config, seeds, split,
                                          sts_pairs)
    results = None if store is None else result_store.load(store, key)
    if results is None:
        results = _sweep(make_model, data, plans, config, seeds, split, workers, sts_pairs)
        if store is not None:
            result_store.save(store, key, replace(results, models={}))

    def rebuild(name: str) -> MultiTaskModel:
        with one_thread(), tqdm(total=1, disable=not config.progress,
                                desc=f"seed {seeds[0]} of {name!r}, not kept in the store") as bar:
            model = _train_and_score(make_model, data, plans[name], config, name, seeds[0],
                                     split, True)["model"]
            bar.update()
        return model

    results.models = LazyModels(results.models, list(plans), rebuild)
    return results


def _key(make_model: ModelMaker, data: DatasetDict, plans: Mapping[str, Run],
         config: TrainConfig, seeds: list[int], split: str, sts_pairs: object) -> str:
    """A sweep's store key: all that decides its numbers (only with a store: it takes time)."""
    return plan_key({
        "make_model": describe_callable(make_model), "config": config, "seeds": seeds,
        "split": split, "data": data_fingerprint(data),
        "sts": None if sts_pairs is None else data_fingerprint({"pairs": sts_pairs}),
        "runs": [(name, plan.strategy, plan.config, plan.make_model and
                  describe_callable(plan.make_model)) for name, plan in plans.items()]})


def _sweep(make_model: ModelMaker, data: DatasetDict, plans: Mapping[str, Run],
           config: TrainConfig, seeds: list[int], split: str, workers: int | str,
           sts_pairs: pd.DataFrame | None) -> SeededResults:
    """Every run × seed side by side (the shared starting models first), gathered."""
    if isinstance(make_model, SharedStart):
        run_jobs(_start, [(make_model, seed) for seed in seeds], workers,
                 "starting models", config.progress, "run_seeded()")
    jobs = [(make_model, data, plan, config, name, seed, split, seed == seeds[0], sts_pairs)
            for name, plan in plans.items() for seed in seeds]
    done = run_jobs(_train_and_score, jobs, workers, "runs × seeds", config.progress,
                    "run_seeded()")
    correct: dict[tuple[str, str], list[np.ndarray]] = {}
    for result in done:
        for task, flags in result["right"].items():
            correct.setdefault((result["facts"]["run"], task), []).append(flags)
    keys = [(r["facts"]["run"], r["facts"]["seed"]) for r in done]
    return SeededResults(split, pd.DataFrame([row for r in done for row in r["rows"]]),
                         pd.DataFrame([r["facts"] for r in done]),
                         {key: np.stack(value) for key, value in correct.items()},
                         {key: r["history"] for key, r in zip(keys, done, strict=True)},
                         {r["facts"]["run"]: r["model"] for r in done if r["model"] is not None},
                         {key: r["logits"] for key, r in zip(keys, done, strict=True)},
                         {key: r["cosines"] for key, r in zip(keys, done, strict=True)
                          if r["cosines"] is not None},
                         None if sts_pairs is None else sts_pairs["score"].to_numpy(float))

