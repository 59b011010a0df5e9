"""How sure a comparison is: intervals that cover both seeds and test sentences.

A run is trained with several seeds (initialisation and data order); every model is scored
on the same test sentences. Two things would change a reported number if we ran again: the
seeds (another initialisation and order) and the test sentences (another sample of the same
kind of sentence). Every interval here covers both:

- ``mean_interval``: a (seeds × sentences) array of per-sentence scores (1/0 correctness,
  or a paired difference of two runs' correctness) is a two-way crossed design. Its mean
  squares give the variance of the grand mean, σ²_seed/S + σ²_sentence/J + σ²_rest/(S·J),
  and a t-interval with Satterthwaite's degrees of freedom (with 3-5 seeds these are few,
  which is what widens the interval; a bootstrap that redraws 3 seeds covers about 82 %).
  ``paired_difference`` applies it to A − B on the same sentences, seed s against seed s.
- ``resampled_interval``: macro-F1 and STS Spearman are not means of per-item scores, so
  their variance is the spread over seeds plus a bootstrap over items (sentences, pairs)
  of the seed-averaged score (``macro_f1_interval``; a paired difference works alike).
- ``comparison_table``: a family of paired differences with Holm-adjusted p-values.
- ``summarize``: the spread over seeds alone (a t-interval), for scores that have no
  per-sentence parts (STS Spearman of a fixed pair set, logistic regression on fixed vectors).

Intervals are clipped to the score's range (accuracy in [0, 1], a difference in [−1, 1]).
``tests/test_evidence.py`` simulates data with known seed and sentence variance and checks
that about 95 % of intervals cover the true value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

TIDY_COLUMNS = ("run", "seed", "task", "metric", "value")
SHARES = ("accuracy", "macro_f1")  # metrics that live in [0, 1]


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Per run, task and metric of a tidy ``table``: seeds, mean, sd and a 95 % t-interval
    of the mean over seeds, clipped to [0, 1] for a share (accuracy, macro-F1); no interval
    from a single seed."""
    missing = [c for c in TIDY_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"summarize(): table lacks column(s) {missing}; expected {TIDY_COLUMNS}")
    rows = []
    for (run, task, metric), part in table.groupby(["run", "task", "metric"], sort=False):
        bounds = (0.0, 1.0) if metric in SHARES else (-np.inf, np.inf)
        values = part["value"].to_numpy(dtype=float)
        n, mean = len(values), float(values.mean())
        sd = float(values.std(ddof=1)) if n > 1 else float("nan")
        half = float(stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)) if n > 1 else float("nan")
        rows.append({"run": run, "task": task, "metric": metric, "seeds": n, "mean": mean,
                     "sd": sd, "ci_low": float(np.clip(mean - half, *bounds)),
                     "ci_high": float(np.clip(mean + half, *bounds))})
    return pd.DataFrame(rows)


def _mean_squares(values: np.ndarray) -> list[tuple[float, float, int]]:
    """(sign, mean square, degrees of freedom) terms whose signed sum, divided by the cell
    count, estimates the variance of the grand mean; a component whose mean square does not
    exceed the residual's is estimated as 0 (so the variance is never negative)."""
    seeds, sentences = values.shape
    by_seed, by_sentence = values.mean(axis=1), values.mean(axis=0)
    if seeds == 1:  # sentences are the only source left: the mean square is their variance
        return [(1.0, float(by_sentence.var(ddof=1)), sentences - 1)]
    rest = values - by_seed[:, None] - by_sentence[None, :] + values.mean()
    rest_df = (seeds - 1) * (sentences - 1)
    rest_square = float((rest**2).sum()) / rest_df
    kept = [(1.0, square, df) for square, df in (
        (sentences * float(by_seed.var(ddof=1)), seeds - 1),
        (seeds * float(by_sentence.var(ddof=1)), sentences - 1)) if square > rest_square]
    sign = {0: 1.0, 1: 0.0, 2: -1.0}[len(kept)]
    return kept + ([(sign, rest_square, rest_df)] if sign else [])


def _t_interval(mean: float, terms: list[tuple[float, float, float]], bounds: tuple[float, float],
                confidence: float) -> dict[str, float]:
    """Interval of ``mean`` whose variance is the signed sum of ``terms`` (sign, variance
    part, degrees of freedom), Satterthwaite's degrees of freedom, clipped to ``bounds``;
    ``p`` is the two-sided p-value of "the true value is 0"."""
    variance = sum(sign * part for sign, part, _ in terms)
    half, p = 0.0, float(mean == 0)
    if variance > 0:
        df = variance**2 / sum(part**2 / df for _, part, df in terms)
        half = float(stats.t.ppf(0.5 + confidence / 2, df) * np.sqrt(variance))
        p = float(2 * stats.t.sf(abs(mean) / np.sqrt(variance), df))
    return {"mean": mean, "ci_low": max(bounds[0], mean - half),
            "ci_high": min(bounds[1], mean + half), "p": p}


