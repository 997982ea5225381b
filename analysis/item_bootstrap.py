"""Percentile bootstrap over survey items: means and paired differences with 95 % intervals.

Items are the unit of resampling: each model answers each item once (its repetitions are already
averaged), so the items are the independent draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.interval_rules import MIN_ITEMS, checked_interval

# resample in chunks so a large item set never builds one huge (n_boot, n) index array
_CHUNK_CELLS = 4_000_000


@dataclass(frozen=True)
class MeanCI:
    mean: float
    low: float
    high: float
    n: int
    note: str = ""  # why the interval is missing or replaced (analysis.interval_rules)


def bootstrap_means(values: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Means of `n_boot` resamples (with replacement) of `values`, vectorised."""
    n = len(values)
    per_chunk = max(1, _CHUNK_CELLS // max(n, 1))
    out = np.empty(n_boot)
    for start in range(0, n_boot, per_chunk):
        stop = min(n_boot, start + per_chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = values[idx].mean(axis=1)
    return out


def mean_ci(values, n_boot: int = 2000, seed: int = 0, level: float = 0.95,
            bounded: bool = False) -> MeanCI:
    """Mean of the finite values with a seeded percentile-bootstrap interval (NaN when empty).

    The rules of analysis.interval_rules apply: no interval below MIN_ITEMS items; where the
    bootstrap collapses, the exact item-level bound for a `bounded` measure (values in
    [0, 1]), else none. `note` says which.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return MeanCI(float("nan"), float("nan"), float("nan"), 0)
    m = float(v.mean())
    if len(v) < MIN_ITEMS or n_boot <= 0:
        low, high, note = checked_interval(m, float("nan"), float("nan"), len(v))
        return MeanCI(m, low, high, len(v), note)
    means = bootstrap_means(v, n_boot, np.random.default_rng(seed))
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    low, high, note = checked_interval(m, float(low), float(high), len(v), bounded=bounded,
                                       level=level)
    return MeanCI(m, low, high, len(v), note)


def paired_difference_ci(first, second, n_boot: int = 2000, seed: int = 0,
                         level: float = 0.95) -> MeanCI:
    """Mean of second - first over items where both are finite, resampling items as pairs."""
    a = np.asarray(first, dtype=np.float64)
    b = np.asarray(second, dtype=np.float64)
    keep = np.isfinite(a) & np.isfinite(b)
    return mean_ci(b[keep] - a[keep], n_boot=n_boot, seed=seed, level=level)
