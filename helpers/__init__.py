"""sentence-mtl helpers: everything the notebooks import.

Importing the package changes nothing process-wide; notebooks and tests opt in with
``notebook_setup()`` (quiet libraries, fixed threads, seeds). ``helpers.train`` is the
command-line module (``python -m helpers.train``); the training function is
``helpers.training.train``.
"""

from . import (
    calibration,
    data,
    dimensions,
    evidence,
    experiments,
    mistakes,
    plots,
    precision,
    seeded,
    similarity,
    training,
    widgets,
)
from .data import SENTENCE_TASKS, TaskSpec, load_sentences
from .encoder import SentenceEncoder
from .freezing import GradualUnfreezer, freeze, trainable_report
from .loading import default_model_path
from .multitask import MultiTaskModel
from .pooling import POOLING_MODES
from .runtime import notebook_setup, seed_everything
from .training import History, TrainConfig, evaluate
from .training.optim import layerwise_param_groups

__all__ = [
    "POOLING_MODES",
    "SENTENCE_TASKS",
    "GradualUnfreezer",
    "History",
    "MultiTaskModel",
    "SentenceEncoder",
    "TaskSpec",
    "TrainConfig",
    "calibration",
    "data",
    "dimensions",
    "default_model_path",
    "evaluate",
    "evidence",
    "experiments",
    "freeze",
    "layerwise_param_groups",
    "load_sentences",
    "mistakes",
    "notebook_setup",
    "plots",
    "precision",
    "seed_everything",
    "seeded",
    "similarity",
    "training",
    "trainable_report",
    "widgets",
]
