"""Fixed probe batches for the gradient-conflict probe: the first rows labelled per task,
cut into a few batches, so the reported cosine is a mean over batches with a spread."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from ..tasks import MISSING_LABEL
from .batching import label_ids
from .mixture import Source

PROBE_BATCHES, PROBE_ROWS = 4, 16  # 4 batches of 16 labelled rows per task


def probe_batches(sources: list[Source], collate_of: Mapping[str, Callable]
                  ) -> dict[str, list[dict]]:
    """Per task, up to ``PROBE_BATCHES`` batches of ``PROBE_ROWS`` rows labelled for it."""
    probes = {}
    for source in sources:
        ids = label_ids(source.train, source.tasks)
        for task in source.tasks:
            rows = np.flatnonzero(ids[task.name] != MISSING_LABEL)[:PROBE_BATCHES * PROBE_ROWS]
            if len(rows):
                probes[task.name] = [collate_of[source.name](rows[i:i + PROBE_ROWS].tolist())
                                     for i in range(0, len(rows), PROBE_ROWS)]
    return probes
