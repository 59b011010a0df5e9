"""Multi-task training: config, task mixture, evaluation, callbacks and the loop.

``train(model, data, config)`` is the one entry point the notebooks use; each module
below has one job (see its docstring). Names load on first use (PEP 562): the command
line reads ``TrainConfig`` without importing the loop, accelerate or the callbacks.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "callbacks": ("BestModel", "Callback", "EarlyStopping", "GradientConflictProbe",
                  "GradualUnfreezing", "TrainState", "gradient_conflicts"),
    "config": ("SAMPLINGS", "TrainConfig"),
    "evaluation": ("confusion", "evaluate", "predict_labels", "split_metrics",
                   "task_metrics"),
    "metric_names": ("METRIC_KINDS", "metric_name"),
    "frozen_layers": ("encoder_is_frozen",),
    "history": ("History",),
    "loop": ("train",),
    "mixture": ("source_schedule",),
}
_MODULE_OF = {name: module for module, names in _NAMES.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` the first time it is asked for."""
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
