"""Agreement between judges, or between the K evals of one judge, as pure functions.

Fleiss' kappa for K evals of one judge; Cohen's kappa, Krippendorff's alpha (nominal, the
`krippendorff` package) and a confusion matrix for two raters; a percentile bootstrap over
items gives each a 95 % confidence interval. Items a rater could not label are left out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import krippendorff
import numpy as np

Labels = Sequence[str]


def _codes(*raters: Labels, categories: Sequence[str] | None = None) -> tuple[np.ndarray, list]:
    cats = list(categories) if categories else sorted({x for r in raters for x in r})
    index = {c: i for i, c in enumerate(cats)}
    return np.array([[index[x] for x in r] for r in raters]), cats


def fleiss_kappa(ratings: Sequence[Sequence[str]]) -> float:
    """Fleiss' kappa: `ratings[i]` holds the labels item i got, the same number per item."""
    if not ratings:
        return float("nan")
    n = len(ratings[0])
    if n < 2 or any(len(r) != n for r in ratings):
        raise ValueError("Fleiss' kappa needs the same number (>= 2) of ratings per item")
    codes, cats = _codes(*ratings)
    counts = np.zeros((len(ratings), len(cats)))
    for i, row in enumerate(codes):
        np.add.at(counts[i], row, 1)
    p_item = ((counts * (counts - 1)).sum(axis=1)) / (n * (n - 1))
    p_cat = counts.sum(axis=0) / counts.sum()
    p_bar, p_e = p_item.mean(), float((p_cat ** 2).sum())
    return float("nan") if p_e == 1 else float((p_bar - p_e) / (1 - p_e))


def cohen_kappa(a: Labels, b: Labels) -> float:
    """Cohen's kappa between two raters of the same items."""
    if len(a) != len(b) or not a:
        raise ValueError("Cohen's kappa needs two equally long, non-empty label lists")
    (ca, cb), cats = _codes(a, b)
    p_o = float(np.mean(ca == cb))
    pa = np.bincount(ca, minlength=len(cats)) / len(ca)
    pb = np.bincount(cb, minlength=len(cats)) / len(cb)
    p_e = float((pa * pb).sum())
    return float("nan") if p_e == 1 else (p_o - p_e) / (1 - p_e)


def krippendorff_alpha(a: Labels, b: Labels) -> float:
    """Krippendorff's alpha (nominal) between two raters of the same items."""
    codes, cats = _codes(a, b)
    if len(cats) < 2:
        return float("nan")  # one value everywhere: no variation to agree about
    return float(krippendorff.alpha(reliability_data=codes.astype(float),
                                    level_of_measurement="nominal"))


def confusion_matrix(a: Labels, b: Labels, categories: Sequence[str]) -> list[list[int]]:
    """counts[i][j]: items rater a put in categories[i] and rater b in categories[j]."""
    index = {c: i for i, c in enumerate(categories)}
    counts = [[0] * len(categories) for _ in categories]
    for x, y in zip(a, b, strict=True):
        counts[index[x]][index[y]] += 1
    return counts


def bootstrap_ci(stat: Callable[[list[int]], float], n_items: int, *, reps: int = 1000,
                 seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of `stat(indices)` over item indices resampled with replacement.

    Resamples where the statistic is undefined (NaN: e.g. one category only) are dropped.
    """
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(reps):
        v = stat(rng.integers(0, n_items, n_items).tolist())
        if not np.isnan(v):
            values.append(v)
    if not values:
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return float(lo), float(hi)


def pair_agreement(a: Labels, b: Labels, categories: Sequence[str], *, reps: int = 1000,
                   seed: int = 0) -> dict:
    """Cohen's kappa, Krippendorff's alpha (each with a bootstrap CI) and the confusion
    matrix of two raters."""
    a, b = list(a), list(b)

    def pick(f: Callable[[Labels, Labels], float]) -> Callable[[list[int]], float]:
        return lambda idx: f([a[i] for i in idx], [b[i] for i in idx])

    out: dict = {"n": len(a), "percent_agreement": float(np.mean(np.array(a) == np.array(b)))}
    for name, f in (("cohen_kappa", cohen_kappa), ("krippendorff_alpha", krippendorff_alpha)):
        out[name] = f(a, b)
        out[name + "_ci"] = bootstrap_ci(pick(f), len(a), reps=reps, seed=seed)
    out["categories"] = list(categories)
    out["confusion"] = confusion_matrix(a, b, categories)
    return out


def evals_agreement(ratings: Sequence[Sequence[str]], *, reps: int = 1000,
                    seed: int = 0) -> dict:
    """Fleiss' kappa across the K evals of one judge, with a bootstrap CI."""
    ratings = [list(r) for r in ratings]
    kappa = fleiss_kappa(ratings)
    ci = bootstrap_ci(lambda idx: fleiss_kappa([ratings[i] for i in idx]), len(ratings),
                      reps=reps, seed=seed)
    return {"n": len(ratings), "raters": len(ratings[0]) if ratings else 0,
            "fleiss_kappa": kappa, "fleiss_kappa_ci": ci}
