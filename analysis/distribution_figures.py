"""Figures of the distribution analysis (matplotlib, Agg), each written as PNG and SVG.

- per-item bars: the human groups' and the models' distributions over one item's options
  (the study's notebooks drew these for pretrained vs aligned models);
- per dataset, a summary: mean distance to each human group per model (95 % CI, shuffled
  baseline as a hollow marker), and mean entropy per model beside the human groups'. Without
  human distributions the distance panel is left out (the caption says so).

Bars are horizontal (long option texts and model names stay readable), people are drawn in
greys and models in the colour-blind-safe series colours of `figure_style`.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.distributions import human_col, table_groups
from analysis.figure_style import (
    figure_stem,
    human_colour,
    legend_columns,
    new_figure,
    save_figure,
    series_colours,
    series_hatch,
    styled,
)

BAR_HEIGHT = 0.11  # inches per bar


def _item_series(table: pd.DataFrame, item_id: int,
                 models: Sequence[str]) -> tuple[pd.Series, list[tuple[str, np.ndarray, bool]]]:
    """The item's first row and its (label, distribution, is_human) series: people first."""
    rows = table[table["item_id"] == item_id]
    if rows.empty:
        raise ValueError(f"item {item_id} is not in the table")
    first = rows.iloc[0]
    series = []
    for g in table_groups(table):
        raw = first.get(human_col(g), "")
        if isinstance(raw, str) and raw:
            series.append((g, np.asarray(json.loads(raw)), True))
    for model in models:
        hit = rows[rows["model"] == model]
        if not hit.empty:
            series.append((model, np.asarray(json.loads(hit.iloc[0]["model_probs"])), False))
    return first, series


@styled
def item_bars_figure(table: pd.DataFrame, item_id: int, models: Sequence[str]) -> Figure:
    """Grouped horizontal bars over one item's options: each human group, then each model."""
    first, series = _item_series(table, item_id, models)
    n_options = int(first["n_options"])
    options = json.loads(first["options"]) if first.get("options") else []
    labels = [f"{chr(ord('A') + i)}. {textwrap.shorten(o, 34, placeholder='…')}" if o
              else chr(ord("A") + i)
              for i, o in enumerate((options or [""] * n_options)[:n_options])]
    colours = series_colours(table["model"].unique())
    n = max(len(series), 1)
    fig = new_figure(max(1.6, BAR_HEIGHT * n * n_options + 0.25 * n_options + 1.6))
    ax = fig.add_subplot()
    y = np.arange(n_options)
    height = 0.8 / n
    humans = 0
    for k, (label, p, is_human) in enumerate(series):
        colour = human_colour(humans) if is_human else colours[label]
        hatch = "" if is_human else series_hatch(label, list(colours))
        humans += is_human
        ax.barh(y + (k - (n - 1) / 2) * height, p * 100, height, color=colour, hatch=hatch,
                label=f"{label} (people)" if is_human else label, edgecolor="white",
                linewidth=0.3)
    ax.set_yticks(y, labels)
    ax.set_ylim(n_options - 0.5, -0.5)
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of answers (people) or of probability (models), %")
    question = textwrap.shorten(str(first.get("question") or ""), 240, placeholder="…")
    fig.suptitle(textwrap.fill(f"{first['dataset']} item {item_id}: {question}", 88))
    _, names = ax.get_legend_handles_labels()
    fig.legend(loc="outside lower center", ncols=legend_columns(names), frameon=False)
    return fig


def plot_item_bars(table: pd.DataFrame, item_id: int, models: Sequence[str],
                   stem: Path) -> list[Path]:
    """Draw and save one item's bars (PNG and SVG)."""
    return save_figure(item_bars_figure(table, item_id, models), stem)


def _distance_panel(ax, summary: pd.DataFrame, models: list[str], groups: list[str]) -> None:
    js = summary[summary["metric"] == "js"]
    y = np.arange(len(models))
    height = 0.8 / max(len(groups), 1)
    for k, g in enumerate(groups):
        pos = y + (k - (len(groups) - 1) / 2) * height
        part = js[js["group"] == g].set_index("model").reindex(models)
        err = np.vstack([part["mean"] - part["ci_low"], part["ci_high"] - part["mean"]])
        ax.barh(pos, part["mean"], height, xerr=np.nan_to_num(err).clip(0), capsize=2,
                color=human_colour(k), alpha=0.55 if k else 0.8, label=f"to {g}",
                error_kw={"elinewidth": 0.8})
        base = summary[(summary["metric"] == "js_shuffled") & (summary["group"] == g)]
        base = base.set_index("model").reindex(models)
        ax.scatter(base["mean"], pos, marker="o", s=14, facecolors="white",
                   edgecolors="#D55E00", zorder=3, label="shuffled baseline" if k == 0 else None)
    ax.set_yticks(y, models)
    ax.set_ylim(len(models) - 0.5, -0.5)
    ax.set_xlim(0, 1)
    ax.set_xlabel("Jensen-Shannon distance (base 2; 0 = same)")
    ax.set_title("Distance to human groups")


