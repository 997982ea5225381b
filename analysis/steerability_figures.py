"""Figures of steerable pluralism (matplotlib, Agg), each written as PNG and SVG.

- per dataset, a dumbbell per model and target: the unsteered distance to the target's people
  (hollow circle), the steered one (filled), an arrow between them (pointing left: steering
  brought the model closer), and the steered distribution's mean distance to the other
  targets' people (a cross);
- per item and model, bars over the options: the unsteered distribution, then for each
  target its people (greys) and the distribution steered to it (colours).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.figure_style import (
    figure_stem,
    human_colour,
    legend_columns,
    new_figure,
    save_figure,
    series_colours,
    styled,
)

#: not a grey (people are greys) and not among the first targets' colours
UNSTEERED_COLOUR = "#DDCC77"


@styled
def dumbbell_figure(summary: pd.DataFrame, models: Sequence[str], title: str) -> Figure:
    """One panel per model: targets down, Jensen-Shannon distance across."""
    targets = list(dict.fromkeys(summary["target"]))
    fig = new_figure(max(1.8, 0.28 * len(targets) * 1 + 1.4))
    axes = np.atleast_1d(fig.subplots(1, len(models), sharey=True, squeeze=False)[0])
    y = np.arange(len(targets))
    for ax, model in zip(axes, models, strict=True):
        part = summary[summary["model"] == model].set_index("target").reindex(targets)
        u, s = part["js_unsteered"].to_numpy(float), part["js_steered"].to_numpy(float)
        for k in range(len(targets)):
            if np.isfinite(u[k]) and np.isfinite(s[k]) and abs(s[k] - u[k]) > 1e-9:
                ax.annotate("", xy=(s[k], y[k]), xytext=(u[k], y[k]),
                            arrowprops={"arrowstyle": "->", "color": "#332288", "lw": 1.0})
        ax.scatter(u, y, s=22, facecolors="white", edgecolors="#777777", zorder=3,
                   label="unsteered")
        ax.scatter(s, y, s=22, color="#332288", zorder=3, label="steered to the target")
        ax.scatter(part["js_steered_others"], y, marker="x", s=16, color="#CC6677", zorder=3,
                   label="steered, to the other targets' people")
        ax.set_title(textwrap.shorten(model, 40, placeholder="…"))
        ax.set_xlim(0, 1)
        ax.set_xlabel("JS distance to people (base 2)")
    axes[0].set_yticks(y, [textwrap.shorten(t, 28, placeholder="…") for t in targets])
    axes[0].set_ylim(len(targets) - 0.5, -0.5)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=legend_columns(labels),
               frameon=False)
    fig.suptitle(f"{title}: steering toward each target (mean over items)")
    return fig


@styled
def steer_item_figure(items: pd.DataFrame, item_id: int, model: str) -> Figure:
    """Bars over one item's options: unsteered, then per target its people and the steered."""
    rows = items[(items["item_id"] == item_id) & (items["model"] == model)]
    if rows.empty:
        raise ValueError(f"item {item_id} of {model} has no steered rows")
    first = rows.iloc[0]
    series: list[tuple[str, np.ndarray, str]] = []
    if first["unsteered_probs"]:
        series.append(("unsteered", np.asarray(json.loads(first["unsteered_probs"])),
                       UNSTEERED_COLOUR))
    colours = series_colours(list(rows["target"]))
    for k, (_, row) in enumerate(rows.iterrows()):
        if row["human_probs"]:
            series.append((f"{row['target']} (people)", np.asarray(json.loads(row["human_probs"])),
                           human_colour(k)))
        series.append((f"steered to {row['target']}",
                       np.asarray(json.loads(row["steered_probs"])), colours[row["target"]]))
    n_options = int(first["n_options"])
    options = json.loads(first["options"]) if first["options"] else []
    labels = [f"{chr(ord('A') + i)}. {textwrap.shorten(o, 34, placeholder='…')}" if o
              else chr(ord("A") + i) for i, o in enumerate(options or [""] * n_options)]
    n = max(len(series), 1)
    fig = new_figure(max(1.6, 0.11 * n * n_options + 0.25 * n_options + 1.6))
    ax = fig.add_subplot()
    y = np.arange(n_options)
    height = 0.8 / n
    for k, (label, p, colour) in enumerate(series):
        ax.barh(y + (k - (n - 1) / 2) * height, p * 100, height, color=colour, label=label,
                edgecolor="white", linewidth=0.3)
    ax.set_yticks(y, labels[:n_options])
    ax.set_ylim(n_options - 0.5, -0.5)
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of answers (people) or of probability (model), %")
    question = textwrap.shorten(str(first["question"] or ""), 200, placeholder="…")
    fig.suptitle(textwrap.fill(f"{first['dataset']} item {item_id}, {model}: {question}", 88))
    _, names = ax.get_legend_handles_labels()
    fig.legend(loc="outside lower center", ncols=legend_columns(names), frameon=False)
    return fig


def plot_dumbbells(summary: pd.DataFrame, models: Sequence[str], title: str,
                   out_dir: Path, dataset: str) -> list[Path]:
    return save_figure(dumbbell_figure(summary, models, title),
                       figure_stem(out_dir, f"{dataset}_steerability"))


def plot_steer_item(items: pd.DataFrame, item_id: int, model: str, out_dir: Path,
                    dataset: str) -> list[Path]:
    return save_figure(steer_item_figure(items, item_id, model),
                       figure_stem(out_dir, f"{dataset}_steer_item_{item_id}_{model}"))
