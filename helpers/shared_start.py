"""One starting model per seed, built once and shared by every run of a sweep."""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path

import torch

from .multitask import MultiTaskModel

ModelMaker = Callable[[int], MultiTaskModel]


class SharedStart:
    """``make_model`` run once per seed, a fresh copy handed out on every call: runs that
    start from the same model (heads fitted first) share it instead of fitting it again.

    Built models are kept on disk (a temporary folder, removed with this object), so worker
    processes read them there instead of receiving every seed's model with each job.
    Training reseeds itself, so the copies train exactly as freshly built models would.
    """

    def __init__(self, make_model: ModelMaker) -> None:
        self.make_model = make_model
        self.folder = Path(tempfile.mkdtemp(prefix="sentence-mtl-starts-"))
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.folder, ignore_errors=True)

    def __getstate__(self) -> dict:  # a worker's copy reads the folder, never removes it
        return {"make_model": self.make_model, "folder": self.folder}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    def __call__(self, seed: int) -> MultiTaskModel:
        path = self.folder / f"seed-{seed}.pt"
        if path.exists():
            return torch.load(path, weights_only=False)
        model = self.make_model(seed)
        partial_file = path.with_suffix(f".{os.getpid()}.partial")
        torch.save(model, partial_file)
        os.replace(partial_file, path)  # whole or absent, also with two writers
        return model


def once_per_seed(make_model: ModelMaker) -> SharedStart:
    """``make_model`` built once per seed and shared by every run (see ``SharedStart``)."""
    return SharedStart(make_model)
