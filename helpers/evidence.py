"""How sure a comparison is: summaries over seeds and paired bootstrap differences.

A run is trained with several seeds (initialisation and data order); every model is scored
on the same test sentences. ``summarize`` gives mean ± sd over seeds with a 95 % t-interval;
``paired_difference`` resamples the test sentences *and* the seeds together (a hierarchical
bootstrap), pairing seed s of one run with seed s of the other on the same sentences, so its
interval covers both sources of noise.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

TIDY_COLUMNS = ("run", "seed", "task", "metric", "value")


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Per run, task and metric of a tidy ``table``: seeds, mean, sd and a 95 % t-interval
    of the mean over seeds (no interval from a single seed)."""
    missing = [c for c in TIDY_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"summarize(): table lacks column(s) {missing}; expected {TIDY_COLUMNS}")
    rows = []
    for (run, task, metric), part in table.groupby(["run", "task", "metric"], sort=False):
        values = part["value"].to_numpy(dtype=float)
        n, mean = len(values), float(values.mean())
        sd = float(values.std(ddof=1)) if n > 1 else float("nan")
        half = float(stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)) if n > 1 else float("nan")
        rows.append({"run": run, "task": task, "metric": metric, "seeds": n, "mean": mean,
                     "sd": sd, "ci_low": mean - half, "ci_high": mean + half})
    return pd.DataFrame(rows)


def paired_difference(correct_a: np.ndarray, correct_b: np.ndarray, resamples: int = 2000,
                      seed: int = 0) -> dict[str, float]:
    """Accuracy of A minus accuracy of B with a 95 % bootstrap interval.

    ``correct_a`` and ``correct_b``: (seeds, sentences) booleans, row s of both from seed s,
    column j from test sentence j. Each resample draws seeds and sentences with replacement.
    """
    a, b = np.asarray(correct_a, dtype=float), np.asarray(correct_b, dtype=float)
    if a.ndim != 2 or a.shape != b.shape or a.size == 0:
        raise ValueError(f"paired_difference(): need two equal (seeds, sentences) arrays, got "
                         f"shapes {a.shape} and {b.shape}")
    per_sentence = a - b  # (seeds, sentences)
    rng = np.random.default_rng(seed)
    seeds, sentences = per_sentence.shape
    estimates = np.empty(resamples)
    for index in range(resamples):
        rows = rng.integers(0, seeds, seeds)
        columns = rng.integers(0, sentences, sentences)
        estimates[index] = per_sentence[np.ix_(rows, columns)].mean()
    low, high = np.percentile(estimates, [2.5, 97.5])
    return {"difference": float(per_sentence.mean()), "ci_low": float(low),
            "ci_high": float(high), "seeds": seeds, "sentences": sentences}


def verdict(difference: Mapping[str, float]) -> str:
    """Plain words for a difference and its interval: which is better, or no measurable one."""
    low, high = difference["ci_low"], difference["ci_high"]
    if low <= 0 <= high:
        return "no measurable difference on this data"
    return "A is better" if low > 0 else "B is better"


def describe(difference: Mapping[str, float], a: str = "A", b: str = "B") -> str:
    """``"A − B = +0.031 (95 % CI +0.012 to +0.050): A is better"``, rounded to 3 decimals."""
    words = verdict(difference).replace("A is", f"{a} is").replace("B is", f"{b} is")
    return (f"{a} − {b} = {difference['difference']:+.3f} (95 % CI {difference['ci_low']:+.3f} "
            f"to {difference['ci_high']:+.3f}): {words}")


def interval_table(summary: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Runs × tasks of a ``summarize`` table as "mean (low to high)" strings, the mean alone
    where there is no interval (a single seed); runs in their original order."""
    def cell(row: pd.Series) -> str:
        mean = f"{row['mean']:.{digits}f}"
        if np.isnan(row["ci_low"]):
            return mean
        return f"{mean} ({row['ci_low']:.{digits}f} to {row['ci_high']:.{digits}f})"

    frame = summary.assign(cell=summary.apply(cell, axis=1))
    table = frame.pivot(index="run", columns="task", values="cell")
    return table.loc[list(dict.fromkeys(summary["run"])), list(dict.fromkeys(summary["task"]))]
