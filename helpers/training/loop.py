"""``train()``: set up, run the epochs, call the callbacks; nothing else.

Device placement, mixed precision, gradient accumulation and data parallelism go through
Hugging Face ``accelerate``, so the same loop runs on a CPU, one GPU, or several
processes under ``accelerate launch`` / ``torchrun``. When the whole encoder is frozen,
sentence vectors are computed once and the heads train on that cache.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from accelerate import Accelerator, DistributedDataParallelKwargs
from accelerate.state import AcceleratorState
from tqdm.auto import tqdm

from ..batching import collate_fn
from ..freezing import trainable_count
from ..multitask import MultiTaskModel
from ..optim import build_scheduler, layerwise_param_groups
from ..precision import training_precision
from ..runtime import process_state, seed_everything
from ..weighting import make_weighting, mean_across_processes, processes, task_losses
from .callbacks import BestModel, Callback, EarlyStopping, GradientConflictProbe, TrainState
from .config import TrainConfig
from .evaluation import MEAN, evaluate, forward_batch, mean_metrics, metric_name, parse_metric
from .frozen_layers import (
    PrefixCache,
    encoder_is_frozen,
    model_inputs,
    prefix_caches,
    set_train_mode,
    with_rows,
)
from .history import History
from .linear_probe import fit_heads_first
from .mixture import Source, TaskMixture, TrainData, sources_of, training_loader
from .probes import probe_batches
from .tracking import TrackerLogging, check_tracker


@dataclass
class _Run:
    """The prepared pieces one run needs between steps."""

    net: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    mixture: TaskMixture
    weighting: torch.nn.Module
    sources: list[Source]
    caches: dict[str, torch.Tensor | None]
    prefixes: list[PrefixCache | None]
    callbacks: list[Callback]


def _accelerator(config: TrainConfig) -> Accelerator:
    """An ``Accelerator`` for this run. accelerate keeps one process-wide state; in a single
    process (a notebook) a run with another ``mixed_precision`` resets it instead of
    failing. Under ``accelerate launch`` the launcher's settings win, as they should.
    Heads without a label in a batch get no gradient, so DDP must allow unused parameters.
    """
    state, precision = AcceleratorState._shared_state, training_precision(config.mixed_precision)
    if state and process_state().num_processes == 1 and \
            str(state.get("mixed_precision")) != precision:
        AcceleratorState._reset_state()
    return Accelerator(cpu=not torch.accelerator.is_available(), mixed_precision=precision,
                       gradient_accumulation_steps=config.grad_accumulation,
                       log_with=config.log_with, project_dir=config.logging_dir,
                       kwargs_handlers=[DistributedDataParallelKwargs(
                           find_unused_parameters=True)])


def _check_metric(model: MultiTaskModel, config: TrainConfig) -> None:
    task, _ = parse_metric(config.metric, "TrainConfig")
    if task != MEAN and task not in model.task_names:
        raise ValueError(f"TrainConfig: metric {config.metric!r} names no task of the model; "
                         f"tasks are {model.task_names} (or {MEAN!r})")


def _prepare(model: MultiTaskModel, sources: list[Source], config: TrainConfig,
             state: TrainState, callbacks: list[Callback]) -> _Run:
    """Caches, loaders, optimiser groups and built-in callbacks; then ``accelerator.prepare``
    and, from the prepared (per-process) loaders, the mixture and the schedule."""
    accelerator = state.accelerator
    model.to(accelerator.device)
    changes_trainable = any(c.changes_trainable for c in callbacks)
    cached = config.cache_frozen_encoder and encoder_is_frozen(model) and not changes_trainable
    def vectors(dataset):  # (rows, dim) sentence vectors, or None: tokens each step
        return (model.encoder.encode(dataset["text"], config.batch_size, convert_to="torch")
                if cached and dataset is not None else None)

    collate_of = {s.name: collate_fn(s.train, s.tasks, model.encoder.tokenize,
                                     vectors(s.train)) for s in sources}
    eval_caches = {s.name: vectors(s.evaluation) for s in sources}
    # The same batches with or without the cache, so caching changes the speed only.
    loaders = [training_loader(model.encoder.token_counts(s.train["text"]),
                               with_rows(collate_of[s.name]), config.batch_size,
                               config.seed + i, config.batching)
               for i, s in enumerate(sources)]
    prefixes = ([None] * len(sources) if cached else
                prefix_caches(model, sources, config, changes_trainable))
    if config.grad_conflict:
        callbacks.append(GradientConflictProbe(probe_batches(sources, collate_of)))
    if config.eval_split is not None:
        callbacks.append(BestModel())
    if config.patience is not None:
        callbacks.append(EarlyStopping(config.patience))
    if config.log_with:  # last: it logs what the other callbacks added to the rows
        callbacks.append(TrackerLogging())
    weighting = make_weighting(config.loss_weighting, model.task_names, config.loss_weights,
                               config.seed).to(accelerator.device)
    groups, _ = layerwise_param_groups(model, config.lr, config.layer_decay, config.head_lr,
                                       config.weight_decay, extra=weighting.named_parameters())
    # fused: one kernel over all tensors; the step took 0.02 s instead of 0.09 s on 2 cores
    optimizer = torch.optim.AdamW(groups, fused=True)
    net, optimizer, *loaders = accelerator.prepare(model, optimizer, *loaders)
    mixture = TaskMixture(loaders, config.sampling, config.temperature, config.seed)
    updates = math.ceil(mixture.steps_per_epoch / config.grad_accumulation) * config.epochs
    # Not prepared: accelerate would step it once per process; we step it once per update.
    scheduler = build_scheduler(optimizer, config.schedule, updates,
                                int(config.warmup_ratio * updates))
    return _Run(net, optimizer, scheduler, mixture, weighting, sources, eval_caches, prefixes,
                callbacks)


def _average_across_processes(parameters: Sequence[torch.nn.Parameter]) -> None:
    """Gradients of parameters outside the DDP-wrapped model (learned loss weights)."""
    if processes() == 1:
        return
    for parameter in parameters:
        if parameter.grad is None:
            parameter.grad = torch.zeros_like(parameter)
        mean_across_processes(parameter.grad)


def _update(run: _Run, state: TrainState, batch: dict) -> tuple[float, dict] | None:
    """Forward, combine, backward, clip and (on a sync step) optimiser and schedule step."""
    accelerator, config = state.accelerator, state.config
    with accelerator.accumulate(run.net), accelerator.autocast():
        losses = task_losses(forward_batch(run.net, batch), batch["labels"])
        if not losses:
            return None
        shared = [p for p in state.model.encoder.parameters() if p.requires_grad]
        total = run.weighting.backward(losses, shared, accelerator.backward)
        if accelerator.sync_gradients:
            _average_across_processes(list(run.weighting.parameters()))
            if config.grad_clip:
                accelerator.clip_grad_norm_([p for p in state.model.parameters()
                                             if p.requires_grad], config.grad_clip)
        run.optimizer.step()
        if accelerator.sync_gradients:
            run.scheduler.step()
        run.optimizer.zero_grad()
    return total.item(), losses


def _run_epoch(run: _Run, state: TrainState) -> float:
    """One pass over the mixture; a history row and ``on_step_end`` per optimiser update."""
    set_train_mode(state.model)
    running = []
    quiet = not (state.config.progress and state.accelerator.is_main_process)
    thawing = any(callback.changes_trainable for callback in run.callbacks)
    for source, batch in tqdm(run.mixture.epoch(state.epoch),
                              total=run.mixture.steps_per_epoch,
                              desc=f"epoch {state.epoch}/{state.config.epochs}",
                              disable=quiet, leave=False):
        if thawing:  # a layer thawed since the last step leaves eval mode
            set_train_mode(state.model)
        batch = model_inputs(run.prefixes[source], state.model, batch)
        done = _update(run, state, batch)
        if done is None:
            continue
        running.append(done[0])
        if state.accelerator.sync_gradients:
            state.step, state.batch, state.losses = state.step + 1, batch, done[1]
            state.history.steps.append({
                "step": state.step, "epoch": state.epoch, "train/loss": done[0],
                **{metric_name("train", t, "loss"): v.item() for t, v in done[1].items()},
                **{f"lr/{g['name']}": g["lr"] for g in run.optimizer.param_groups}})
            for callback in run.callbacks:
                callback.on_step_end(state)
    return float(np.mean(running)) if running else math.nan


def _epoch_record(run: _Run, state: TrainState, train_loss: float) -> dict:
    """The epoch's row: training loss, task weights and metrics on the evaluation split."""
    split = state.config.eval_split
    record: dict[str, object] = {"epoch": state.epoch, "train/loss": train_loss}
    record.update({f"weight/{t}": w for t, w in run.weighting.current().items()})
    for source in run.sources:
        if source.evaluation is None:
            continue
        found = evaluate(state.model, source.evaluation, source.tasks,
                         state.config.batch_size, run.caches[source.name])
        record.update({f"{split}/{name}": value for name, value in found.items()
                       if not name.startswith(f"{MEAN}/")})
    if split is not None:
        record.update(mean_metrics(record, prefix=f"{split}/"))
    return record


