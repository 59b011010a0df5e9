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

import torch
from accelerate import Accelerator, DistributedDataParallelKwargs
from accelerate.state import AcceleratorState

from ..freezing import trainable_count
from ..multitask import MultiTaskModel
from ..precision import training_precision
from ..runtime import process_state, seed_everything
from ..saving import check_full_precision
from .batching import collate_fn
from .callbacks import BestModel, Callback, EarlyStopping, GradientConflictProbe, TrainState
from .config import TrainConfig
from .frozen_layers import (
    encoder_is_frozen,
    prefix_caches,
    with_rows,
)
from .history import History
from .linear_probe import fit_heads_first
from .metric_names import MEAN, parse_metric
from .mixture import Source, TaskMixture, TrainData, sources_of, training_loader
from .optim import build_scheduler, layerwise_param_groups
from .probes import probe_batches
from .resume import Progress, load_training_state
from .steps import Run, epoch_record, run_epoch
from .summary import EpochSummary
from .tracking import TrackerLogging, check_tracker
from .weighting import (
    make_weighting,
    shared_parameters,
)


def _accelerator(config: TrainConfig) -> Accelerator:
    """An ``Accelerator`` for this run. accelerate keeps one process-wide state; in a single
    process (a notebook) a run with another ``mixed_precision`` resets it instead of
    failing. Under ``accelerate launch`` the launcher's settings win, as they should.
    Heads without a label in a batch get no gradient, so DDP must allow unused parameters.
    Accumulation is counted by the loop (``_run_epoch``), not by accelerate, which would
    sync at the end of whichever loader of a task mixture ends first.
    """
    state, precision = AcceleratorState._shared_state, training_precision(config.mixed_precision)
    if state and process_state().num_processes == 1 and \
            str(state.get("mixed_precision")) != precision:
        AcceleratorState._reset_state()
    return Accelerator(cpu=not torch.accelerator.is_available(), mixed_precision=precision,
                       log_with=config.log_with, project_dir=config.logging_dir,
                       kwargs_handlers=[DistributedDataParallelKwargs(
                           find_unused_parameters=True)])


def _check_metric(model: MultiTaskModel, config: TrainConfig) -> None:
    task, _ = parse_metric(config.metric, "TrainConfig")
    if task != MEAN and task not in model.task_names:
        raise ValueError(f"TrainConfig: metric {config.metric!r} names no task of the model; "
                         f"tasks are {model.task_names} (or {MEAN!r})")


def _check_quantized(model: MultiTaskModel, config: TrainConfig,
                     callbacks: Sequence[Callback]) -> None:
    """A quantized encoder cannot be saved, and int8 layers pass no gradient back: refuse
    at the door what would otherwise fail after an epoch of work, with the fix."""
    if model.encoder.quantize is None:
        return
    if config.checkpoint_dir:
        check_full_precision(model.encoder, "train(checkpoint_dir=...)", "train")
    unfreezes = any(callback.changes_trainable for callback in callbacks)
    if model.encoder.quantize == "int8" and (unfreezes or not encoder_is_frozen(model)):
        raise ValueError(f"train(): the encoder is int8, whose layers pass no gradient, but "
                         f"{'a callback unfreezes it' if unfreezes else 'it is trainable'}; "
                         f"freeze it (freeze(model, 'backbone')) to train the heads alone, or "
                         f"train the fp32 model and quantize after")


def _prepare(model: MultiTaskModel, sources: list[Source], config: TrainConfig,
             state: TrainState, callbacks: list[Callback]) -> Run:
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
    if config.epoch_summary:
        callbacks.append(EpochSummary())
    if config.log_with:  # last: it logs what the other callbacks added to the rows
        callbacks.append(TrackerLogging())
    weighting = make_weighting(config.loss_weighting, model.task_names, config.loss_weights,
                               config.seed).to(accelerator.device)
    if weighting.needs_every_task and not shared_parameters(model) and not changes_trainable:
        raise ValueError(f"train(): loss_weighting={config.loss_weighting!r} projects the "
                         f"gradients of shared parameters, but nothing shared is trainable "
                         f"(encoder frozen, no projection): it would be a plain sum; use "
                         f"'fixed'")
    groups, _ = layerwise_param_groups(model, config.lr, config.layer_decay, config.head_lr,
                                       config.weight_decay, extra=weighting.named_parameters(),
                                       layer_lrs=config.layer_lrs)
    # fused: one kernel over all tensors; the step took 0.02 s instead of 0.09 s on 2 cores
    optimizer = torch.optim.AdamW(groups, fused=True)
    net, optimizer, *loaders = accelerator.prepare(model, optimizer, *loaders)
    mixture = TaskMixture(loaders, config.sampling, config.temperature, config.seed,
                          joint=weighting.needs_every_task)
    updates = math.ceil(mixture.steps_per_epoch / config.grad_accumulation) * config.epochs
    # Not prepared: accelerate would step it once per process; we step it once per update.
    scheduler = build_scheduler(optimizer, config.schedule, updates,
                                int(config.warmup_ratio * updates))
    return Run(net, optimizer, scheduler, mixture, weighting, sources, eval_caches, prefixes,
                callbacks)


def train(model: MultiTaskModel, data: TrainData, config: TrainConfig | None = None,
          callbacks: Sequence[Callback] = (), resume_from: str | None = None) -> History:
    """Train ``model`` on ``data`` and return its ``History``; the best epoch is restored.

    ``data``: a ``DatasetDict`` from ``load_sentences`` (rows fully or partly labelled), or
    ``{task: Dataset or DatasetDict}`` with one data set per task, mixed by ``sampling``.
    ``callbacks`` run first at every event, before the built-in ones (conflict probe,
    best model, early stopping, tracker logging). ``resume_from``: the ``checkpoint_dir``
    of an interrupted run with the same config and ``save_every``; it goes on from its
    last saved update (the heads-first phase is not repeated).
    """
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise TypeError(f"train(): config must be a TrainConfig, got {type(config).__name__}")
    check_tracker(config)
    sources = sources_of(model, data, config.eval_split, config.tasks)
    _check_metric(model, config)
    _check_quantized(model, config, callbacks)
    if config.probe_epochs and not encoder_is_frozen(model) and resume_from is None:
        fit_heads_first(model, data, config, train)
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
    run.progress = Progress(state, run.mixture.loaders, run.callbacks)
    state.accelerator.register_for_checkpointing(run.scheduler, run.weighting, run.progress)
    if resume_from is not None:
        load_training_state(state.accelerator, resume_from)
    first_epoch = max(state.epoch, 1)  # a resumed run goes on in the epoch it was saved in
    for state.epoch in range(first_epoch, config.epochs + 1):
        started = time.perf_counter()
        state.record = epoch_record(run, state, run_epoch(run, state))
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
