"""Are the predicted probabilities honest? Reliability bins, expected calibration error
(ECE) and temperature scaling (Guo et al. 2017).

A model is calibrated when, among the sentences it gives 80 % confidence, 80 % are right.
Fine-tuned transformers tend to be over-confident; dividing the logits by one temperature
T > 1, fitted on validation, softens them without changing any prediction (the argmax of
``logits / T`` is the argmax of ``logits``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch
from scipy.optimize import minimize_scalar

from .validation import check_positive_int


def _check(probs: np.ndarray, labels: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    probs, labels = np.asarray(probs, dtype=float), np.asarray(labels)
    if probs.ndim != 2 or probs.shape[0] != labels.shape[0] or labels.ndim != 1:
        raise ValueError(f"{where}: expected probabilities (n, classes) and labels (n,), got "
                         f"shapes {probs.shape} and {labels.shape}")
    if len(labels) == 0:
        raise ValueError(f"{where}: no rows to score")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 \
            or labels.max() >= probs.shape[1]:
        raise ValueError(f"{where}: labels must be class ids 0..{probs.shape[1] - 1}")
    if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-4) or probs.min() < 0:
        raise ValueError(f"{where}: each row of probabilities must be ≥ 0 and sum to 1 "
                         f"(softmax the logits first)")
    return probs, labels


def reliability_bins(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> pd.DataFrame:
    """Per confidence bin (equal width on [0, 1]): rows, mean confidence and accuracy of the
    top prediction. Empty bins are left out."""
    probs, labels = _check(probs, labels, "reliability_bins()")
    check_positive_int(bins, "bins", "reliability_bins()")
    confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == labels
    which = np.minimum((confidence * bins).astype(int), bins - 1)  # confidence 1.0 → last bin
    rows = [{"bin": b, "low": b / bins, "high": (b + 1) / bins, "rows": int(mask.sum()),
             "confidence": float(confidence[mask].mean()), "accuracy": float(correct[mask].mean())}
            for b in range(bins) if (mask := which == b).any()]
    return pd.DataFrame(rows)


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Σ over bins of (share of rows) × |accuracy − mean confidence|: 0 is calibrated."""
    table = reliability_bins(probs, labels, bins)
    weights = table["rows"] / table["rows"].sum()
    return float((weights * (table["accuracy"] - table["confidence"]).abs()).sum())


def fit_temperature(logits: np.ndarray | torch.Tensor, labels: np.ndarray) -> float:
    """The T > 0 that minimises the negative log-likelihood of ``softmax(logits / T)``.

    Fit it on validation, never on the test split it will be judged on. Searched over
    log T in [-3, 3] (T from 0.05 to 20), where the likelihood has a single minimum.
    """
    scores = torch.as_tensor(np.asarray(logits), dtype=torch.float64)
    targets = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    _check(scores.softmax(dim=-1).numpy(), targets.numpy(), "fit_temperature()")

    def nll(log_t: float) -> float:
        return float(torch.nn.functional.cross_entropy(scores / np.exp(log_t), targets))

    return float(np.exp(minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded").x))


def temperature_scaling_report(outputs: Mapping[int, Mapping[str, Mapping[str, tuple]]],
                               fit_on: str = "validation", judge_on: str = "test",
                               bins: int = 15) -> pd.DataFrame:
    """Per seed and task: T fitted on ``fit_on``, and the ECE on ``judge_on`` before and
    after dividing the logits by T. ``outputs``: {seed: {split: {task: (logits, labels)}}},
    e.g. ``{seed: results.logits[(run, seed)] for seed in seeds}``."""
    if fit_on == judge_on:
        raise ValueError(f"temperature_scaling_report(): fit the temperature on another split "
                         f"than the one it is judged on ({judge_on!r})")
    rows = []
    for seed, splits in outputs.items():
        for task, (logits, labels) in splits[judge_on].items():
            temperature = fit_temperature(*splits[fit_on][task])
            scores = torch.as_tensor(np.asarray(logits), dtype=torch.float64)
            rows.append({"seed": seed, "task": task, "temperature": temperature,
                         "ECE before": expected_calibration_error(
                             scores.softmax(-1).numpy(), labels, bins),
                         "ECE after": expected_calibration_error(
                             (scores / temperature).softmax(-1).numpy(), labels, bins)})
    return pd.DataFrame(rows)
