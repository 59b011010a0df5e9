"""What a seeded experiment leaves behind, and the questions asked of it: summaries with
intervals over seeds and test sentences, paired comparisons, a Holm-corrected family
(``helpers.evidence``), and the sentence-similarity (STS) scores of every trained model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .evidence import (
    comparison_table,
    describe,
    macro_f1_interval,
    mean_interval,
    paired_difference,
    resampled_interval,
    spearman_rows,
    summarize,
)
from .multitask import MultiTaskModel
from .training import History


@dataclass
class SeededResults:
    """Tidy scores (run, seed, task, metric, value), per-sentence correctness for paired
    comparisons, one row of facts per trained model, and the first seed's models."""

    split: str
    table: pd.DataFrame
    runs: pd.DataFrame
    correct: dict[tuple[str, str], np.ndarray] = field(repr=False)
    histories: dict[tuple[str, int], History | None] = field(repr=False)
    models: dict[str, MultiTaskModel] = field(repr=False)
    # (run, seed) → {split: {task: (logits, true ids)}} on validation and the scored split
    logits: dict[tuple[str, int], dict[str, dict[str, tuple]]] = field(repr=False,
                                                                      default_factory=dict)
    # (run, seed) → the encoder's cosine per STS pair, and the pairs' gold scores
    cosines: dict[tuple[str, int], np.ndarray] = field(repr=False, default_factory=dict)
    sts_gold: np.ndarray | None = field(repr=False, default=None)

    def summary(self, metric: str | None = "accuracy") -> pd.DataFrame:
        """Mean ± sd over seeds and a 95 % interval over seeds and test sentences, per run
        and task (one ``metric``, or all with None; see ``helpers.evidence``)."""
        table = self.table if metric is None else self.table[self.table["metric"] == metric]
        summary = summarize(table)
        for index, row in summary.iterrows():
            found = self._interval(row["run"], row["task"], row["metric"])
            summary.loc[index, ["ci_low", "ci_high"]] = found["ci_low"], found["ci_high"]
        return summary

    def _interval(self, run: str, task: str, metric: str) -> dict[str, float]:
        if metric == "accuracy":
            return mean_interval(self.correct[(run, task)])
        if metric == "spearman":
            return self.sts_interval(run)
        scored = [self.logits[(run, seed)][self.split][task] for seed in self._seeds(run)]
        preds = np.stack([logits.argmax(dim=-1).numpy() for logits, _ in scored])
        return macro_f1_interval(scored[0][1], preds, scored[0][0].shape[-1])

    def _seeds(self, run: str) -> list[int]:
        return sorted(seed for name, seed in self.logits if name == run)

    def sts_interval(self, run: str, minus: str | None = None) -> dict[str, float]:
        """STS Spearman of ``run`` (minus ``minus``'s, paired) over seeds and pairs."""
        if self.sts_gold is None:
            raise ValueError("no STS scores: run run_seeded(..., sts_pairs=pairs)")
        gold = self.sts_gold

        def spearman(name: str, rows: np.ndarray) -> np.ndarray:
            cosines = np.stack([self.cosines[(name, seed)][rows] for seed in self._seeds(name)])
            return spearman_rows(cosines, gold[rows])

        def score(rows: np.ndarray) -> np.ndarray:
            return spearman(run, rows) - (spearman(minus, rows) if minus else 0.0)

        return resampled_interval(score, len(gold), (-2.0, 2.0) if minus else (-1.0, 1.0))

    def compare(self, a: str, b: str, task: str) -> dict[str, float]:
        """Run ``a`` minus run ``b`` on ``task``, paired over seeds and sentences: accuracy
        (``helpers.evidence.paired_difference``), or Spearman for ``task="sts"``."""
        if task == "sts":
            found = self.sts_interval(a, minus=b)
            return {"difference": found.pop("mean"), **found}
        for name in (a, b):
            if (name, task) not in self.correct:
                raise ValueError(f"compare(): no run {name!r} with task {task!r}; runs are "
                                 f"{sorted({r for r, _ in self.correct})}")
        return paired_difference(self.correct[(a, task)], self.correct[(b, task)])

    def comparisons(self, pairs: Sequence[tuple[str, str]], tasks: Sequence[str], family: str
                    ) -> pd.DataFrame:
        """Every (a, b) pair on every task as one family, Holm-adjusted
        (``helpers.evidence.comparison_table``)."""
        found = {f"{a} − {b}, {task}": self.compare(a, b, task) for a, b in pairs for task in tasks}
        return comparison_table(found, family)

    def describe(self, a: str, b: str, task: str) -> str:
        return f"{task}: " + describe(self.compare(a, b, task), a, b)

    def validation(self, tasks: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
        """Mean validation accuracy over seeds per run: each task and their mean (over
        ``tasks[run]`` where given, e.g. a single-task run's own task), most accurate first."""
        rows = []
        for (run, seed), parts in self.logits.items():
            scored = {task: float((logits.argmax(dim=-1).numpy() == true).mean())
                      for task, (logits, true) in parts["validation"].items()}
            own = (tasks or {}).get(run, list(scored))
            rows.append({"run": run, "seed": seed, **scored,
                         "mean": float(np.mean([scored[task] for task in own]))})
        table = pd.DataFrame(rows).drop(columns="seed").groupby("run", sort=False).mean()
        return table.sort_values("mean", ascending=False)

    def choose(self, simplest_first: Sequence[str], tolerance: float | None = None) -> str:
        """The first run of ``simplest_first`` whose mean validation accuracy is within
        ``tolerance`` of the best (default: one validation sentence), so a tie goes to the
        simpler recipe."""
        means = self.validation()["mean"]
        unknown = sorted(set(simplest_first) - set(means.index))
        if unknown:
            raise ValueError(f"choose(): no runs {unknown}; runs are {list(means.index)}")
        sentences = min(len(true) for parts in self.logits.values()
                        for _, true in parts["validation"].values())
        margin = 1 / sentences if tolerance is None else tolerance
        best = means[list(simplest_first)].max()
        return next(run for run in simplest_first if means[run] >= best - margin - 1e-12)


def tradeoff_table(sources: Mapping[str, tuple[SeededResults, Sequence[str]]],
                   tasks: Sequence[str] = ("topic", "sentiment")) -> pd.DataFrame:
    """One row per run of every source (``{label: (results, runs)}``), indexed
    ``"label · run"``: test accuracy averaged over ``tasks`` and STS Spearman, each with its
    95 % interval over seeds and items. The accuracy interval pools the tasks' sentences
    (each task's sentences count once), so it is the interval of that average, not a mean
    of two intervals. Runs from different sweeps trained on different budgets: the table
    places them on one map; paired comparisons belong inside one sweep."""
    rows = {}
    for label, (results, runs) in sources.items():
        for run in runs:
            pooled = np.concatenate([results.correct[(run, task)] for task in tasks], axis=1)
            found = {"accuracy": mean_interval(pooled), "STS Spearman": results.sts_interval(run)}
            rows[f"{label} · {run}"] = {(what, key): interval[key] for what, interval in
                                        found.items() for key in ("mean", "ci_low", "ci_high")}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    return table
