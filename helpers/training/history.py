"""``History``: every logged number of a run, one row per optimiser step and per epoch."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

from ..validation import check_choice


@dataclass
class History:
    """Steps (``train/loss``, ``train/{task}/loss``, ``lr/{group}``) and epochs
    (``train/loss``, ``validation/{task}/{kind}``, ``weight/{task}``, callbacks' keys).

    Wall-clock seconds live apart from the rows, so two runs with one seed give equal rows.
    """

    steps: list[dict] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    best_metric: float | None = None
    stopped_early: bool = False

    def frame(self, kind: str = "epochs") -> pd.DataFrame:
        check_choice(kind, ("epochs", "steps"), "kind", "History.frame()")
        return pd.DataFrame(self.steps if kind == "steps" else self.epochs)

    def to_dict(self) -> dict:
        return asdict(self)
