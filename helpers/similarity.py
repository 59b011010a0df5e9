"""Cosine similarity, nearest neighbours and STS-style evaluation of an encoder."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Protocol

import numpy as np
import pandas as pd
from scipy.stats import ConstantInputWarning, spearmanr
from sklearn.metrics.pairwise import cosine_similarity

from .data import check_pairs
from .validation import check_positive_int


class Encodes(Protocol):
    """Anything with ``encode(list[str]) -> (n, dim) array`` (SentenceEncoder, SBERT)."""

    def encode(self, sentences: list[str], batch_size: int = ...) -> np.ndarray: ...


def cosine_matrix(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """(n, dim) × (m, dim) → (n, m) cosine similarities; ``b=None`` compares ``a`` with itself."""
    return cosine_similarity(np.atleast_2d(a), None if b is None else np.atleast_2d(b))


def nearest_neighbours(
    queries: np.ndarray, corpus: np.ndarray, k: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the ``k`` most similar corpus rows for each query, best first.

    Returns two (n_queries, k) arrays; ``k`` is capped at the corpus size.
    """
    check_positive_int(k, "k", "nearest_neighbours()")
    scores = cosine_matrix(queries, corpus)  # (n_queries, n_corpus)
    k = min(k, scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(scores, order, axis=1)


def pair_cosines(encoder: Encodes, pairs: pd.DataFrame, batch_size: int = 64) -> np.ndarray:
    """Cosine similarity of each (sentence1, sentence2) row."""
    check_pairs(pairs)
    first = encoder.encode(list(pairs["sentence1"]), batch_size=batch_size)
    second = encoder.encode(list(pairs["sentence2"]), batch_size=batch_size)
    first = first / np.linalg.norm(first, axis=1, keepdims=True)
    second = second / np.linalg.norm(second, axis=1, keepdims=True)
    return (first * second).sum(axis=1)


def sts_spearman(encoder: Encodes, pairs: pd.DataFrame, batch_size: int = 64) -> float:
    """Spearman rank correlation (×100) between cosine similarity and the gold scores.

    NaN when every pair gets the same cosine (e.g. [CLS] of the embedding layer, which is
    one fixed vector): a ranking that ranks nothing has no correlation.
    """
    cosines = pair_cosines(encoder, pairs, batch_size)
    if np.ptp(cosines) < 1e-6:
        return float("nan")
    return float(spearmanr(cosines, pairs["score"]).statistic * 100)


def pooling_grid(
    encoder, pairs: pd.DataFrame, modes: Iterable[str], layers: Iterable[int]
) -> pd.DataFrame:
    """STS Spearman for every (pooling mode, layer) choice, sharing one backbone."""
    rows = [
        {"pooling": mode, "layer": layer,
         "spearman": sts_spearman(encoder.with_pooling(mode, layer), pairs)}
        for mode in modes
        for layer in layers
    ]
    return pd.DataFrame(rows)


def spearman_by_category(pairs: pd.DataFrame, cosines: np.ndarray, resamples: int = 2000,
                         seed: int = 0) -> pd.DataFrame:
    """Spearman × 100 between ``cosines`` and the gold score within each pair category (and
    over all pairs), with a 95 % bootstrap interval over that category's pairs: where does
    cosine similarity order pairs the way people did, and where not?"""
    check_pairs(pairs)
    cosines = np.asarray(cosines, dtype=float)
    if cosines.shape != (len(pairs),):
        raise ValueError(f"spearman_by_category(): need one cosine per pair ({len(pairs)}), "
                         f"got shape {cosines.shape}")
    rng, rows = np.random.default_rng(seed), []
    groups = [("all pairs", np.arange(len(pairs)))] + [
        (str(name), np.flatnonzero(pairs["category"].to_numpy() == name))
        for name in pairs["category"].unique()]
    gold = pairs["score"].to_numpy(dtype=float)
    for name, index in groups:
        def rho(chosen: np.ndarray) -> float:
            with warnings.catch_warnings():  # a resample of tied scores has no correlation
                warnings.simplefilter("ignore", ConstantInputWarning)
                return float(spearmanr(cosines[chosen], gold[chosen]).statistic * 100)
        draws = [rho(rng.choice(index, len(index))) for _ in range(resamples)]
        low, high = np.nanpercentile(draws, [2.5, 97.5])
        rows.append({"category": name, "pairs": len(index), "spearman": rho(index),
                     "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows).set_index("category").round(1)