def train(model: MultiTaskModel, data: TrainData, config: TrainConfig | None = None,
          callbacks: Sequence[Callback] = ()) -> History:
    """Train ``model`` on ``data`` and return its ``History``; the best epoch is restored.

    ``data``: a ``DatasetDict`` from ``load_sentences`` (rows fully or partly labelled), or
    ``{task: Dataset or DatasetDict}`` with one data set per task, mixed by ``sampling``.
    ``callbacks`` run first at every event, before the built-in ones (conflict probe,
    best model, early stopping, tracker logging).
    """
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise TypeError(f"train(): config must be a TrainConfig, got {type(config).__name__}")
    check_tracker(config)
    sources = sources_of(model, data, config.eval_split, config.tasks)
    _check_metric(model, config)
    if config.probe_epochs and not encoder_is_frozen(model):
        fit_heads_first(model, data, config)
    seed_everything(config.seed)
    state = TrainState(model, config, _accelerator(config), History())
    callbacks = list(callbacks)
    for callback in callbacks:
        callback.on_train_begin(state)
    if trainable_count(model.parameters()) == 0:
        raise ValueError("train(): nothing to train: every parameter of the model is frozen "
                         "(strategy 'all'?). Unfreeze something first, e.g. "
                         "freeze(model, 'backbone') to train only the heads.")
    run = _prepare(model, sources, config, state, list(callbacks))  # built-ins go on a copy
    for callback in run.callbacks[len(callbacks):]:
        callback.on_train_begin(state)
    for state.epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        state.record = _epoch_record(run, state, _run_epoch(run, state))
        state.history.epochs.append(state.record)
        state.history.seconds.append(time.perf_counter() - started)
        for callback in run.callbacks:
            callback.on_epoch_end(state)
        if state.should_stop:
            break
    for callback in run.callbacks:
        callback.on_train_end(state)
    model.eval()
    return state.history
