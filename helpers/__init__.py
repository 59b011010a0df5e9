"""sentence-mtl helpers: everything the notebooks import.

Importing the package changes nothing process-wide; notebooks and tests opt in with
``notebook_setup()`` (quiet libraries, fixed threads, seeds). ``helpers.train`` is the
command-line module (``python -m helpers.train``); the training function is
``helpers.training.train``.

Names load on first use (PEP 562), so ``import helpers`` and the command line pay only
for what they touch: ``sentence-mtl predict`` never imports matplotlib or ipywidgets.
``weighting``, ``optim`` and ``batching`` live in ``helpers.training`` and stay
importable from here under their old names.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

_MODULES = ("calibration", "data", "dimensions", "evidence", "experiments", "mistakes",
            "plots", "precision", "seeded", "similarity", "training", "widgets")
_MOVED = {name: f"training.{name}" for name in ("batching", "optim", "weighting")}
_NAMES = {
    "POOLING_MODES": "pooling", "SENTENCE_TASKS": "tasks", "TaskSpec": "tasks",
    "load_sentences": "data", "SentenceEncoder": "encoder", "GradualUnfreezer": "freezing",
    "freeze": "freezing", "trainable_report": "freezing", "default_model_path": "loading",
    "top_block_feed_forward": "freeze_patterns",
    "MultiTaskModel": "multitask", "notebook_setup": "runtime", "seed_everything": "runtime",
    "History": "training", "TrainConfig": "training", "evaluate": "training",
    "layerwise_param_groups": "training.optim",
}

__all__ = sorted([*_MODULES, *_NAMES])


def __getattr__(name: str) -> Any:
    """Import a submodule or a public name the first time it is asked for."""
    if name in _MODULES or name in _MOVED:
        module: ModuleType = importlib.import_module(f".{_MOVED.get(name, name)}", __name__)
        globals()[name] = module
        return module
    if name in _NAMES:
        value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_MOVED})
