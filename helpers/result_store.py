"""Seeded experiments kept on disk, so a notebook opened again (or re-run by CI) reads the
runs it already made instead of training them again.

A sweep of 5 seeds × many arms takes half an hour on 2 cores; its result is a few MB of
logits and scores. ``run_seeded(..., store=path)`` writes them to ``path`` and, next time,
reads them back when the *plan* is the same: the runs (strategy, config, the code and
settings of the function that builds the starting model), seeds, split, the data, the STS
pairs, the library versions and the source of every module that trains or scores a model.
Any change to one of these trains again and rewrites the store, so a stored number is
never from another recipe. Models are not stored (90 MB each): ``results.models[run]``
retrains seed 0 of that run on first use (one thread, so it is the same model).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import inspect
import os
import platform
from collections.abc import Callable, Iterator, Mapping
from dataclasses import is_dataclass
from functools import partial
from pathlib import Path

import joblib
import torch
import transformers

# Modules that only show or compare results: editing them keeps the stored runs valid.
# (export.py and default_model.py turn a trained model into files, and quantize.py makes
# int8/bf16 copies for inference; no sweep calls them: every stored run is fp32.)
DISPLAY_ONLY = {"plots", "widgets.py", "cli.py", "modelcard.py", "datacard.py", "mistakes.py",
                "calibration.py", "evidence.py", "seeded_results.py", "result_store.py",
                "__main__.py", "train.py", "baselines.py", "export.py", "default_model.py",
                "quantize.py"}
SIMPLE = (int, float, str, bool, type(None), tuple, list, frozenset)


@functools.cache
def _training_code() -> str:
    """sha256 over the source of every helpers module that trains or scores a model, read
    once per process: the code this process runs, even if a file is edited meanwhile."""
    root = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if relative.parts[0] not in DISPLAY_ONLY:
            digest.update(str(relative).encode() + path.read_bytes())
    return digest.hexdigest()


def describe_callable(function: Callable, depth: int = 2) -> str:
    """What a model-building function is: its source, and the simple settings, notebook
    functions and models it reads (``HEAD_EPOCHS``, a ``TrainConfig``, a helper it calls,
    a trained model it copies: by its weights); data sets and modules by type only (the
    data is fingerprinted on its own)."""
    if isinstance(function, partial):
        return (f"partial({describe_callable(function.func, depth)}, {function.args!r}, "
                f"{sorted(function.keywords.items())!r})")
    inner = getattr(function, "make_model", None)  # a SharedStart
    if inner is not None and not inspect.isfunction(function):
        return f"{type(function).__name__}({describe_callable(inner, depth)})"
    code = getattr(function, "__code__", None)
    if code is None:
        return f"{type(function).__module__}.{getattr(function, '__qualname__', '?')}"
    try:
        parts = [inspect.getsource(function)]
    except (OSError, TypeError):
        parts = [function.__qualname__, _code_text(code)]
    for name in sorted(_names_read(code) & set(function.__globals__)):
        parts.append(f"{name}={_describe_value(function.__globals__[name], depth)}")
    return "|".join(parts)


def _code_text(code) -> str:
    """Bytecode and constants, nested code included (never a repr with an address)."""
    constants = [_code_text(c) if inspect.iscode(c) else repr(c) for c in code.co_consts]
    return code.co_code.hex() + repr(constants)


def _names_read(code) -> set[str]:
    names = set(code.co_names)
    for constant in code.co_consts:
        if inspect.iscode(constant):
            names |= _names_read(constant)
    return names


def _describe_value(value: object, depth: int) -> str:
    if isinstance(value, SIMPLE) or (is_dataclass(value) and not isinstance(value, type)):
        return repr(value)
    if isinstance(value, torch.nn.Module):  # a trained model a builder copies: its weights
        digest = hashlib.sha256()
        for name, tensor in value.state_dict().items():
            digest.update(name.encode() + tensor.detach().cpu().contiguous().numpy().tobytes())
        return f"{type(value).__name__}:{digest.hexdigest()}"
    if inspect.isfunction(value) and value.__module__ == "__main__" and depth > 0:
        return describe_callable(value, depth - 1)
    return type(value).__name__


def data_fingerprint(data: Mapping[str, object]) -> dict[str, str]:
    """sha256 per split of a ``DatasetDict`` (or per frame): its rows and columns."""
    import pandas as pd

    frames = {name: part if isinstance(part, pd.DataFrame) else part.to_pandas()
              for name, part in data.items()}
    return {name: hashlib.sha256(pd.util.hash_pandas_object(frame).values.tobytes()
                                 + repr(list(frame.columns)).encode()).hexdigest()
            for name, frame in frames.items()}


def plan_key(plan: Mapping[str, object]) -> str:
    """sha256 of the plan (its repr) with the training code and the library versions."""
    text = repr(sorted((name, repr(part)) for name, part in plan.items()))
    text += _training_code() + torch.__version__ + transformers.__version__
    return hashlib.sha256(text.encode()).hexdigest()


def _stored(path: Path) -> dict:
    try:
        return joblib.load(path)
    except Exception as error:
        raise ValueError(f"{path}: not a readable results store ({error}); delete it and "
                         f"run again to rebuild it") from error


def load(path: str | os.PathLike, key: str) -> dict | None:
    """The stored payload when ``path`` holds this plan's results, else None; a file that
    cannot be read is an error naming it (delete it to train again)."""
    path = Path(path)
    if not path.exists():
        return None
    stored = _stored(path)
    return stored["payload"] if stored.get("key") == key else None


def read(path: str | os.PathLike) -> object:
    """What ``path`` holds, whatever plan made it: another notebook's stored sweep, shown
    beside this one's (``load`` is the check that a store is current; ``make test``
    re-executes the notebooks in order, so a committed store is the current one)."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no results store; run the notebook that writes it first")
    return _stored(path)["payload"]


def save(path: str | os.PathLike, key: str, payload: dict) -> None:
    """Write whole or not at all (temporary file, fsync, rename), with where it was made."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    made = {"when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "cpu": torch.backends.cpu.get_cpu_capability(), "machine": platform.machine(),
            "torch": torch.__version__}
    partial_file = path.with_suffix(f".{os.getpid()}.partial")
    joblib.dump({"key": key, "made": made, "payload": payload}, partial_file, compress=3)
    with open(partial_file, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial_file, path)


class LazyModels(Mapping):
    """Seed 0's model of each run: kept ones as they are, the others rebuilt on first use
    by ``rebuild(run)`` (a stored sweep keeps no models)."""

    def __init__(self, kept: Mapping[str, object], runs: list[str],
                 rebuild: Callable[[str], object]) -> None:
        self._models, self._runs, self._rebuild = dict(kept), runs, rebuild

    def __getitem__(self, run: str) -> object:
        if run not in self._runs:
            raise KeyError(f"no run {run!r}; runs are {self._runs}")
        if run not in self._models:
            self._models[run] = self._rebuild(run)
        return self._models[run]

    def __iter__(self) -> Iterator[str]:
        return iter(self._runs)

    def __len__(self) -> int:
        return len(self._runs)
