"""Saving a run's full state every few updates, and continuing from it.

``accelerate``'s ``save_state`` writes the model, the optimiser, every object registered for
checkpointing (the schedule, the loss weighting, this module's ``Progress``) and the random
generators. ``Progress`` adds what accelerate cannot know: where in the epoch the run
stood, how far each batch sampler had drawn at the start of that epoch, the history so
far and the callbacks' own state. A resumed run rebuilds the same batches, skips the
ones already trained on, and continues with the same random stream, so on one CPU it
ends with the same weights as a run that was never interrupted.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

import torch
from accelerate import Accelerator

from ..saving import replace_directory
from .callbacks import Callback, TrainState
from .history import History

STATE_DIR = "state"


def _sampler_state(loader: object) -> object:
    """What decides a loader's next shuffle: the length-grouped sampler's draw count, or
    the random sampler's generator."""
    sampler = getattr(loader, "batch_sampler", None)
    if hasattr(sampler, "draws"):
        return sampler.draws
    generator = getattr(getattr(sampler, "sampler", None), "generator", None)
    return None if generator is None else generator.get_state()


def _restore_sampler(loader: object, saved: object) -> None:
    sampler = getattr(loader, "batch_sampler", None)
    if hasattr(sampler, "draws"):
        sampler.draws = saved
    elif saved is not None:
        sampler.sampler.generator.set_state(saved)


class Progress:
    """The position of a run, for ``accelerator.register_for_checkpointing``."""

    def __init__(self, state: TrainState, loaders: list, callbacks: list[Callback]) -> None:
        self.state, self.loaders, self.callbacks = state, loaders, callbacks
        self.samplers: list = []
        self.index, self.running = 0, []  # steps done in this epoch, their losses

    def epoch_started(self) -> None:
        self.samplers = [_sampler_state(loader) for loader in self.loaders]

    def state_dict(self) -> dict:
        return {"epoch": self.state.epoch, "step": self.state.step, "index": self.index,
                "running": list(self.running), "samplers": self.samplers,
                "history": asdict(self.state.history), "config": asdict(self.state.config),
                "callbacks": [(type(c).__name__, c.state()) for c in self.callbacks
                              if c.state()]}

    def load_state_dict(self, saved: dict) -> None:
        config = asdict(self.state.config)
        differing = sorted(k for k in config if k != "progress" and
                           config[k] != saved["config"].get(k))
        if differing:
            raise ValueError(f"train(): resume_from holds a run with other settings: "
                             f"{differing}; resume with the config it was saved with")
        self.state.epoch, self.state.step = saved["epoch"], saved["step"]
        self.index, self.running = saved["index"], list(saved["running"])
        self.samplers = saved["samplers"]
        self.state.history = History(**saved["history"])
        self._restore_callbacks(saved["callbacks"])
        for loader, kept in zip(self.loaders, self.samplers, strict=True):
            _restore_sampler(loader, kept)


    def _restore_callbacks(self, saved: list[tuple[str, dict]]) -> None:
        """Each saved state back to the next callback of the same class."""
        waiting = list(saved)
        for callback in self.callbacks:
            kept = next((entry for entry in waiting if entry[0] == type(callback).__name__),
                        None)
            if kept is not None:
                waiting.remove(kept)
                callback.restore(kept[1], self.state)
        if waiting:
            raise ValueError(f"train(): the saved run had callbacks this one lacks: "
                             f"{[name for name, _ in waiting]}")


def save_training_state(accelerator: Accelerator, checkpoint_dir: str) -> None:
    """Write the state next to the checkpoints, replacing the last one atomically."""
    target = Path(checkpoint_dir) / STATE_DIR
    staging = target.with_name(f".{STATE_DIR}.saving")
    if accelerator.is_main_process and staging.exists():
        shutil.rmtree(staging)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(staging))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        replace_directory(staging, target)
    accelerator.wait_for_everyone()


def load_training_state(accelerator: Accelerator, resume_from: str) -> None:
    source = Path(resume_from) / STATE_DIR
    if not source.is_dir():
        raise ValueError(f"train(): resume_from {str(resume_from)!r} holds no saved training "
                         f"state ({source} is missing); it is written every save_every "
                         f"updates by TrainConfig(checkpoint_dir=..., save_every=N)")
    accelerator.load_state(str(source))


def skip_done(steps, count: int) -> None:
    """Advance the epoch's iterator past ``count`` steps already trained on. Starting
    a data loader draws a seed from torch's global generator, so the draws are made on a
    copy: the run goes on with the random stream it was saved with."""
    with torch.random.fork_rng(devices=[]):
        for _ in range(count):
            next(steps)
