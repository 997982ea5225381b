"""When a bootstrap interval can be shown, and what replaces it where it cannot be trusted.

A percentile bootstrap over source items treats the items seen as the whole population. With
very few items, or where every item gives the same value (a share of 0 % or 100 %: every
resample is the same), it returns an interval of almost no width that says the number is
certain when it rests on a handful of items. Two rules, used by every table of both reports:

- Fewer than MIN_ITEMS source items: no interval (NaN), and the table says why (`ci_note`).
  Five: below it the bootstrap's spread is the plug-in variance of four values or fewer, far
  too small, and the resamples take so few distinct values that a 95 % percentile interval
  is often the range of the data itself; an exact bound is no better (4 of 4 items gives
  [40 %, 100 %]): the interval would describe how few items there are, not the model.
- A bounded measure (a share, or any per-item value in [0, 1]) whose bootstrap collapses (zero
  width, as it always does at 0 % and 100 %): the item-level Clopper-Pearson interval, each
  item counted as one trial with value x n_items successes (beta quantiles, so a fractional
  count works), joined with the bootstrap's. It is exact where the value is 0 or 1 (5 of 5
  items: [47.8 %, 100 %]) and conservative elsewhere, since an item is one observation
  however many prompts it holds. An unbounded measure whose bootstrap collapses has no
  interval, and says so.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import beta

#: the fewest source items an interval is shown for (see the module's docstring)
MIN_ITEMS = 5
NOTE_FEW_ITEMS = f"no interval: fewer than {MIN_ITEMS} source items"
NOTE_EXACT = "exact item-level bound (Clopper-Pearson): the bootstrap collapsed"
NOTE_COLLAPSED = "no interval: every source item gives the same value"


def item_exact_interval(value: float, n_items: int, level: float = 0.95
                        ) -> tuple[float, float]:
    """Clopper-Pearson interval of a share `value` observed on `n_items` items, each one trial.

    The successes x = value * n_items may be fractional (a mean share); the bounds are the
    beta quantiles Beta(a/2; x, n-x+1) and Beta(1-a/2; x+1, n-x), 0 and 1 at the ends.
    """
    alpha = 1.0 - level
    x = float(np.clip(value, 0.0, 1.0)) * n_items
    low = 0.0 if x <= 0 else float(beta.ppf(alpha / 2, x, n_items - x + 1))
    high = 1.0 if x >= n_items else float(beta.ppf(1 - alpha / 2, x + 1, n_items - x))
    return low, high


def collapsed(low: float, high: float, value: float) -> bool:
    """True when the bootstrap interval has (almost) no width, or the value sits at 0 or 1."""
    return bool(abs(high - low) <= 1e-12 or value <= 0.0 or value >= 1.0)


def checked_interval(value: float, low: float, high: float, n_items: int, *,
                     bounded: bool = True, level: float = 0.95) -> tuple[float, float, str]:
    """(low, high, note) to report for a bootstrap interval of a value over n_items items.

    The rules of this module; note is "" when the bootstrap interval stands as it is.
    `bounded`: the measure lies in [0, 1], so the exact bound applies where it collapses.
    """
    nan = float("nan")
    if not np.isfinite(value):
        return nan, nan, ""
    if n_items < MIN_ITEMS:
        return nan, nan, NOTE_FEW_ITEMS
    if not (np.isfinite(low) and np.isfinite(high)):
        return low, high, ""
    if bounded and collapsed(low, high, value):
        exact_low, exact_high = item_exact_interval(value, n_items, level)
        return min(low, exact_low), max(high, exact_high), NOTE_EXACT
    if not bounded and abs(high - low) <= 1e-12:
        return nan, nan, NOTE_COLLAPSED
    return low, high, ""
