"""Evaluation: predictions, per-task metrics and confusion matrices.

``evaluate`` returns ``{task}/{kind}`` (e.g. ``topic/accuracy``, ``mean/macro_f1``), named
as ``metric_names`` says.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from datasets import Dataset, DatasetDict
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from ..data import get_split
from ..modes import evaluating
from ..multitask import MultiTaskModel
from ..tasks import MISSING_LABEL, TaskSpec
from .batching import collate_fn
from .metric_names import MEAN, METRIC_KINDS, metric_name


def _to(batch: dict, device: torch.device) -> dict:
    moved = {k: v.to(device) for k, v in batch.items() if k != "labels"}
    moved["labels"] = {k: v.to(device) for k, v in batch["labels"].items()}
    return moved


def forward_batch(net: torch.nn.Module, batch: dict) -> dict[str, torch.Tensor]:
    """``{task: logits}`` of one collated batch (labels are not model inputs)."""
    return net(**{name: value for name, value in batch.items() if name != "labels"})


@torch.inference_mode()
def predict_labels(
    model: MultiTaskModel, dataset: Dataset, tasks: Sequence[TaskSpec] | None = None,
    batch_size: int = 64, cache: torch.Tensor | None = None,
) -> dict[str, dict[str, np.ndarray | torch.Tensor]]:
    """Per task: true label ids, predicted ids and the logits on ``dataset`` (in its order).

    Sentences are batched shortest first, so a batch pads to a length close to its own
    (in dataset order a batch of 64 pads to its longest: about twice the work here).
    """
    tasks = tuple(tasks or model.tasks)
    device = next(model.parameters()).device
    collate = collate_fn(dataset, tasks, model.encoder.tokenize, cache)
    order = (np.arange(len(dataset)) if cache is not None else
             np.argsort(model.encoder.token_counts(dataset["text"]), kind="stable"))
    parts = {task.name: ([], []) for task in tasks}
    with evaluating(model):
        for start in range(0, len(dataset), batch_size):
            batch = collate(order[start:start + batch_size])
            logits = forward_batch(model, _to(batch, device))
            for task in tasks:
                parts[task.name][0].append(batch["labels"][task.name].numpy())
                parts[task.name][1].append(logits[task.name].float().cpu())
    back = np.argsort(order)  # sorted position of each original row
    result = {}
    for name, (true, logits) in parts.items():
        stacked = torch.cat(logits)[back]
        result[name] = {"true": np.concatenate(true)[back],
                        "pred": stacked.argmax(dim=-1).numpy(), "logits": stacked}
    return result


def evaluate(model: MultiTaskModel, dataset: Dataset, tasks: Sequence[TaskSpec] | None = None,
             batch_size: int = 64, cache: torch.Tensor | None = None) -> dict[str, float]:
    """``{task}/{kind}`` for loss, accuracy and macro-F1 over the labelled rows, plus
    ``mean/{kind}`` over the tasks."""
    tasks = tuple(tasks or model.tasks)
    predictions = predict_labels(model, dataset, tasks, batch_size, cache)
    metrics: dict[str, float] = {}
    for task in tasks:
        found = predictions[task.name]
        keep = found["true"] != MISSING_LABEL
        if keep.any():
            metrics.update(task_metrics(task, found["true"][keep], found["pred"][keep],
                                         found["logits"][keep]))
    return {**metrics, **mean_metrics(metrics)}


def task_metrics(task: TaskSpec, true: np.ndarray, pred: np.ndarray, logits: torch.Tensor
                 ) -> dict[str, float]:
    """``{task}/loss``, ``{task}/accuracy`` and ``{task}/macro_f1`` of labelled rows."""
    return {
        metric_name(None, task.name, "loss"): float(F.cross_entropy(logits,
                                                                    torch.from_numpy(true))),
        metric_name(None, task.name, "accuracy"): float(accuracy_score(true, pred)),
        metric_name(None, task.name, "macro_f1"): float(f1_score(
            true, pred, average="macro", labels=list(range(len(task.labels))),
            zero_division=0)),
    }


def mean_metrics(metrics: dict[str, float], prefix: str = "") -> dict[str, float]:
    """``{prefix}mean/{kind}``: the mean over tasks of each kind found under ``prefix``."""
    means = {}
    for kind in METRIC_KINDS:
        values = [value for name, value in metrics.items() if name.startswith(prefix)
                  and name.endswith(f"/{kind}") and name.removeprefix(prefix).count("/") == 1
                  and not name.removeprefix(prefix).startswith(f"{MEAN}/")]
        if values:
            means[f"{prefix}{MEAN}/{kind}"] = float(np.mean(values))
    return means


def split_metrics(model: MultiTaskModel, data: DatasetDict, split: str = "test",
                  kinds: Sequence[str] = ("accuracy", "macro_f1")) -> dict[str, float]:
    """``{split}/{task}/{kind}`` for each task and the chosen kinds: a results-table row."""
    found = evaluate(model, get_split(data, split))
    return {f"{split}/{name}": value for name, value in found.items()
            if name.split("/")[1] in kinds and not name.startswith(f"{MEAN}/")}


def confusion(model: MultiTaskModel, dataset: Dataset, task: str, batch_size: int = 64
              ) -> pd.DataFrame:
    """Confusion matrix (rows true, columns predicted) of one task on ``dataset``."""
    spec = model.task(task)
    found = predict_labels(model, dataset, [spec], batch_size)[task]
    keep = found["true"] != MISSING_LABEL
    matrix = confusion_matrix(found["true"][keep], found["pred"][keep],
                              labels=list(range(len(spec.labels))))
    return pd.DataFrame(matrix, index=pd.Index(spec.labels, name="true"),
                        columns=pd.Index(spec.labels, name="predicted"))
