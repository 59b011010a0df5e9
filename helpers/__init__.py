"""sentence-mtl helpers: everything the notebooks import.

Importing the package silences library progress bars and info logs once, so notebook
stderr stays empty and nbval compares only what matters.
"""

from .runtime import quiet_libraries, seed_everything

quiet_libraries()

from . import data, plots, similarity, widgets  # noqa: E402
from .encoder import SentenceEncoder  # noqa: E402
from .loading import default_model_path  # noqa: E402
from .pooling import POOLING_MODES  # noqa: E402

__all__ = [
    "POOLING_MODES",
    "SentenceEncoder",
    "data",
    "default_model_path",
    "plots",
    "seed_everything",
    "similarity",
    "widgets",
]
