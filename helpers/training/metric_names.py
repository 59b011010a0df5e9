"""The project's one metric naming: ``{split}/{task}/{kind}``.

``evaluate`` returns ``{task}/{kind}`` (e.g. ``topic/accuracy``, ``mean/macro_f1``);
training history, experiments, the command line and the notebooks prefix the split
(``validation/topic/accuracy``, ``test/mean/accuracy``) with ``metric_name``. Its own
module, free of scikit-learn and torch, so that ``TrainConfig`` checks a metric without
importing the evaluation code.
"""

from __future__ import annotations

import re

METRIC_KINDS = ("loss", "accuracy", "macro_f1")
MEAN = "mean"
_METRIC = re.compile(r"^([^/\s]+)/([^/\s]+)$")


def metric_name(split: str | None, task: str, kind: str) -> str:
    """``validation/topic/accuracy``; without a split, ``topic/accuracy``."""
    return f"{split}/{task}/{kind}" if split else f"{task}/{kind}"


def split_name(name: str) -> tuple[str, str, str] | None:
    """``"validation/topic/accuracy"`` → (split, task, kind); any other name → None."""
    fields = name.split("/")
    return (fields[0], fields[1], fields[2]) if len(fields) == 3 else None


def parse_metric(metric: object, where: str) -> tuple[str, str]:
    """``"TASK/KIND"`` → (task, kind); anything else is an error listing the valid forms."""
    match = _METRIC.match(metric) if isinstance(metric, str) else None
    if not match or match.group(2) not in METRIC_KINDS:
        examples = ", ".join(metric_name(None, MEAN, kind) for kind in METRIC_KINDS)
        raise ValueError(f"{where}: unknown metric {metric!r}; expected TASK/KIND with KIND one "
                         f"of {', '.join(METRIC_KINDS)} and TASK {MEAN!r} or a task name "
                         f"(e.g. {examples}, topic/accuracy)")
    return match.group(1), match.group(2)


def lower_is_better(metric: str) -> bool:
    return metric.endswith("/loss")