def uniform_entropy(n_options: Sequence[int]) -> tuple[float, float, str]:
    """(mean, largest) entropy in nats of answering uniformly over each item's options, and
    its label: the mean is where a uniform answerer's mean entropy lies, the largest is the
    axis' bound (no distribution over n options has more than ln n)."""
    counts = sorted({int(n) for n in n_options if n and n > 1})
    logs = np.log(np.asarray([int(n) for n in n_options if n and n > 1], dtype=np.float64))
    if len(counts) == 1:
        return float(logs.mean()), float(logs.max()), (
            f"uniform over {counts[0]} options (ln {counts[0]} = {logs.max():.2f})")
    return float(logs.mean()), float(logs.max()), (
        f"uniform over each item's options (mean ln n = {logs.mean():.2f})")


def _entropy_panel(ax, summary: pd.DataFrame, humans: pd.DataFrame, models: list[str],
                   show_names: bool, n_options: Sequence[int] = ()) -> None:
    ent = summary[summary["metric"] == "model_entropy"].set_index("model").reindex(models)
    err = np.vstack([ent["mean"] - ent["ci_low"], ent["ci_high"] - ent["mean"]])
    colours = series_colours(models)
    y = np.arange(len(models))
    ax.barh(y, ent["mean"], 0.6, xerr=np.nan_to_num(err).clip(0), capsize=2,
            color=[colours[m] for m in models], error_kw={"elinewidth": 0.8})
    human_ent = humans[humans["metric"] == "human_entropy"] if not humans.empty else humans
    for k, (_, row) in enumerate(human_ent.iterrows()):
        if np.isfinite(row["mean"]):
            ax.axvline(row["mean"], linestyle="--", color=human_colour(k), lw=1,
                       label=f"entropy of {row['group']} (people)")
    ax.set_yticks(y, models)
    ax.tick_params(labelleft=show_names)
    ax.set_ylim(len(models) - 0.5, -0.5)
    tops = np.array([*ent["ci_high"], *human_ent.get("mean", [])], dtype=np.float64)
    top = np.nanmax(tops) if np.isfinite(tops).any() else 1.0
    if any(n and n > 1 for n in n_options):
        # the axis runs to the largest entropy possible, marked by the uniform answer's
        mean, bound, label = uniform_entropy(n_options)
        ax.axvline(mean, linestyle=":", color="#444444", lw=1.2, label=label)
        top = max(top, bound)
    ax.set_xlim(0, 1.06 * top)
    ax.set_xlabel("entropy (nats)")
    ax.set_title("Entropy of the answer distribution")


def human_groups_with_distances(summary: pd.DataFrame) -> list[str]:
    """The human groups that have a mean distance for at least one model."""
    js = summary[summary["metric"] == "js"]
    return [g for g in dict.fromkeys(js["group"]) if js[js["group"] == g]["mean"].notna().any()]


@styled
def summary_figure(summary: pd.DataFrame, humans: pd.DataFrame, dataset: str,
                   n_options: Sequence[int] = ()) -> Figure:
    """Distances to people (when there are human distributions) and entropies, per model;
    `n_options` (one per item) bounds the entropy axis and marks the uniform answer."""
    models = list(dict.fromkeys(summary["model"]))
    groups = human_groups_with_distances(summary)
    rows = len(models) * max(len(groups), 1)
    fig = new_figure(max(1.8, 0.16 * rows + 1.5))
    if groups:
        left, right = fig.subplots(1, 2)
        _distance_panel(left, summary, models, groups)
        _entropy_panel(right, summary, humans, models, show_names=False, n_options=n_options)
        axes = [left, right]
    else:
        axes = [fig.add_subplot()]
        _entropy_panel(axes[0], summary, humans, models, show_names=True, n_options=n_options)
    handles, labels = [], []
    for ax in axes:
        h, lab = ax.get_legend_handles_labels()
        handles += h
        labels += lab
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=legend_columns(labels),
                   frameon=False)
    fig.suptitle(f"{dataset}: mean over items, bars 95 % intervals")
    return fig


def item_options(table: pd.DataFrame) -> list[int]:
    """Each item's number of options (an item counted once)."""
    return [int(n) for n in table.drop_duplicates("item_id")["n_options"]]


def plot_summary(summary: pd.DataFrame, humans: pd.DataFrame, dataset: str,
                 stem: Path, n_options: Sequence[int] = ()) -> list[Path]:
    """Draw and save the dataset's summary figure (PNG and SVG)."""
    return save_figure(summary_figure(summary, humans, dataset, n_options), stem)


def item_human_groups(table: pd.DataFrame, item_id: int) -> list[str]:
    """The human groups with a distribution for this item (what its bars draw in greys)."""
    first, series = _item_series(table, item_id, [])
    return [label for label, _, is_human in series if is_human]


def item_figure_stem(out_dir: Path, dataset: str, item_id: int) -> Path:
    return figure_stem(out_dir, f"{dataset}_item_{item_id}")


def summary_figure_stem(out_dir: Path, dataset: str) -> Path:
    return figure_stem(out_dir, f"{dataset}_summary")
