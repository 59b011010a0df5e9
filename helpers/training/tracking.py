"""Experiment tracking (TensorBoard) through accelerate's trackers, as one callback.

The ``History`` a run returns is gone when the notebook closes; a tracker writes every
step's losses and rates and every epoch's metrics to disk as they happen, so a long or
crashed run can be watched and compared with ``tensorboard --logdir``. accelerate owns the
writers, so only the main process writes, under ``accelerate launch`` too.
"""

from __future__ import annotations

import math
from dataclasses import asdict

from accelerate.utils import is_tensorboard_available

from .callbacks import Callback, TrainState
from .config import TrainConfig

PROJECT = "sentence-mtl"  # the run's folder under logging_dir


def check_tracker(config: TrainConfig) -> None:
    """Fail before any work: accelerate would drop a missing tracker with a debug message."""
    if config.log_with == "tensorboard" and not is_tensorboard_available():
        raise ValueError("TrainConfig(log_with='tensorboard') needs the tensorboard package: "
                         "pip install 'sentence-mtl-helpers[tensorboard]'")


def scalars(row: dict) -> dict[str, float]:
    """The finite numbers of a history row; flags (bool), text and NaN are not curves."""
    return {key: value for key, value in row.items()
            if isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value)}


class TrackerLogging(Callback):
    """Every step's row and every epoch's record, at the optimiser step they belong to.

    An epoch value whose name a step also logs (``train/loss``: the epoch's mean) goes to
    ``epoch/NAME``, so each tag holds one series."""

    def __init__(self) -> None:
        self.step_tags: set[str] = set()

    def on_train_begin(self, state: TrainState) -> None:
        settings = {key: value for key, value in asdict(state.config).items()
                    if isinstance(value, int | float | str | bool)}
        state.accelerator.init_trackers(PROJECT, config=settings)

    def on_step_end(self, state: TrainState) -> None:
        row = scalars({k: v for k, v in state.history.steps[-1].items()
                       if k not in ("step", "epoch")})
        self.step_tags.update(row)
        state.accelerator.log(row, step=state.step)

    def on_epoch_end(self, state: TrainState) -> None:
        record = scalars({k: v for k, v in state.record.items() if k != "epoch"})
        state.accelerator.log({f"epoch/{k}" if k in self.step_tags else k: v
                               for k, v in record.items()}, step=state.step)

    def on_train_end(self, state: TrainState) -> None:
        # Not accelerator.end_training(): it also destroys the process group, which a
        # script under accelerate launch still needs after train() returns.
        for tracker in state.accelerator.trackers:
            tracker.finish()
