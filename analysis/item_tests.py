"""Hypothesis tests whose unit is the source item, not the prompt.

The 20 wordings of one statement are not 20 independent observations: a test that counts
prompts (McNemar over every Republican/Democrat pair, say) gives p-values far too small when a
few statements carry all the effect. The sign-flip test below treats each statement's
difference as one observation.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import permutation_test

#: sign patterns drawn when there are too many items to enumerate them all; with at most
#: log2(SIGN_FLIP_RESAMPLES) = 16 non-zero items the test is exact
SIGN_FLIP_RESAMPLES = 2 ** 16


def _total(x: np.ndarray, axis: int) -> np.ndarray:
    return x.sum(axis=axis)


def sign_flip_p(per_item: np.ndarray, rng: np.random.Generator) -> float:
    """Two-sided p-value of the per-item differences' total under random sign flips.

    Null hypothesis: within each item the two conditions (Republican and Democrat version) are
    exchangeable, so each item's difference is as likely to be +d as -d. Items whose difference
    is 0 are the same under every flip and are dropped; with at most 16 others every sign
    pattern is enumerated (exact), beyond that SIGN_FLIP_RESAMPLES patterns are drawn from
    `rng`. 1.0 when at most one item's difference is not 0 (both signs of one item are equally
    extreme).
    """
    diffs = np.asarray(per_item, dtype=float)
    diffs = diffs[diffs != 0]
    if len(diffs) < 2:
        return 1.0
    result = permutation_test((diffs,), _total, permutation_type="samples", vectorized=True,
                              n_resamples=SIGN_FLIP_RESAMPLES, alternative="two-sided",
                              random_state=rng)
    return float(result.pvalue)
