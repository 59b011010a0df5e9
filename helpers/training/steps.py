"""One epoch of ``train()``: micro-batches, backward, updates, and the epoch's record.

Accumulation is counted here rather than by accelerate: with a task mixture accelerate
would sync at the end of whichever loader ends first, so the number of updates would no
longer be the one the learning-rate schedule was built for. An update holds
``grad_accumulation`` micro-batches (fewer at the end of an epoch), each loss divided by
that count, and the schedule steps once per update.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from .callbacks import Callback, TrainState
from .evaluation import evaluate, forward_batch, mean_metrics
from .frozen_layers import PrefixCache, model_inputs, set_train_mode
from .metric_names import MEAN, metric_name
from .mixture import Source, TaskMixture
from .resume import Progress, save_training_state, skip_done
from .weighting import Weighting, mean_across_processes, processes, shared_parameters, task_losses


@dataclass
class Run:
    """The prepared pieces one run needs between steps."""

    net: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    mixture: TaskMixture
    weighting: Weighting
    sources: list[Source]
    caches: dict[str, torch.Tensor | None]
    prefixes: list[PrefixCache | None]
    callbacks: list[Callback]
    progress: Progress | None = None  # set once the callbacks are known


def _average_across_processes(parameters: Sequence[torch.nn.Parameter]) -> None:
    """Gradients that DDP does not average (learned loss weights; everything after a
    weighting's backwards by hand). A gradient some process lacks counts as zeros there,
    as in DDP; one that no process has stays None, so AdamW's decay leaves it alone."""
    if processes() == 1:
        return
    present = torch.tensor([float(p.grad is not None) for p in parameters])
    mean_across_processes(present)
    for parameter, anywhere in zip(parameters, present.tolist(), strict=True):
        if anywhere:
            if parameter.grad is None:
                parameter.grad = torch.zeros_like(parameter)
            mean_across_processes(parameter.grad)


def _forward(run: Run, state: TrainState, step: list[tuple[int, dict]]
             ) -> tuple[dict, torch.Tensor]:
    """The step's task losses (one batch per source in it), under autocast; and a zero
    that reaches every trained head, to backpropagate when no row is labelled (so every
    process of a data-parallel run takes part in the backward). A head its run does not
    train gets no gradient, not a zero one, which AdamW's weight decay would still move."""
    losses, zero = {}, 0.0
    with state.accelerator.autocast():
        for source, batch in step:
            logits = forward_batch(run.net, model_inputs(run.prefixes[source], state.model,
                                                         batch))
            losses.update(task_losses(logits, batch["labels"]))
            zero = zero + sum(logits[task].sum() for task in batch["labels"]
                              if task in logits) * 0.0
    return losses, zero


def _backward(run: Run, state: TrainState, step: list, divisor: int, sync: bool
              ) -> tuple[float, dict] | None:
    """Losses, then the weighting's backward outside autocast (as PyTorch recommends), each
    loss divided by the micro-batches of this update. Gradients sync across processes on
    the update's last micro-batch, or by hand when a weighting needs several backwards.
    DDP decides at the forward whether the backward syncs, so the forward runs in the
    same context; every process reaches the sync by hand, an unlabelled step too."""
    accelerator = state.accelerator
    by_hand = run.weighting.backward_passes > 1
    with nullcontext() if sync and not by_hand else accelerator.no_sync(run.net):
        losses, zero = _forward(run, state, step)

        def backward(loss: torch.Tensor, **options) -> None:
            accelerator.backward(loss / divisor, **options)

        if losses:
            total = run.weighting.backward(losses, shared_parameters(state.model), backward)
        else:
            backward(zero)
    if sync and by_hand:
        _average_across_processes([p for p in state.model.parameters() if p.requires_grad])
    return (float(total.detach()), losses) if losses else None


def _step(run: Run, state: TrainState) -> None:
    """Clip, then the optimiser and (unless the fp16 scaler skipped it) the schedule."""
    accelerator, config = state.accelerator, state.config
    _average_across_processes(list(run.weighting.parameters()))
    if config.grad_clip:
        accelerator.clip_grad_norm_([p for p in state.model.parameters() if p.requires_grad],
                                    config.grad_clip)
    run.optimizer.step()
    if not accelerator.optimizer_step_was_skipped:
        run.scheduler.step()
    run.optimizer.zero_grad()


def run_epoch(run: Run, state: TrainState) -> float:
    """One pass over the mixture, ``grad_accumulation`` micro-batches per update (fewer in
    an epoch's last one); a history row and ``on_step_end`` per update, and the full
    state saved every ``save_every`` updates. A resumed run skips the steps it has done."""
    set_train_mode(state.model)
    config, progress = state.config, run.progress
    steps, every, done_before = run.mixture.steps_per_epoch, config.grad_accumulation, \
        progress.index
    if not done_before:
        progress.epoch_started()
        progress.running = []
    batches = run.mixture.epoch(state.epoch)
    skip_done(batches, done_before)
    quiet = not (config.progress and state.accelerator.is_main_process)
    thawing = any(callback.changes_trainable for callback in run.callbacks)
    for index, step in enumerate(tqdm(batches, total=steps, initial=done_before, leave=False,
                                      desc=f"epoch {state.epoch}/{config.epochs}",
                                      disable=quiet), start=done_before):
        if thawing:  # a layer thawed since the last step leaves eval mode
            set_train_mode(state.model)
        first = index - index % every
        sync = index + 1 == min(first + every, steps)
        done = _backward(run, state, step, min(every, steps - first), sync)
        if done is not None:
            progress.running.append(done[0])
            state.batch, state.losses = step[-1][1], done[1]
        if sync:
            _update(run, state, done)
            progress.index = index + 1
            if config.save_every and state.step % config.save_every == 0:
                save_training_state(state.accelerator, config.checkpoint_dir)
    progress.index = 0
    return float(np.mean(progress.running)) if progress.running else math.nan


def _update(run: Run, state: TrainState, done: tuple[float, dict] | None) -> None:
    """The optimiser step, its history row, then the callbacks' ``on_step_end``."""
    _step(run, state)
    state.step += 1
    state.history.steps.append({
        "step": state.step, "epoch": state.epoch,
        **({"train/loss": done[0], **{metric_name("train", t, "loss"): v.item()
                                     for t, v in done[1].items()}} if done else {}),
        **{f"lr/{g['name']}": g["lr"] for g in run.optimizer.param_groups}})
    for callback in run.callbacks:
        callback.on_step_end(state)


def epoch_record(run: Run, state: TrainState, train_loss: float) -> dict:
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
