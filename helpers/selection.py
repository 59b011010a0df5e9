"""Settings chosen on validation, never on test: each arm's learning rate from a small
grid, scored on validation only, every arm with the same seeds and budget (an arm that
learns slower, a decayed or randomly initialised encoder, gets the rate that suits it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace

import pandas as pd
from datasets import DatasetDict

from .seeded import ModelMaker, RunSpec, as_run, run_seeded
from .training import TrainConfig


def rate_sweep(make_model: ModelMaker, data: DatasetDict, arms: Mapping[str, RunSpec],
               rates: Sequence[float], config: TrainConfig, seeds: Sequence[int] = (0, 1, 2),
               workers: int | str = "auto", store: str | os.PathLike | None = None
               ) -> tuple[dict[str, float], pd.DataFrame]:
    """Each arm's top learning rate chosen on validation from ``rates``: every arm × rate
    trained with every seed and scored on validation only (its own tasks' mean accuracy).
    Returns {arm: chosen rate} and the arm × rate table of validation means."""
    if not rates or any(not rate > 0 for rate in rates):
        raise ValueError(f"rate_sweep(): rates must be a non-empty list of values > 0, got "
                         f"{list(rates)}")
    plans = {arm: as_run(spec, arm) for arm, spec in arms.items()}
    runs = {(arm, rate): replace(plan, config=replace(plan.config or config, lr=rate))
            for arm, plan in plans.items() for rate in rates}
    names = {key: f"{key[0]} @ lr {key[1]:g}" for key in runs}
    own = {names[key]: list(plan.config.tasks) for key, plan in runs.items() if plan.config.tasks}
    found = run_seeded(make_model, data, {names[key]: plan for key, plan in runs.items()},
                       config, seeds, split="validation", workers=workers,
                       store=store).validation(own)
    table = pd.DataFrame([{"arm": arm, "lr": rate, "validation accuracy": found.loc[name, "mean"]}
                          for (arm, rate), name in names.items()])
    table = table.pivot(index="arm", columns="lr", values="validation accuracy").loc[list(arms)]
    return {arm: float(table.loc[arm].idxmax()) for arm in arms}, table