def mean_interval(values: np.ndarray, bounds: tuple[float, float] = (0.0, 1.0),
                  confidence: float = 0.95) -> dict[str, float]:
    """Mean of a (seeds, sentences) array with an interval over seeds *and* sentences.

    Row s holds seed s's score on each sentence (1/0 for right/wrong). The variance of the
    mean comes from the two-way crossed mean squares, the degrees of freedom from
    Satterthwaite; the interval is clipped to ``bounds``.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[1] < 2:
        raise ValueError(f"mean_interval(): need a (seeds, sentences) array with at least two "
                         f"sentences, got shape {values.shape}")
    terms = [(sign, square / values.size, df) for sign, square, df in _mean_squares(values)]
    return {**_t_interval(float(values.mean()), terms, bounds, confidence),
            "seeds": values.shape[0], "sentences": values.shape[1]}


def paired_difference(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, float]:
    """Accuracy of A minus accuracy of B with a 95 % interval over seeds and sentences.

    ``correct_a`` and ``correct_b``: (seeds, sentences) booleans, row s of both from seed s,
    column j from test sentence j (``mean_interval`` of the per-sentence differences).
    """
    a, b = np.asarray(correct_a, dtype=float), np.asarray(correct_b, dtype=float)
    if a.ndim != 2 or a.shape != b.shape or a.size == 0:
        raise ValueError(f"paired_difference(): need two equal (seeds, sentences) arrays, got "
                         f"shapes {a.shape} and {b.shape}")
    found = mean_interval(a - b, bounds=(-1.0, 1.0))
    return {"difference": found.pop("mean"), **found}


def resampled_interval(score: Callable[[np.ndarray], np.ndarray], items: int,
                       bounds: tuple[float, float], resamples: int = 400, seed: int = 0,
                       confidence: float = 0.95) -> dict[str, float]:
    """Mean over seeds of a score that is not a mean of per-item parts (macro-F1, Spearman).

    ``score(indices)`` gives one value per seed on those items (sentences, pairs). The
    variance is the spread over seeds / S plus the bootstrap variance, over items, of the
    seed-averaged score; Satterthwaite's degrees of freedom, clipped to ``bounds``.
    """
    per_seed = np.asarray(score(np.arange(items)), dtype=float)
    draws = np.random.default_rng(seed).integers(0, items, (resamples, items))
    resampled = np.array([np.mean(score(rows)) for rows in draws])
    terms = [(1.0, float(resampled.var(ddof=1)), items - 1)]
    if len(per_seed) > 1:
        terms.append((1.0, float(per_seed.var(ddof=1)) / len(per_seed), len(per_seed) - 1))
    return {**_t_interval(float(per_seed.mean()), terms, bounds, confidence),
            "seeds": len(per_seed), "items": items}


def macro_f1(true: np.ndarray, pred: np.ndarray, classes: int) -> float:
    """Macro-F1 as scikit-learn's ``f1_score(average="macro", labels=range(classes),
    zero_division=0)``, in numpy: fast enough to bootstrap."""
    hits = np.bincount(true[true == pred], minlength=classes)
    total = np.bincount(true, minlength=classes) + np.bincount(pred, minlength=classes)
    return float(np.mean(np.divide(2 * hits, total, out=np.zeros(classes), where=total > 0)))


def macro_f1_interval(true: np.ndarray, preds: np.ndarray, classes: int) -> dict[str, float]:
    """Mean macro-F1 over seeds (``preds``: seeds × sentences label ids), interval over
    seeds and sentences (``resampled_interval``)."""
    preds, true = np.asarray(preds), np.asarray(true)
    if preds.ndim != 2 or preds.shape[1] != len(true):
        raise ValueError(f"macro_f1_interval(): need (seeds, {len(true)}) predictions, got "
                         f"shape {preds.shape}")
    return resampled_interval(
        lambda rows: np.array([macro_f1(true[rows], pred[rows], classes) for pred in preds]),
        len(true), (0.0, 1.0))


def spearman_rows(scores: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row of ``scores`` (seeds × pairs) with ``gold``."""
    ranked = stats.rankdata(np.atleast_2d(scores), axis=1)
    return np.array([stats.pearsonr(row, stats.rankdata(gold)).statistic for row in ranked])


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of a family's p-values (controls the chance of any false
    claim in the family at the nominal level; five lines, so no statsmodels dependency)."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    adjusted = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order]).clip(max=1.0)
    return adjusted[np.argsort(order)]


def comparison_table(differences: Mapping[str, Mapping[str, float]], family: str,
                     digits: int = 3) -> pd.DataFrame:
    """One row per named difference: estimate, 95 % interval, p, Holm-adjusted p over the
    whole ``family`` (named in the table's title column) and the verdict at 0.05 after it."""
    names = list(differences)
    adjusted = holm([differences[name]["p"] for name in names])
    rows = []
    for name, p_holm in zip(names, adjusted, strict=True):
        found = differences[name]
        measurable = p_holm < 0.05
        rows.append({"comparison": name, "difference": round(found["difference"], digits),
                     "ci_low": round(found["ci_low"], digits),
                     "ci_high": round(found["ci_high"], digits), "p": round(found["p"], 4),
                     f"Holm p ({family}, {len(names)} tests)": round(float(p_holm), 4),
                     "verdict": ("higher" if found["difference"] > 0 else "lower")
                     if measurable else "no measurable difference"})
    return pd.DataFrame(rows).set_index("comparison")


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
