"""Where a model is wrong: per-class reports, the sentences it gets most wrong, and
accuracy per category of the challenge set with intervals.

Aggregate accuracy hides *which* sentences fail; these tables print them, so a notebook's
account of the errors can quote its own evidence.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from datasets import Dataset
from sklearn.metrics import classification_report

from .evidence import paired_difference
from .multitask import MultiTaskModel
from .tasks import MISSING_LABEL
from .training import predict_labels


def _labelled(model: MultiTaskModel, dataset: Dataset, task: str) -> dict[str, np.ndarray]:
    """True ids, predicted ids, probabilities and row numbers of the rows labelled for ``task``."""
    spec = model.task(task)
    found = predict_labels(model, dataset, [spec])[task]
    keep = found["true"] != MISSING_LABEL
    probs = (found["logits"][keep] / model.temperatures[task]).softmax(dim=-1).numpy()
    return {"true": found["true"][keep], "pred": found["pred"][keep], "probs": probs,
            "rows": np.flatnonzero(keep)}


def class_report(model: MultiTaskModel, dataset: Dataset, task: str) -> pd.DataFrame:
    """Precision, recall, F1 and support per label of ``task`` (scikit-learn's report)."""
    found, labels = _labelled(model, dataset, task), list(model.task(task).labels)
    report = classification_report(found["true"], found["pred"], labels=range(len(labels)),
                                   target_names=labels, output_dict=True, zero_division=0)
    return pd.DataFrame(report).T.drop(index="accuracy", errors="ignore").round(3)


def top_losses(model: MultiTaskModel, dataset: Dataset, task: str, k: int = 8) -> pd.DataFrame:
    """The ``k`` labelled sentences with the highest cross-entropy for ``task``: text, true
    and predicted label, the probability given to each, and the loss."""
    found, labels = _labelled(model, dataset, task), model.task(task).labels
    index = np.arange(len(found["true"]))
    p_true = found["probs"][index, found["true"]]
    loss = -np.log(np.clip(p_true, 1e-12, None))
    order = np.argsort(-loss, kind="stable")[:k]
    texts = dataset["text"]
    return pd.DataFrame({
        "text": [texts[found["rows"][i]] for i in order],
        "true": [labels[found["true"][i]] for i in order],
        "predicted": [labels[found["pred"][i]] for i in order],
        "p(true)": p_true[order].round(3),
        "p(predicted)": found["probs"][order, found["pred"][order]].round(3),
        "loss": loss[order].round(2)})


def wrong_predictions(model: MultiTaskModel, dataset: Dataset) -> pd.DataFrame:
    """Every mistake on ``dataset``, every task: task, text, true and predicted label,
    probabilities and loss, highest loss first (the error browser's table)."""
    frames = []
    for task in model.task_names:
        ranked = top_losses(model, dataset, task, k=len(dataset))
        frames.append(ranked[ranked["true"] != ranked["predicted"]].assign(task=task))
    table = pd.concat(frames, ignore_index=True)
    return table[["task", *ranked.columns]].sort_values("loss", ascending=False,
                                                         ignore_index=True)


def correct_by_category(model: MultiTaskModel, dataset: Dataset, task: str
                        ) -> dict[str, np.ndarray]:
    """Per value of the ``category`` column: which of its sentences ``model`` gets right."""
    found = _labelled(model, dataset, task)
    right = found["true"] == found["pred"]
    categories = np.asarray(dataset["category"])[found["rows"]]
    return {category: right[categories == category] for category in dict.fromkeys(categories)}


def category_comparison(models: Mapping[str, MultiTaskModel], dataset: Dataset, task: str
                        ) -> pd.DataFrame:
    """Accuracy per category for two models, and B − A with a 95 % t-interval over
    the category's sentences (paired: the same sentences for both)."""
    if len(models) != 2:
        raise ValueError(f"category_comparison(): expected two models, got {list(models)}")
    (name_a, model_a), (name_b, model_b) = models.items()
    right_a = correct_by_category(model_a, dataset, task)
    right_b = correct_by_category(model_b, dataset, task)
    rows = []
    for category, a in right_a.items():
        b = right_b[category]
        difference = paired_difference(b[None], a[None])
        rows.append({"category": category, "sentences": len(a), name_a: a.mean(),
                     name_b: b.mean(), f"{name_b} − {name_a}": difference["difference"],
                     "ci_low": difference["ci_low"], "ci_high": difference["ci_high"]})
    return pd.DataFrame(rows).set_index("category").round(3)

