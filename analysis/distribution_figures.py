"""Figures of the distribution analysis (matplotlib, Agg), each written as PNG and SVG.

- per-item bars: the human groups' and the models' distributions over one item's options
  (the study's notebooks drew these for pretrained vs aligned models);
- per dataset, a summary: mean distance to each human group per model (95 % CI, shuffled
  baseline as a hollow marker), and mean entropy per model beside the human groups'.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis.distributions import human_col, table_groups  # noqa: E402


def save_figure(fig, stem: Path) -> list[Path]:
    """Write `stem`.png and `stem`.svg and close the figure."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    return paths


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def plot_item_bars(table: pd.DataFrame, item_id: int, models: Sequence[str],
                   stem: Path) -> list[Path]:
    """Grouped bars over one item's options: each human group, then each model."""
    rows = table[table["item_id"] == item_id]
    if rows.empty:
        raise ValueError(f"item {item_id} is not in the table")
    first = rows.iloc[0]
    series: list[tuple[str, np.ndarray]] = []
    for g in table_groups(table):
        raw = first.get(human_col(g), "")
        if isinstance(raw, str) and raw:
            series.append((g, np.asarray(json.loads(raw))))
    n_human = len(series)
    for model in models:
        hit = rows[rows["model"] == model]
        if not hit.empty:
            series.append((model, np.asarray(json.loads(hit.iloc[0]["model_probs"]))))
    n_options = int(first["n_options"])
    options = json.loads(first["options"]) if first.get("options") else []
    letters = [chr(ord("A") + i) for i in range(n_options)]
    ticks = [f"{letter}. {textwrap.shorten(o, 28)}" if o else letter
             for letter, o in zip(letters, options or [""] * n_options, strict=False)]

    width = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * n_options + 2), 4.0))
    x = np.arange(n_options)
    for k, (label, p) in enumerate(series):
        hatch = "//" if k >= n_human else None  # models hatched, people plain
        ax.bar(x + (k - (len(series) - 1) / 2) * width, p, width, label=label, hatch=hatch)
    ax.set_xticks(x, ticks, rotation=20 if n_options > 4 else 0, ha="right")
    ax.set_ylabel("share of probability")
    ax.set_ylim(0, 1)
    question = textwrap.fill(str(first.get("question") or ""), 90)
    ax.set_title(f"{first['dataset']} item {item_id}\n{question}", fontsize=9)
    ax.legend(fontsize=8)
    return save_figure(fig, stem)


def plot_summary(summary: pd.DataFrame, humans: pd.DataFrame, dataset: str,
                 stem: Path) -> list[Path]:
    """Left: mean JS distance per model and human group (CI bars; shuffled baseline hollow).
    Right: mean model entropy per model, with the human groups' mean entropy as lines."""
    models = list(dict.fromkeys(summary["model"]))
    js = summary[summary["metric"] == "js"]
    groups = [g for g in dict.fromkeys(js["group"])
              if js[js["group"] == g]["mean"].notna().any()]
    fig, (left, right) = plt.subplots(1, 2, figsize=(max(8.0, 1.6 * len(models) + 5), 4.0))
    x = np.arange(len(models))
    width = 0.8 / max(len(groups), 1)
    for k, g in enumerate(groups):
        pos = x + (k - (len(groups) - 1) / 2) * width
        part = js[js["group"] == g].set_index("model").reindex(models)
        err = np.vstack([part["mean"] - part["ci_low"], part["ci_high"] - part["mean"]])
        left.bar(pos, part["mean"], width, yerr=np.nan_to_num(err), capsize=3, label=g)
        base = summary[(summary["metric"] == "js_shuffled") & (summary["group"] == g)]
        base = base.set_index("model").reindex(models)
        left.scatter(pos, base["mean"], marker="o", facecolors="none", edgecolors="black",
                     zorder=3, label="shuffled baseline" if k == 0 else None)
    left.set_xticks(x, models, rotation=20, ha="right")
    left.set_ylabel("Jensen-Shannon distance (base 2)")
    left.set_title("distance to human groups" if groups else "no human distributions given")
    if groups:
        left.legend(fontsize=8)

    ent = summary[summary["metric"] == "model_entropy"].set_index("model").reindex(models)
    err = np.vstack([ent["mean"] - ent["ci_low"], ent["ci_high"] - ent["mean"]])
    right.bar(x, ent["mean"], 0.6, yerr=np.nan_to_num(err), capsize=3, color="tab:gray")
    human_ent = humans[humans["metric"] == "human_entropy"] if not humans.empty else humans
    for k, (_, row) in enumerate(human_ent.iterrows()):
        if np.isfinite(row["mean"]):
            right.axhline(row["mean"], linestyle="--", color=f"C{k}",
                          label=f"{row['group']} (human)")
    tops = np.array([*ent["ci_high"], *human_ent.get("mean", [])], dtype=np.float64)
    top = np.nanmax(tops) if np.isfinite(tops).any() else 1.0
    right.set_ylim(0, 1.3 * top)  # room for the legend above the bars and lines
    right.set_xticks(x, models, rotation=20, ha="right")
    right.set_ylabel("entropy (nats)")
    right.set_title("entropy of the answer distribution")
    fig.suptitle(dataset)
    if len(human_ent):
        right.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, stem)


def item_figure_stem(out_dir: Path, dataset: str, item_id: int) -> Path:
    return Path(out_dir) / "figures" / f"{_safe(dataset)}_item_{item_id}"


def summary_figure_stem(out_dir: Path, dataset: str) -> Path:
    return Path(out_dir) / "figures" / f"{_safe(dataset)}_summary"
