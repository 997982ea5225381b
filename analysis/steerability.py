"""Steerable pluralism: asked to answer as someone from a country or group, how much closer
does a model's answer distribution come to that country's or group's people?

Pure functions over in-memory items (analysis.distribution_inputs reads the rows). Per model,
dataset, target and item (`steer_item_table`): the Jensen-Shannon distance (base 2) of the
unsteered and the steered distribution to the target's people, their difference (the gain:
unsteered minus steered, positive when steering brought the model closer), the steered
distribution's mean distance to the OTHER targets' people (steering to Japan should move it
closer to Japan than to the United States), its shuffled baseline, and how far steering moved
the distribution at all (distance between unsteered and steered, defined without people).
Per model and target (`steerability_table`): item means, the gain's item-level percentile
bootstrap interval. Per pretrained:aligned pair (`steer_pair_table`): both gains on the items
both answered and the paired interval of their difference.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.distributions import (
    ItemDistribution,
    item_rng,
    js_distance,
    permutations,
)
from analysis.item_bootstrap import mean_ci, paired_difference_ci

#: target -> item id -> the target's people's distribution over the item's options
HumanByTarget = Mapping[str, Mapping[int, np.ndarray]]

SUMMARY_COLUMNS = ["dataset", "model", "target", "n_items", "js_unsteered", "js_steered",
                   "gain", "ci_low", "ci_high", "ci_note", "js_steered_others",
                   "js_steered_shuffled",
                   "js_shift", "n_shift_items"]
PAIR_COLUMNS = ["dataset", "target", "pretrained", "aligned", "n_items", "gain_pretrained",
                "gain_aligned", "diff", "diff_ci_low", "diff_ci_high", "ci_note"]


@dataclass
class SteerResult:
    """One dataset's steerability: per item, per model and target, per pair."""

    dataset: str
    items: pd.DataFrame
    summary: pd.DataFrame
    pairs: pd.DataFrame
    targets: list[str]
    has_humans: bool
    notes: list[str] = field(default_factory=list)
    figures: list = field(default_factory=list)  # paths, set when drawn


def _json(p: np.ndarray | None) -> str:
    return "" if p is None else json.dumps([round(float(x), 6) for x in p])


def _usable(p: np.ndarray | None, k: int) -> bool:
    return p is not None and len(p) == k and bool(np.all(np.isfinite(p)))


def human_from_rows(items: Sequence[ItemDistribution]) -> dict[str, dict[int, np.ndarray]]:
    """GlobalOpinionQA: each country's distribution per item, as the rows carry them."""
    out: dict[str, dict[int, np.ndarray]] = {}
    for item in items:
        for group, dist in item.human.items():
            out.setdefault(group, {})[item.item_id] = np.asarray(dist, dtype=np.float64)
    return out


def steer_item_table(unsteered: Sequence[ItemDistribution],
                     steered: Sequence[ItemDistribution], human: HumanByTarget,
                     n_shuffles: int = 10, seed: int = 0) -> pd.DataFrame:
    """One row per steered (model, target, item), with the distances above (NaN where the
    unsteered distribution or the people's is missing)."""
    plain = {(i.model, i.item_id): i for i in unsteered}
    targets = list(dict.fromkeys(i.steer_to for i in steered))
    rows = []
    for item in steered:
        k = len(item.probs)
        s = np.asarray(item.probs, dtype=np.float64)
        base = plain.get((item.model, item.item_id))
        u = np.asarray(base.probs, dtype=np.float64) if base is not None else None
        u = u if _usable(u, k) else None
        h = (human.get(item.steer_to) or {}).get(item.item_id)
        h = h if _usable(h, k) else None
        others = [o for o in targets if o != item.steer_to]
        other_h = [x for o in others
                   if _usable(x := (human.get(o) or {}).get(item.item_id), k)]
        js_u = js_distance(u, h) if u is not None and h is not None else np.nan
        js_s = js_distance(s, h) if h is not None else np.nan
        shuffled = np.nan
        if h is not None:
            perms = permutations(k, n_shuffles, item_rng(seed, item.item_id))
            shuffled = float(np.mean(js_distance(s[perms], h[None, :])))
        rows.append({
            "dataset": item.dataset, "model": item.model, "target": item.steer_to,
            "item_id": item.item_id, "question": item.question,
            "options": json.dumps(list(item.options)), "n_options": k,
            "steered_probs": _json(s), "unsteered_probs": _json(u), "human_probs": _json(h),
            "js_unsteered": js_u, "js_steered": js_s, "gain": js_u - js_s,
            "js_steered_others": (float(np.mean([js_distance(s, x) for x in other_h]))
                                  if other_h else np.nan),
            "js_steered_shuffled": shuffled,
            "js_shift": js_distance(u, s) if u is not None else np.nan,
        })
    return pd.DataFrame(rows)


