"""Fixed probe batches for the gradient-conflict probe: the first rows labelled per task."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from ..batching import label_ids
from ..data import MISSING_LABEL
from .mixture import Source


def probe_batches(sources: list[Source], collate_of: Mapping[str, Callable],
                  batch_size: int) -> dict[str, dict]:
    """One batch per task (the first ``batch_size`` rows labelled for it)."""
    probes = {}
    for source in sources:
        ids = label_ids(source.train, source.tasks)
        for task in source.tasks:
            rows = np.flatnonzero(ids[task.name] != MISSING_LABEL)[:batch_size]
            if len(rows):
                probes[task.name] = collate_of[source.name](rows.tolist())
    return probes
