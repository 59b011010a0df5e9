"""sentence-mtl helpers: everything the notebooks import.

``helpers.train`` is the command-line module (``python -m helpers.train``); the training
function is ``helpers.training.train``.

Importing the package silences library progress bars and info logs once, so notebook
stderr stays empty and nbval compares only what matters.
"""

from .runtime import quiet_libraries, seed_everything

quiet_libraries()

from . import data, experiments, plots, similarity, training, widgets  # noqa: E402
from .data import SENTENCE_TASKS, TaskSpec, load_sentences  # noqa: E402
from .encoder import SentenceEncoder  # noqa: E402
from .freezing import GradualUnfreezer, freeze, trainable_report  # noqa: E402
from .loading import default_model_path  # noqa: E402
from .multitask import MultiTaskModel  # noqa: E402
from .optim import layerwise_param_groups  # noqa: E402
from .pooling import POOLING_MODES  # noqa: E402
from .training import History, TrainConfig, evaluate  # noqa: E402

__all__ = [
    "POOLING_MODES",
    "SENTENCE_TASKS",
    "GradualUnfreezer",
    "History",
    "MultiTaskModel",
    "SentenceEncoder",
    "TaskSpec",
    "TrainConfig",
    "data",
    "default_model_path",
    "evaluate",
    "experiments",
    "freeze",
    "layerwise_param_groups",
    "load_sentences",
    "plots",
    "seed_everything",
    "similarity",
    "training",
    "trainable_report",
    "widgets",
]
