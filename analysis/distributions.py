"""Compare models' answer distributions with human ones: distances, entropies, baselines, tests.

Pure functions over in-memory items (analysis.distribution_inputs reads the files). Distances
are Jensen-Shannon distances (the square root of the divergence) in base 2, so they lie in
[0, 1]; entropies are in nats. Both come from scipy, which normalises each distribution first.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy, wilcoxon

from analysis.item_bootstrap import mean_ci, paired_difference_ci


@dataclass(frozen=True)
class ItemDistribution:
    """One model's distribution over one item's options, with the human groups' for that item."""

    dataset: str
    model: str
    item_id: int
    probs: np.ndarray
    human: dict[str, np.ndarray] = field(default_factory=dict)  # group -> distribution
    question: str = ""
    options: tuple[str, ...] = ()
    letter_mass: float = float("nan")  # mean share of probability the option letters held
    flags: tuple[str, ...] = ()


# column names of the per-item table
def human_col(group: str) -> str:
    return f"human_probs:{group}"


def human_entropy_col(group: str) -> str:
    return f"human_entropy:{group}"


def js_col(group: str) -> str:
    return f"js:{group}"


def shuffled_col(group: str) -> str:
    return f"js_shuffled:{group}"


def humans_col(first: str, second: str) -> str:
    return f"js_humans:{first}|{second}"


def js_distance(p, q) -> np.ndarray | float:
    """Jensen-Shannon distance, base 2, along the last axis (1 for disjoint supports)."""
    d = jensenshannon(np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64),
                      base=2, axis=-1)
    return float(d) if np.ndim(d) == 0 else d


def entropy_nats(p) -> np.ndarray | float:
    """Shannon entropy in nats along the last axis (log 5 = 1.609 for a uniform 5-way answer)."""
    h = entropy(np.asarray(p, dtype=np.float64), axis=-1)
    return float(h) if np.ndim(h) == 0 else h


def item_rng(seed: int, item_id: int) -> np.random.Generator:
    """A generator for one item: the same permutations for every model and any item subset."""
    return np.random.default_rng([seed, item_id])


def permutations(n_options: int, n_shuffles: int, rng: np.random.Generator) -> np.ndarray:
    """`n_shuffles` random orderings of range(n_options), one per row."""
    return np.argsort(rng.random((n_shuffles, n_options)), axis=1)


def shuffled_js_distance(model, human, perms: np.ndarray) -> float:
    """Mean distance from the human distribution to the model's with its options permuted.

    The baseline a model reaches by spreading its probability the way it does, but on the wrong
    options: a model close to people for the right reasons beats it clearly.
    """
    model = np.asarray(model, dtype=np.float64)
    shuffled = model[perms]  # (n_shuffles, n_options)
    return float(np.mean(js_distance(shuffled, np.asarray(human, dtype=np.float64)[None, :])))


def groups_of(items: Iterable[ItemDistribution]) -> list[str]:
    """The human groups found in the items, in order of first appearance."""
    seen: dict[str, None] = {}
    for item in items:
        for g in item.human:
            seen.setdefault(g, None)
    return list(seen)


def _as_json(p: np.ndarray) -> str:
    return json.dumps([round(float(x), 6) for x in p])


def item_table(items: Sequence[ItemDistribution], n_shuffles: int = 10,
               seed: int = 0) -> pd.DataFrame:
    """One row per (model, item): distributions, distances, shuffled baselines, entropies.

    A human group missing for an item (or with no answers: NaN) gives NaN in its columns.
    """
    groups = groups_of(items)
    records = []
    for item in items:
        probs = np.asarray(item.probs, dtype=np.float64)
        perms = permutations(len(probs), n_shuffles, item_rng(seed, item.item_id))
        rec: dict[str, object] = {
            "dataset": item.dataset, "model": item.model, "item_id": item.item_id,
            "question": item.question, "options": json.dumps(list(item.options)),
            "n_options": len(probs),
            "model_probs": _as_json(probs), "model_entropy": entropy_nats(probs),
            "letter_mass": item.letter_mass, "flags": ";".join(item.flags),
        }
        for g in groups:
            h = item.human.get(g)
            usable = h is not None and np.all(np.isfinite(h))
            rec[human_col(g)] = _as_json(h) if usable else ""
            rec[human_entropy_col(g)] = entropy_nats(h) if usable else np.nan
            rec[js_col(g)] = js_distance(probs, h) if usable else np.nan
            rec[shuffled_col(g)] = shuffled_js_distance(probs, h, perms) if usable else np.nan
        for g1, g2 in combinations(groups, 2):
            h1, h2 = item.human.get(g1), item.human.get(g2)
            both = (h1 is not None and h2 is not None
                    and np.all(np.isfinite(h1)) and np.all(np.isfinite(h2)))
            rec[humans_col(g1, g2)] = js_distance(h1, h2) if both else np.nan
        records.append(rec)
    return pd.DataFrame.from_records(records)


