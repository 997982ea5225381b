"""A vectorised cluster bootstrap: resample whole source items, not single prompts.

The prompts of one source item (its 20 wordings, or its Republican and Democrat versions) are
not independent, so a confidence interval must resample items. Each bootstrap draw is a vector
of item weights (how often each item was drawn); any statistic that is a
ratio of per-item sums is then one matrix product for all draws at once.
"""

from __future__ import annotations

import warnings
import zlib

import numpy as np

DEFAULT_N_BOOT = 2000


def seeded_rng(seed: int, *key: str) -> np.random.Generator:
    """A generator fixed by the seed and a key (e.g. model and task group).

    Keying by group keeps one group's intervals the same whatever other rows are analysed, and
    gives every statistic of one group the same resampled items.
    """
    digest = zlib.crc32("\x1f".join(key).encode("utf-8"))
    return np.random.default_rng([seed, digest])


def item_weights(n_items: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n_items) draw counts: each row resamples n_items items with replacement.

    Drawn as item indices and counted with one bincount (a multinomial draw per row is ~10x
    slower for the same distribution).
    """
    if n_items == 0:
        return np.zeros((n_boot, 0))
    picks = rng.integers(0, n_items, size=(n_boot, n_items))
    picks += np.arange(n_boot)[:, None] * n_items
    counts = np.bincount(picks.ravel(), minlength=n_boot * n_items)
    return counts.reshape(n_boot, n_items).astype(float)


def resampled_sums(per_item: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Column sums of the per-item matrix under each draw: (n_boot, n_columns)."""
    return weights @ np.asarray(per_item, dtype=float).reshape(weights.shape[1], -1)


def resampled_ratios(numerators: np.ndarray, denominators: np.ndarray,
                     weights: np.ndarray) -> np.ndarray:
    """Ratio of resampled sums per draw: numerators (n_items, k) over denominators (n_items,).

    A draw whose denominator is zero (only empty items drawn) gives NaN and is left out of the
    interval.
    """
    top = resampled_sums(numerators, weights)
    bottom = resampled_sums(denominators, weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        return top / bottom


def percentile_interval(draws: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval per column of (n_boot, k) draws, ignoring NaN draws."""
    draws = np.asarray(draws, dtype=float)
    if draws.ndim == 1:
        draws = draws[:, None]
    alpha = (1.0 - level) / 2.0
    if draws.shape[0] == 0 or draws.shape[1] == 0 or np.all(np.isnan(draws)):
        nan = np.full(draws.shape[1], np.nan)
        return nan, nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column with no valid draw is NaN
        low, high = np.nanquantile(draws, [alpha, 1.0 - alpha], axis=0)
    return low, high


def ratio_interval(numerators: np.ndarray, denominators: np.ndarray, n_boot: int,
                   rng: np.random.Generator, level: float = 0.95
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Cluster-bootstrap percentile interval of sum(numerators) / sum(denominators)."""
    numerators = np.asarray(numerators, dtype=float)
    weights = item_weights(numerators.shape[0], n_boot, rng)
    return percentile_interval(resampled_ratios(numerators, denominators, weights), level)
