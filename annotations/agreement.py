"""Agreement between judges, or between the K evals of one judge.

Fleiss' kappa for K evals of one judge; Cohen's kappa (both from statsmodels), Krippendorff's
alpha (nominal, the `krippendorff` package) and a confusion matrix for two raters; a percentile
bootstrap over source items (a statement with all its wordings, as every interval of the
project) gives each a 95 % confidence interval. Items a rater could not label are
left out. The statistics are pure functions; `final_labels`, `eval_labels` and `human_labels`
read and check the label files (annotation JSONL, human CSV), raising UserError for bad input.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Hashable, Iterator, Sequence
from pathlib import Path
from typing import Any

import krippendorff
import numpy as np
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from annotations.parse import CATEGORIES, category_name
from core.errors import UserError
from harness.results import read_checked_jsonl

#: the fewest source items an interval is shown for (the same rule as analysis.interval_rules)
MIN_ITEMS = 5
Labels = Sequence[str]
#: a response: (id, sample)
Key = tuple[Any, Any]


def _codes(*raters: Labels, categories: Sequence[str] | None = None) -> tuple[np.ndarray, list]:
    cats = list(categories) if categories else sorted({x for r in raters for x in r})
    index = {c: i for i, c in enumerate(cats)}
    return np.array([[index[x] for x in r] for r in raters]), cats


def fleiss_kappa(ratings: Sequence[Sequence[str]]) -> float:
    """Fleiss' kappa (statsmodels): `ratings[i]` holds the labels item i got, the same number
    per item; NaN when every label is the same (no variation to agree about)."""
    if not ratings:
        return float("nan")
    n = len(ratings[0])
    if n < 2 or any(len(r) != n for r in ratings):
        raise ValueError("Fleiss' kappa needs the same number (>= 2) of ratings per item")
    codes, cats = _codes(*ratings)
    if len(cats) < 2:
        return float("nan")
    counts, _ = aggregate_raters(codes, n_cat=len(cats))
    return float(sm_fleiss_kappa(counts, method="fleiss"))


def cohen_kappa(a: Labels, b: Labels) -> float:
    """Cohen's kappa (statsmodels) between two raters of the same items; NaN when both gave
    one and the same label throughout."""
    if len(a) != len(b) or not a:
        raise ValueError("Cohen's kappa needs two equally long, non-empty label lists")
    (ca, cb), cats = _codes(a, b)
    if len(cats) < 2:
        return float("nan")
    table = np.zeros((len(cats), len(cats)))
    np.add.at(table, (ca, cb), 1)
    return float(cohens_kappa(table, return_results=False))


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


def _item_groups(n_items: int, clusters: Sequence[Hashable] | None) -> list[list[int]]:
    """The response indices of each source item (each response its own item without
    `clusters`)."""
    if clusters is None:
        return [[i] for i in range(n_items)]
    if len(clusters) != n_items:
        raise ValueError("clusters needs one source item per response")
    groups: dict[Hashable, list[int]] = {}
    for i, item in enumerate(clusters):
        groups.setdefault(item, []).append(i)
    return list(groups.values())


def bootstrap_ci(stat: Callable[[list[int]], float], n_items: int, *, reps: int = 1000,
                 seed: int = 0, level: float = 0.95,
                 clusters: Sequence[Hashable] | None = None) -> tuple[float, float]:
    """Percentile interval of `stat(indices)` over source items resampled with replacement.

    `clusters` names each response's source item (its `original_input`): the items are drawn
    and every response of a drawn item goes in, since the wordings of one statement are not
    independent, as in every other interval of the project. Without it each response is its
    own item. Resamples where the statistic is undefined (NaN: e.g. one category only) are
    dropped. NaN below MIN_ITEMS items (analysis's interval rule) and where every resample
    gives the same value (perfect agreement on a few items is not certainty); `ci_note` says
    which.
    """
    groups = _item_groups(n_items, clusters)
    if len(groups) < MIN_ITEMS:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(reps):
        picks = rng.integers(0, len(groups), len(groups))
        v = stat([i for g in picks.tolist() for i in groups[g]])
        if not np.isnan(v):
            values.append(v)
    if not values:
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail])
    if hi - lo <= 1e-12:
        return float("nan"), float("nan")
    return float(lo), float(hi)


def ci_note(n_items: int, clusters: Sequence[Hashable] | None, ci: tuple[float, float]) -> str:
    """Why an agreement interval is missing ('' when it is there)."""
    if not np.isnan(ci[0]):
        return ""
    if len(_item_groups(n_items, clusters)) < MIN_ITEMS:
        return f"no interval: fewer than {MIN_ITEMS} source items"
    return "no interval: every resample gives the same value"


def pair_agreement(a: Labels, b: Labels, categories: Sequence[str], *, reps: int = 1000,
                   seed: int = 0, clusters: Sequence[Hashable] | None = None) -> dict:
    """Cohen's kappa, Krippendorff's alpha (each with a bootstrap CI over source items,
    `clusters`: see bootstrap_ci) and the confusion matrix of two raters."""
    a, b = list(a), list(b)

    def pick(f: Callable[[Labels, Labels], float]) -> Callable[[list[int]], float]:
        return lambda idx: f([a[i] for i in idx], [b[i] for i in idx])

    out: dict = {"n": len(a), "percent_agreement": float(np.mean(np.array(a) == np.array(b))),
                 "n_items": len(_item_groups(len(a), clusters))}
    for name, f in (("cohen_kappa", cohen_kappa), ("krippendorff_alpha", krippendorff_alpha)):
        out[name] = f(a, b)
        out[name + "_ci"] = bootstrap_ci(pick(f), len(a), reps=reps, seed=seed,
                                         clusters=clusters)
        out[name + "_ci_note"] = ci_note(len(a), clusters, out[name + "_ci"])
    out["categories"] = list(categories)
    out["confusion"] = confusion_matrix(a, b, categories)
    return out


def evals_agreement(ratings: Sequence[Sequence[str]], *, reps: int = 1000,
                    seed: int = 0, clusters: Sequence[Hashable] | None = None) -> dict:
    """Fleiss' kappa across the K evals of one judge, with a bootstrap CI over source items
    (`clusters`: see bootstrap_ci)."""
    ratings = [list(r) for r in ratings]
    kappa = fleiss_kappa(ratings)
    ci = bootstrap_ci(lambda idx: fleiss_kappa([ratings[i] for i in idx]), len(ratings),
                      reps=reps, seed=seed, clusters=clusters)
    return {"n": len(ratings), "n_items": len(_item_groups(len(ratings), clusters)),
            "raters": len(ratings[0]) if ratings else 0,
            "fleiss_kappa": kappa, "fleiss_kappa_ci": ci,
            "fleiss_kappa_ci_note": ci_note(len(ratings), clusters, ci)}


# ---- label files ---------------------------------------------------------------------------
_ANNOTATION_FIX = "pass an annotation file written by scripts/annotate.py"


def _not_annotations(path: Path, what: str) -> UserError:
    return UserError(f"{path} {what}; {_ANNOTATION_FIX}")


def _annotation_rows(path: Path, field: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) of an annotation JSONL; each row must hold `id` and `field`."""
    return read_checked_jsonl(path, ("id", field), what="annotation file", fix=_ANNOTATION_FIX)


def final_labels(path: Path) -> dict[Key, str]:
    """(id, sample) -> the row's final category, readable rows only (the last row of a key
    wins). Raises UserError for a file that is not an annotation file."""
    labels: dict[Key, str] = {}
    n_rows = 0
    for number, row in _annotation_rows(path, "final_category"):
        n_rows += 1
        final = row["final_category"]
        if final is not None and final not in CATEGORIES:
            raise _not_annotations(path, f"line {number} has final_category {final!r}, not "
                                   "one of " + ", ".join(CATEGORIES))
        key = (row["id"], row.get("sample", 0))
        labels.pop(key, None)
        if final:
            labels[key] = final
    if not n_rows:
        raise _not_annotations(path, "holds no rows")
    return labels


def judge_mode(path: Path) -> str:
    """'probs' for a file written by annotate.py --judge-mode probs, else 'json'."""
    for _, row in _annotation_rows(path, "final_category"):
        return "probs" if row.get("judge_mode") == "probs" else "json"
    return "json"


def source_items(path: Path) -> dict[Key, str]:
    """(id, sample) -> the response's source item, its `original_input` (the statement: its
    plain and Republican/Democrat versions, or a conspiracy topic's two framings, are one
    item); a row without one (not written by annotate.py) is its own item."""
    items: dict[Key, str] = {}
    for _, row in _annotation_rows(path, "final_category"):
        key = (row["id"], row.get("sample", 0))
        item = row.get("original_input")
        items[key] = f"\x1fresponse {key}" if item is None else str(item)
    return items


def eval_ratings(path: Path) -> tuple[dict[Key, list[str]], int]:
    """(id, sample) -> its K evals' categories, for the responses with every eval readable,
    and how many were left out; see eval_labels."""
    by_key: dict[Key, list[str | None]] = {}
    for number, row in _annotation_rows(path, "evals"):
        evals = row["evals"]
        if not isinstance(evals, list) or not all(isinstance(e, dict) and "final" in e
                                                  for e in evals):
            raise _not_annotations(path, f"line {number}: 'evals' is not a list of evals "
                                   "each with a 'final'")
        by_key[(row["id"], row.get("sample", 0))] = [e["final"] for e in evals]
    if not by_key:
        raise _not_annotations(path, "holds no rows")
    k = max(len(f) for f in by_key.values())
    if k < 2:
        raise UserError(f"{path} has one eval per response; rerun annotate.py with "
                        "--n-evals 3 (or more) to measure agreement between evals")
    kept = {key: f for key, f in by_key.items() if len(f) == k and all(f)}
    return kept, len(by_key) - len(kept)  # type: ignore[return-value]


def eval_labels(path: Path) -> tuple[list[list[str]], int]:
    """Per response, its K evals' categories, and how many responses were left out (one
    with an eval unreadable or missing). Raises UserError for a file that is not an
    annotation file, or one with a single eval per response."""
    kept, dropped = eval_ratings(path)
    return list(kept.values()), dropped


def human_labels(path: Path) -> dict[Key, str]:
    """(id, sample) -> category from a CSV of id,label[,sample]; labels as names or 1-6."""
    if not path.is_file():
        raise UserError(f"human label file {path} does not exist")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not {"id", "label"} <= set(reader.fieldnames or []):
            raise UserError(f"{path} needs columns id and label")
        out = {}
        for n, row in enumerate(reader, start=2):
            label = category_name(row["label"])
            if label is None:
                raise UserError(f"{path} line {n}: label {row['label']!r} is not a category; use "
                                "1-6 or one of " + ", ".join(CATEGORIES))
            try:
                key = (int(row["id"]), int(row.get("sample") or 0))
            except ValueError as exc:
                raise UserError(f"{path} line {n}: id and sample must be integers") from exc
            out[key] = label
    return out


def shared_labels(a: dict[Key, str], b: dict[Key, str]) -> tuple[list[str], list[str]]:
    """The two raters' labels of the responses both labelled, in key order."""
    both = sorted(set(a) & set(b))
    if not both:
        raise UserError("the two label sets share no (id, sample) with a readable label")
    return [a[k] for k in both], [b[k] for k in both]