def table_groups(table: pd.DataFrame) -> list[str]:
    """The human groups of a per-item table, read back from its column names."""
    prefix = js_col("")
    return [c[len(prefix):] for c in table.columns if c.startswith(prefix)]


def model_summary(table: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per model: mean distance to each group, shuffled baseline, entropy, letter mass, 95 % CIs."""
    rows = []
    groups = table_groups(table)
    for model, part in table.groupby("model", sort=False):
        metrics = [("js", g, part[js_col(g)]) for g in groups]
        metrics += [("js_shuffled", g, part[shuffled_col(g)]) for g in groups]
        metrics += [("model_entropy", "", part["model_entropy"]),
                    ("letter_mass", "", part["letter_mass"])]
        for metric, group, values in metrics:
            ci = mean_ci(values.to_numpy(dtype=np.float64), n_boot=n_boot, seed=seed)
            rows.append({"model": model, "metric": metric, "group": group, "mean": ci.mean,
                         "ci_low": ci.low, "ci_high": ci.high, "n_items": ci.n})
    return pd.DataFrame(rows, columns=["model", "metric", "group", "mean", "ci_low", "ci_high",
                                       "n_items"])


def human_summary(table: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per human group: mean entropy; per pair of groups: mean distance (each item once)."""
    per_item = table.drop_duplicates("item_id")
    rows = []
    groups = table_groups(table)
    metrics = [("human_entropy", g, per_item[human_entropy_col(g)]) for g in groups]
    metrics += [("js_humans", f"{g1}|{g2}", per_item[humans_col(g1, g2)])
                for g1, g2 in combinations(groups, 2)]
    for metric, group, values in metrics:
        ci = mean_ci(values.to_numpy(dtype=np.float64), n_boot=n_boot, seed=seed)
        rows.append({"metric": metric, "group": group, "mean": ci.mean, "ci_low": ci.low,
                     "ci_high": ci.high, "n_items": ci.n})
    return pd.DataFrame(rows, columns=["metric", "group", "mean", "ci_low", "ci_high", "n_items"])


def wilcoxon_paired(first, second) -> tuple[float, float]:
    """Wilcoxon signed-rank statistic and two-sided p for paired samples (NaN if undefined)."""
    a = np.asarray(first, dtype=np.float64)
    b = np.asarray(second, dtype=np.float64)
    d = b - a
    if len(d) == 0 or not np.any(d != 0):
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = wilcoxon(a, b)
    return float(res.statistic), float(res.pvalue)


def compare_pair(table: pd.DataFrame, pretrained: str, aligned: str, n_boot: int = 2000,
                 seed: int = 0) -> pd.DataFrame:
    """Pretrained vs aligned on the items both answered: per metric, means, the mean difference
    (aligned - pretrained) with a paired bootstrap CI, and the Wilcoxon signed-rank test."""
    cols = [js_col(g) for g in table_groups(table)] + ["model_entropy"]
    pre = table[table["model"] == pretrained].set_index("item_id")
    ali = table[table["model"] == aligned].set_index("item_id")
    common = pre.index.intersection(ali.index)
    rows = []
    for col in cols:
        a = pre.loc[common, col].to_numpy(dtype=np.float64)
        b = ali.loc[common, col].to_numpy(dtype=np.float64)
        keep = np.isfinite(a) & np.isfinite(b)
        a, b = a[keep], b[keep]
        diff = paired_difference_ci(a, b, n_boot=n_boot, seed=seed)
        stat, p = wilcoxon_paired(a, b)
        metric, _, group = col.partition(":")
        rows.append({"pretrained": pretrained, "aligned": aligned, "metric": metric,
                     "group": group, "n_items": int(len(a)),
                     "mean_pretrained": float(a.mean()) if len(a) else np.nan,
                     "mean_aligned": float(b.mean()) if len(b) else np.nan,
                     "mean_diff": diff.mean, "diff_ci_low": diff.low, "diff_ci_high": diff.high,
                     "wilcoxon_w": stat, "p_value": p})
    return pd.DataFrame(rows)
