"""Every matplotlib figure the notebooks show. Each function returns its ``Figure``."""

from .calibration import reliability_diagram
from .embeddings import embedding_sizes, pooling_grid_bars, projection_2d, similarity_heatmap
from .evidence import forest, task_curves, tradeoff
from .experiments import seeded_results
from .training import (
    confusion_matrices,
    gradient_conflict,
    layer_drift,
    layer_learning_rates,
    learning_rate_schedule,
    probability_bars,
    training_curves,
)

__all__ = [
    "confusion_matrices", "embedding_sizes", "forest", "task_curves", "tradeoff",
    "gradient_conflict", "layer_drift",
    "layer_learning_rates",
    "learning_rate_schedule", "pooling_grid_bars", "probability_bars", "projection_2d",
    "reliability_diagram",
    "seeded_results", "similarity_heatmap", "training_curves",
]
