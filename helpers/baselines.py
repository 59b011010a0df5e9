"""Baselines that need no neural network: the yardstick a fine-tuned encoder must beat.

Kept apart from the training code: nothing here trains or scores a ``MultiTaskModel``, so
stored sweeps (``helpers.result_store``) stay valid when a baseline changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from datasets import DatasetDict

from .data import get_split


def tfidf_correctness(data: DatasetDict, tasks: Sequence[str], split: str = "test",
                      strengths: Sequence[float] = (0.3, 1.0, 3.0, 10.0, 30.0)
                      ) -> dict[str, np.ndarray]:
    """The no-pretraining baseline: TF-IDF of words and word pairs, logistic regression per
    task, its regularisation ``C`` chosen on validation from ``strengths``; which labelled
    sentences of ``split`` it gets right (deterministic: no seeds)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    parts = {name: get_split(data, name) for name in ("train", "validation", split)}
    right = {}
    for task in tasks:
        rows = {name: [i for i, label in enumerate(part[task]) if label is not None]
                for name, part in parts.items()}
        texts = {name: [parts[name]["text"][i] for i in rows[name]] for name in parts}
        labels = {name: [parts[name][task][i] for i in rows[name]] for name in parts}
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(texts["train"])
        vectors = {name: vectorizer.transform(texts[name]) for name in parts}
        fitted = [LogisticRegression(C=c, max_iter=5000).fit(vectors["train"], labels["train"])
                  for c in strengths]
        best = max(fitted, key=lambda m: m.score(vectors["validation"], labels["validation"]))
        right[task] = best.predict(vectors[split]) == np.asarray(labels[split])
    return right
