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
from scipy.special import rel_entr
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
    backend: str = ""  # the backend (registry) name that produced the row
    model_id: str = ""  # the model id it ran (`model` names it in the reports)
    model_version: str = ""  # the exact version that answered, where the row records it
    steer_to: str | None = None  # the country or group it was steered to; None: unsteered


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
    """Jensen-Shannon distance, base 2, along the last axis (1 for disjoint supports).

    scipy's `jensenshannon` with the divergence clipped at 0: for two distributions a
    rounding step apart (0.1 + 0.2 against 0.3) its divergence comes out a hair below zero
    and its square root NaN, which would drop the item from every mean silently.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    p = p / p.sum(axis=-1, keepdims=True)
    q = q / q.sum(axis=-1, keepdims=True)
    m = (p + q) / 2.0
    divergence = (rel_entr(p, m).sum(axis=-1) + rel_entr(q, m).sum(axis=-1)) / (2 * np.log(2))
    d = np.sqrt(np.clip(divergence, 0.0, None))  # NaN inputs stay NaN
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


def _stack_human(items: Sequence[ItemDistribution], idx: list[int], group: str,
                 k: int) -> tuple[np.ndarray, np.ndarray]:
    """The group's distributions of the items at idx as a (len(idx), k) array, and which rows
    hold one (a group missing for an item, or without answers (NaN), is not usable)."""
    out = np.full((len(idx), k), np.nan)
    for row, i in enumerate(idx):
        h = items[i].human.get(group)
        if h is not None and len(h) == k:
            out[row] = h
    return out, np.isfinite(out).all(axis=1)


def item_table(items: Sequence[ItemDistribution], n_shuffles: int = 10,
               seed: int = 0) -> pd.DataFrame:
    """One row per (model, item): distributions, distances, shuffled baselines, entropies.

    Vectorised over the items with the same number of options. A human group missing for an
    item (or with no answers: NaN) gives NaN in its columns.
    """
    groups = groups_of(items)
    n = len(items)
    numeric = ["model_entropy"]
    for g in groups:
        numeric += [human_entropy_col(g), js_col(g), shuffled_col(g)]
    numeric += [humans_col(g1, g2) for g1, g2 in combinations(groups, 2)]
    values = {name: np.full(n, np.nan) for name in numeric}
    by_k: dict[int, list[int]] = {}
    for i, item in enumerate(items):
        by_k.setdefault(len(item.probs), []).append(i)
    perm_cache: dict[int, np.ndarray] = {}  # per item id: the same orders for every model
    for k, idx in by_k.items():
        rows = np.asarray(idx)
        probs = np.stack([np.asarray(items[i].probs, dtype=np.float64) for i in idx])
        values["model_entropy"][rows] = entropy_nats(probs)
        perms = np.stack([
            perm_cache.setdefault(items[i].item_id, permutations(
                k, n_shuffles, item_rng(seed, items[i].item_id))) for i in idx])
        shuffled = np.take_along_axis(probs[:, None, :], perms, axis=2)  # (items, shuffles, k)
        human = {g: _stack_human(items, idx, g, k) for g in groups}
        for g, (h, ok) in human.items():
            if ok.any():
                values[human_entropy_col(g)][rows[ok]] = entropy_nats(h[ok])
                values[js_col(g)][rows[ok]] = js_distance(probs[ok], h[ok])
                values[shuffled_col(g)][rows[ok]] = np.mean(
                    js_distance(shuffled[ok], h[ok][:, None, :]), axis=1)
        for g1, g2 in combinations(groups, 2):
            (h1, ok1), (h2, ok2) = human[g1], human[g2]
            both = ok1 & ok2
            if both.any():
                values[humans_col(g1, g2)][rows[both]] = js_distance(h1[both], h2[both])
    frame = pd.DataFrame({
        "dataset": [i.dataset for i in items], "model": [i.model for i in items],
        "model_id": [i.model_id or i.model for i in items],
        "model_version": [i.model_version for i in items],
        "item_id": [i.item_id for i in items], "question": [i.question for i in items],
        "options": [json.dumps(list(i.options)) for i in items],
        "n_options": [len(i.probs) for i in items],
        "model_probs": [_as_json(i.probs) for i in items],
        "letter_mass": [i.letter_mass for i in items],
        "flags": [";".join(i.flags) for i in items],
    })
    for g in groups:
        frame[human_col(g)] = [_as_json(i.human[g]) if g in i.human
                               and np.all(np.isfinite(i.human[g])) else "" for i in items]
    for name in numeric:
        frame[name] = values[name]
    return frame


#: measures that lie in [0, 1], for which a collapsed bootstrap gets the exact item bound
BOUNDED_METRICS = ("js", "js_shuffled", "letter_mass", "js_humans")


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
            ci = mean_ci(values.to_numpy(dtype=np.float64), n_boot=n_boot, seed=seed,
                         bounded=metric in BOUNDED_METRICS)
            rows.append({"model": model, "metric": metric, "group": group, "mean": ci.mean,
                         "ci_low": ci.low, "ci_high": ci.high, "n_items": ci.n,
                         "ci_note": ci.note})
    return pd.DataFrame(rows, columns=["model", "metric", "group", "mean", "ci_low", "ci_high",
                                       "n_items", "ci_note"])


def human_summary(table: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per human group: mean entropy; per pair of groups: mean distance (each item once)."""
    per_item = table.drop_duplicates("item_id")
    rows = []
    groups = table_groups(table)
    metrics = [("human_entropy", g, per_item[human_entropy_col(g)]) for g in groups]
    metrics += [("js_humans", f"{g1}|{g2}", per_item[humans_col(g1, g2)])
                for g1, g2 in combinations(groups, 2)]
    for metric, group, values in metrics:
        ci = mean_ci(values.to_numpy(dtype=np.float64), n_boot=n_boot, seed=seed,
                     bounded=metric in BOUNDED_METRICS)
        rows.append({"metric": metric, "group": group, "mean": ci.mean, "ci_low": ci.low,
                     "ci_high": ci.high, "n_items": ci.n, "ci_note": ci.note})
    return pd.DataFrame(rows, columns=["metric", "group", "mean", "ci_low", "ci_high", "n_items",
                                       "ci_note"])


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
                     "ci_note": diff.note, "wilcoxon_w": stat, "p_value": p})
    return pd.DataFrame(rows)
