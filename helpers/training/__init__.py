"""Multi-task training: config, task mixture, evaluation, callbacks and the loop.

``train(model, data, config)`` is the one entry point the notebooks use; each module
below has one job (see its docstring).
"""

from .callbacks import (
    BestModel,
    Callback,
    EarlyStopping,
    GradientConflictProbe,
    GradualUnfreezing,
    TrainState,
    gradient_conflicts,
)
from .config import TrainConfig
from .evaluation import (
    METRIC_KINDS,
    confusion,
    evaluate,
    metric_name,
    predict_labels,
    split_metrics,
    task_metrics,
)
from .frozen_layers import encoder_is_frozen
from .history import History
from .loop import train
from .mixture import SAMPLINGS, source_schedule

__all__ = [
    "METRIC_KINDS", "SAMPLINGS", "BestModel", "Callback", "EarlyStopping",
    "GradientConflictProbe", "GradualUnfreezing", "History", "TrainConfig", "TrainState",
    "confusion", "encoder_is_frozen", "evaluate", "gradient_conflicts", "metric_name",
    "predict_labels", "source_schedule", "split_metrics", "task_metrics", "train",
]