def steerability_table(items: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per (dataset, model, target): means over the items with the unsteered, the steered and
    the people's distribution, and the gain's percentile-bootstrap 95 % interval under the
    project's interval rules (analysis.interval_rules: none below 5 items; `ci_note`)."""
    rows = []
    if items.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    for (dataset, model, target), part in items.groupby(["dataset", "model", "target"],
                                                        sort=False):
        full = part[np.isfinite(part["gain"].to_numpy(dtype=np.float64))]
        gain = mean_ci(full["gain"].to_numpy(dtype=np.float64), n_boot=n_boot, seed=seed)

        def mean(col: str, frame: pd.DataFrame = full) -> float:
            v = frame[col].to_numpy(dtype=np.float64)
            v = v[np.isfinite(v)]
            return float(v.mean()) if len(v) else float("nan")

        shift = part["js_shift"].to_numpy(dtype=np.float64)
        rows.append({"dataset": dataset, "model": model, "target": target, "n_items": gain.n,
                     "js_unsteered": mean("js_unsteered"), "js_steered": mean("js_steered"),
                     "gain": gain.mean, "ci_low": gain.low, "ci_high": gain.high,
                     "ci_note": gain.note,
                     "js_steered_others": mean("js_steered_others"),
                     "js_steered_shuffled": mean("js_steered_shuffled"),
                     "js_shift": mean("js_shift", part),
                     "n_shift_items": int(np.isfinite(shift).sum())})
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def steer_pair_table(items: pd.DataFrame, pretrained: str, aligned: str, n_boot: int = 2000,
                     seed: int = 0) -> pd.DataFrame:
    """Per target: the gains of the pretrained and the aligned model on the items both were
    steered on, and aligned minus pretrained with a paired bootstrap interval."""
    rows = []
    if items.empty:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    for (dataset, target), part in items.groupby(["dataset", "target"], sort=False):
        pre = part[part["model"] == pretrained].set_index("item_id")["gain"]
        ali = part[part["model"] == aligned].set_index("item_id")["gain"]
        common = pre.index.intersection(ali.index)
        if common.empty:
            continue
        a = pre.loc[common].to_numpy(dtype=np.float64)
        b = ali.loc[common].to_numpy(dtype=np.float64)
        keep = np.isfinite(a) & np.isfinite(b)
        diff = paired_difference_ci(a, b, n_boot=n_boot, seed=seed)
        rows.append({"dataset": dataset, "target": target, "pretrained": pretrained,
                     "aligned": aligned, "n_items": int(keep.sum()),
                     "gain_pretrained": float(a[keep].mean()) if keep.any() else np.nan,
                     "gain_aligned": float(b[keep].mean()) if keep.any() else np.nan,
                     "diff": diff.mean, "diff_ci_low": diff.low, "diff_ci_high": diff.high,
                     "ci_note": diff.note})
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def analyze_steering(dataset: str, unsteered: Sequence[ItemDistribution],
                     steered: Sequence[ItemDistribution], human: HumanByTarget,
                     pairs: Sequence[tuple[str, str]], *, n_shuffles: int = 10, seed: int = 0,
                     n_boot: int = 2000, notes: Sequence[str] = ()) -> SteerResult:
    """The steerability of one dataset's steered rows."""
    items = steer_item_table(unsteered, steered, human, n_shuffles=n_shuffles, seed=seed)
    summary = steerability_table(items, n_boot=n_boot, seed=seed)
    present = set(items["model"]) if not items.empty else set()
    compared = [steer_pair_table(items, pre, ali, n_boot=n_boot, seed=seed)
                for pre, ali in pairs if pre in present and ali in present]
    compared = [c for c in compared if not c.empty]
    pair_table = pd.concat(compared, ignore_index=True) if compared else pd.DataFrame(
        columns=PAIR_COLUMNS)
    targets = list(dict.fromkeys(i.steer_to for i in steered if i.steer_to is not None))
    has_humans = bool(not items.empty and np.isfinite(
        items["js_steered"].to_numpy(dtype=np.float64)).any())
    return SteerResult(dataset, items, summary, pair_table, targets, has_humans, list(notes))
