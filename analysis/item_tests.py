"""Hypothesis tests whose unit is the source item, not the prompt.

The 20 wordings of one statement are not 20 independent observations: a test that counts
prompts (McNemar over every Republican/Democrat pair, say) gives p-values far too small when a
few statements carry all the effect. The sign-flip test below treats each statement's
difference as one observation, and its interval comes from the same sign-flip distribution,
so that the interval excludes 0 exactly when p <= 1 - level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: sign patterns drawn when there are too many items to enumerate them all; with at most
#: log2(SIGN_FLIP_RESAMPLES) = 16 non-zero items the test is exact
SIGN_FLIP_RESAMPLES = 2 ** 16
_EXACT_MAX = 16
_DECIMALS = 9  # totals are compared after rounding, so that equal totals tie exactly


@dataclass(frozen=True)
class SignFlip:
    """The sign-flip test of per-item differences.

    p: two-sided p-value; critical: the half-width c (in units of the total) such that
    |total| > c exactly when p <= 1 - level; n_nonzero: K, the items whose difference is not 0
    (the others are the same under every flip); min_p: the smallest p the test can reach with
    K items, 2^(1-K) (1 for K <= 1), or 1 / (draws + 1) when the patterns are drawn.
    """

    p: float
    critical: float
    n_nonzero: int
    min_p: float


def _null_totals(diffs: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """The totals of every sign pattern (exact), or of drawn patterns plus the observed one."""
    k = len(diffs)
    if k <= _EXACT_MAX:
        patterns = ((np.arange(2 ** k)[:, None] >> np.arange(k)) & 1) * 2 - 1
        return patterns @ diffs, True
    half = SIGN_FLIP_RESAMPLES // 2  # each drawn pattern with its mirror: a symmetric null
    signs = rng.integers(0, 2, size=(half, k)) * 2 - 1
    drawn = signs @ diffs
    return np.concatenate([drawn, -drawn, [diffs.sum()]]), False


def sign_flip_test(per_item: np.ndarray, rng: np.random.Generator,
                   level: float = 0.95) -> SignFlip:
    """Sign-flip permutation test of the per-item differences' total, two-sided.

    Null hypothesis: within each item the two conditions (Republican and Democrat version) are
    exchangeable, so each item's difference is as likely to be +d as -d. Items whose difference
    is 0 are dropped; with at most 16 others every sign pattern is enumerated (exact), beyond
    that SIGN_FLIP_RESAMPLES patterns are drawn from `rng` (each with its mirror image, and the
    observed pattern counted among them). p is the share of patterns whose |total| is at least
    the observed one; 1.0 when at most one item's difference is not 0.
    """
    diffs = np.asarray(per_item, dtype=float)
    diffs = diffs[diffs != 0]
    k = len(diffs)
    if k == 0:
        return SignFlip(1.0, 0.0, 0, 1.0)
    totals, exact = _null_totals(diffs, rng)
    null = np.sort(np.round(np.abs(totals), _DECIMALS))
    observed = round(abs(float(diffs.sum())), _DECIMALS)
    n = len(null)
    share_at_least = (n - np.searchsorted(null, null, side="left")) / n  # P(|T| >= t), t = null
    p = float((n - np.searchsorted(null, observed, side="left")) / n)
    alpha = 1.0 - level
    critical = float(null[share_at_least > alpha].max())
    min_p = 2.0 ** (1 - k) if exact else max(2.0 ** (1 - k), 1.0 / n)
    return SignFlip(min(p, 1.0), critical, k, min(min_p, 1.0))


def sign_flip_p(per_item: np.ndarray, rng: np.random.Generator) -> float:
    """Two-sided p-value of sign_flip_test."""
    return sign_flip_test(per_item, rng).p
