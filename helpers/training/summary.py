"""One console line per epoch: training loss per task, validation metrics, time.

Progress bars say how far a run is; this line says how well it goes, and stays on the
screen after the bars are gone. ``tqdm.write`` puts it above any open bar, on stderr
with the bars (stdout keeps the command's result). On in the command line, opt-in in
the library (``TrainConfig(epoch_summary=True)``); only the main process writes under
``accelerate launch``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

from tqdm.auto import tqdm

from .callbacks import Callback, TrainState
from .metric_names import MEAN, split_name

SHORT_KINDS = {"accuracy": "acc", "macro_f1": "F1", "loss": "loss"}


def train_losses(steps: list[dict], epoch: int) -> dict[str, float]:
    """Each task's mean training loss over the epoch's steps (a step may lack a task)."""
    sums: dict[str, list[float]] = {}
    for row in steps:
        if row.get("epoch") != epoch:
            continue
        for name, value in row.items():
            parts = split_name(name)
            if parts and parts[0] == "train" and parts[2] == "loss" and math.isfinite(value):
                sums.setdefault(parts[1], []).append(value)
    return {task: sum(values) / len(values) for task, values in sums.items()}


def summary_line(record: dict, losses: dict[str, float], epochs: int, seconds: float,
                 split: str | None) -> str:
    """``epoch 2/3  31.0 s | train loss topic 0.412 sentiment 0.655 | validation topic
    acc 0.912 F1 0.905 …``: tasks in a fixed order, metrics as the record names them."""
    parts = [f"epoch {record['epoch']}/{epochs}  {seconds:.1f} s",
             "train loss " + " ".join(f"{task} {loss:.3f}" for task, loss in losses.items())]
    metrics: dict[str, list[str]] = {}
    for name, value in record.items():
        fields = split_name(name)
        if split is None or fields is None or fields[0] != split or fields[1] == MEAN:
            continue
        metrics.setdefault(fields[1], []).append(f"{SHORT_KINDS[fields[2]]} {value:.3f}")
    if metrics:
        parts.append(f"{split} " + " · ".join(f"{task} {' '.join(values)}"
                                               for task, values in metrics.items()))
    return " | ".join(parts)


class EpochSummary(Callback):
    """Writes ``summary_line`` once per epoch, from the main process only."""

    def __init__(self, write: Callable[[str], None] | None = None) -> None:
        self.write = write or (lambda line: tqdm.write(line, file=sys.stderr))

    def on_epoch_end(self, state: TrainState) -> None:
        if not state.accelerator.is_main_process:
            return
        losses = train_losses(state.history.steps, state.epoch)
        self.write(summary_line(state.record, losses, state.config.epochs,
                                state.history.seconds[-1], state.config.eval_split))
