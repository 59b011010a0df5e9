"""``TrainConfig``: every setting of a run, each checked when the config is built.

A typo is an error here, never a silent no-op later: an unknown metric lists the metric
names, early stopping without an evaluation split is refused, and so on. Checks that
need the model or the data (does the metric's task exist? is ``eval_split`` a split?)
run at the start of ``train``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from ..precision import TRAINING_PRECISIONS
from ..validation import check_choice, check_positive_int
from .metric_names import parse_metric
from .optim import SCHEDULES, check_layer_lrs
from .weighting import WEIGHTINGS

TRACKERS = ("tensorboard",)
SAMPLINGS = ("proportional", "round_robin", "temperature")  # how sources share the steps
BATCHINGS = ("grouped", "random")


@dataclass
class TrainConfig:
    """Everything that shapes a run; saved next to checkpoints for the record."""

    epochs: int = 3
    batch_size: int = 32
    batching: str = "grouped"        # grouped (similar token counts: less padding) | random
    # Defaults from the seeded sweep in the README (benchmarks/defaults_sweep.py).
    lr: float = 1e-4                 # the top used encoder layer; layer k: lr * decay**(T-k)
    layer_decay: float = 1.0         # 1.0 = one flat rate for the whole encoder
    head_lr: float | None = 1e-3     # None = lr
    # Every rate by name instead of lr/layer_decay/head_lr (which must then stay at their
    # defaults): {"embeddings": 1e-5, "1-3": 3e-5, "4-6": 1e-4, "heads": 1e-3}; blocks
    # "K" or "A-B" (1-based); "heads" also rates the projection, adapters and loss weights.
    layer_lrs: dict[str, float] | None = None
    probe_epochs: int = 30           # heads alone on cached vectors first (LP-FT); 0 = off
    probe_lr: float = 1e-2           # the heads' rate during those epochs
    weight_decay: float = 0.01
    schedule: str = "linear"         # linear | cosine | constant (all after warm-up)
    warmup_ratio: float = 0.1
    sampling: str = "proportional"   # for one data set per task
    temperature: float = 2.0
    loss_weighting: str = "fixed"    # fixed | uncertainty | pcgrad
    loss_weights: dict[str, float] | None = None  # fixed weights; None = equal
    grad_clip: float | None = 1.0
    grad_accumulation: int = 1
    mixed_precision: str = "no"      # no | bf16 | fp16 | auto (bf16 where native)
    seed: int = 0
    eval_split: str | None = "validation"  # None = no evaluation during training
    metric: str = "mean/accuracy"    # TASK/KIND for best epoch and early stopping
    tasks: tuple[str, ...] | None = None  # train only these tasks' losses; None = all labelled
    patience: int | None = None      # epochs without improvement before stopping
    checkpoint_dir: str | None = None  # the best model goes to DIR/best
    save_every: int | None = None    # full state to DIR/state every N updates, to resume
    log_with: str | None = None      # "tensorboard": step losses and rates, epoch metrics
    logging_dir: str | None = None   # where log_with writes (tensorboard --logdir DIR)
    cache_frozen_encoder: bool = True
    grad_conflict: bool = True
    progress: bool = True
    epoch_summary: bool = False      # one console line per epoch (on in the command line)

    def __post_init__(self) -> None:
        where = "TrainConfig"
        for name in ("epochs", "batch_size", "grad_accumulation"):
            check_positive_int(getattr(self, name), name, where)
        for name in ("patience", "save_every"):
            if getattr(self, name) is not None:
                check_positive_int(getattr(self, name), name, where)
        if self.save_every is not None and not self.checkpoint_dir:
            raise ValueError(f"{where}: save_every={self.save_every} saves the training state "
                             f"under checkpoint_dir, which is not set")
        if isinstance(self.probe_epochs, bool) or not isinstance(self.probe_epochs, int) \
                or self.probe_epochs < 0:
            raise ValueError(f"{where}: probe_epochs must be an int >= 0, "
                             f"got {self.probe_epochs!r}")
        for name in ("cache_frozen_encoder", "grad_conflict", "progress", "epoch_summary"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{where}: {name} must be True or False, "
                                f"got {getattr(self, name)!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise TypeError(f"{where}: seed must be an int, got {self.seed!r}")
        check_choice(self.sampling, SAMPLINGS, "sampling", where)
        check_choice(self.batching, BATCHINGS, "batching", where)
        check_choice(self.schedule, SCHEDULES, "schedule", where)
        check_choice(self.mixed_precision, TRAINING_PRECISIONS, "mixed_precision", where)
        check_choice(self.loss_weighting, WEIGHTINGS, "loss_weighting", where)
        self._check_numbers(where)
        self._check_layer_lrs(where)
        parse_metric(self.metric, where)
        if self.tasks is not None:
            if isinstance(self.tasks, str) or not self.tasks or \
                    not all(isinstance(name, str) for name in self.tasks):
                raise ValueError(f"{where}: tasks must be a non-empty list of task names "
                                 f"(or None for all), got {self.tasks!r}")
            self.tasks = tuple(self.tasks)
        if self.loss_weights is not None and self.loss_weighting != "fixed":
            raise ValueError(f"{where}: loss_weights apply to loss_weighting='fixed' only, "
                             f"not {self.loss_weighting!r}")
        self._check_tracking(where)
        if self.eval_split is None and (self.patience is not None or self.checkpoint_dir):
            raise ValueError(f"{where}: patience and checkpoint_dir choose epochs by "
                             f"{self.metric!r} on an evaluation split, but eval_split is None")

    def _check_tracking(self, where: str) -> None:
        """A tracker needs a directory, and a directory without a tracker is a typo."""
        if self.log_with is None:
            if self.logging_dir is not None:
                raise ValueError(f"{where}: logging_dir {self.logging_dir!r} is set but log_with "
                                 f"is None; set log_with='tensorboard' to log there")
            return
        check_choice(self.log_with, TRACKERS, "log_with", where)
        if not self.logging_dir:
            raise ValueError(f"{where}: log_with={self.log_with!r} needs logging_dir, "
                             f"the directory to write its logs to")

    def _check_layer_lrs(self, where: str) -> None:
        """``layer_lrs`` replaces lr·layer_decay^k and head_lr, so setting both is a
        conflict. A dataclass cannot tell ``lr=1e-4`` given from the default left alone:
        a value equal to the field's default counts as not set."""
        if self.layer_lrs is None:
            return
        check_layer_lrs(self.layer_lrs, where)
        self.layer_lrs = dict(self.layer_lrs)  # a copy: later edits to the caller's skip checks
        defaults = {f.name: f.default for f in fields(self)}
        for name in ("lr", "layer_decay", "head_lr"):
            if getattr(self, name) != defaults[name]:
                raise ValueError(f"{where}: layer_lrs sets every rate, so {name}="
                                 f"{getattr(self, name)!r} would be ignored; leave {name} at "
                                 f"its default {defaults[name]!r} or drop layer_lrs")

    def _check_numbers(self, where: str) -> None:
        """Rates positive, ratios in range; NaN fails every comparison, so it fails here."""
        positive = {"lr": self.lr, "temperature": self.temperature, "probe_lr": self.probe_lr}
        if self.head_lr is not None:
            positive["head_lr"] = self.head_lr
        if self.grad_clip is not None:
            positive["grad_clip"] = self.grad_clip
        for name, value in positive.items():
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{where}: {name} must be a number > 0, got {value!r}")
        if not 0 < self.layer_decay <= 1:
            raise ValueError(f"{where}: layer_decay must be in (0, 1], got {self.layer_decay}")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"{where}: warmup_ratio must be in [0, 1), "
                             f"got {self.warmup_ratio}")
        if not 0 <= self.weight_decay < 1:
            raise ValueError(f"{where}: weight_decay must be in [0, 1), "
                             f"got {self.weight_decay}")
