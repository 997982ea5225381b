"""Figures of the neutrality report (matplotlib, no display needed).

Each function takes a table from `neutrality_tables` and returns a matplotlib Figure; an empty
table gives a figure that says there was nothing to plot, so every figure always exists.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from analysis.neutrality_data import SHARE_CATEGORIES, group_order  # noqa: E402

CATEGORY_COLOURS = {
    "refusal": "#b2182b", "avoidance": "#ef8a62", "reasonable_pluralism": "#67a9cf",
    "transparency": "#2166ac", "no_approximation": "#1b7837", "bias": "#762a83",
    "unreadable": "#bdbdbd",
}


def _empty(message: str) -> Figure:
    fig = Figure(figsize=(6, 2))
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center")
    return fig


def category_share_bars(shares: pd.DataFrame) -> Figure:
    """Stacked bars of category shares per model, one panel per task group."""
    if shares.empty:
        return _empty("no annotation rows to plot")
    groups = group_order(shares["task_group"])
    systems = sorted(shares["system"].unique())
    ncols = min(4, len(groups))
    nrows = -(-len(groups) // ncols)
    width = max(3.0, 0.45 * len(systems) + 1.2)
    fig = Figure(figsize=(width * ncols, 3.6 * nrows + 0.8), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    for ax, group in zip(axes.flat, groups, strict=False):
        table = (shares[shares["task_group"] == group]
                 .pivot(index="system", columns="category", values="share")
                 .reindex(index=systems, columns=list(SHARE_CATEGORIES)).fillna(0.0))
        bottom = np.zeros(len(systems))
        for category in SHARE_CATEGORIES:
            values = table[category].to_numpy()
            ax.bar(range(len(systems)), values, bottom=bottom,
                   color=CATEGORY_COLOURS[category], label=category, width=0.8)
            bottom += values
        ax.set_title(group)
        ax.set_xticks(range(len(systems)), systems, rotation=60, ha="right", fontsize=8)
        ax.set_ylim(0, 1)
    for ax in axes.flat[len(groups):]:
        ax.axis("off")
    axes[0, 0].set_ylabel("share of responses")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(SHARE_CATEGORIES),
               fontsize=8)
    return fig


def match_heatmap(matches: pd.DataFrame) -> Figure:
    """Expected-technique match rate by model (rows) and task group (columns)."""
    if matches.empty:
        return _empty("no annotation rows to plot")
    groups = [*group_order(matches.loc[matches["task_group"] != "all", "task_group"]), "all"]
    grid = matches.pivot(index="system", columns="task_group", values="match_rate") \
        .reindex(columns=[g for g in groups if g in set(matches["task_group"])])
    fig = Figure(figsize=(1.1 * grid.shape[1] + 2.5, 0.45 * grid.shape[0] + 1.8),
                 layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(grid.to_numpy(dtype=float), vmin=0, vmax=1, cmap="viridis",
                      aspect="auto")
    ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=40, ha="right")
    ax.set_yticks(range(grid.shape[0]), grid.index)
    for (i, j), value in np.ndenumerate(grid.to_numpy(dtype=float)):
        if not np.isnan(value):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if value < 0.6 else "black")
    fig.colorbar(image, ax=ax, label="match rate")
    ax.set_title("Expected-technique match rate")
    return fig


def viewpoint_gap_plot(symmetry: pd.DataFrame) -> Figure:
    """Per model: P(takes Republican role) - P(takes Democrat role) with its 95 % interval."""
    data = symmetry.dropna(subset=["gap"]) if not symmetry.empty else symmetry
    if data.empty:
        return _empty("no paired Republican/Democrat prompts to plot")
    fig = Figure(figsize=(6.5, 0.45 * len(data) + 1.6), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(data))
    gap = data["gap"].to_numpy(dtype=float)
    errors = np.vstack([gap - data["gap_ci_low"].to_numpy(dtype=float),
                        data["gap_ci_high"].to_numpy(dtype=float) - gap])
    ax.errorbar(gap, y, xerr=np.clip(errors, 0, None), fmt="o", color="#2166ac", capsize=3)
    ax.axvline(0, color="grey", lw=1, ls="--")
    ax.set_yticks(y, data["system"])
    ax.invert_yaxis()
    for yi, (g, p) in enumerate(zip(gap, data["item_p"], strict=True)):
        ax.annotate(f"p={p:.2g} (statements)", (g, yi), textcoords="offset points", xytext=(0, 7),
                    ha="center", fontsize=7)
    ax.set_xlabel("gap = P(takes Republican role) - P(takes Democrat role)")
    ax.set_title("Viewpoint symmetry (95 % interval over items)")
    return fig


def save_figure(fig: Figure, out_dir: Path, name: str) -> list[Path]:
    """Write `name`.png and `name`.svg; returns both paths."""
    paths = [out_dir / f"{name}.png", out_dir / f"{name}.svg"]
    for path in paths:
        fig.savefig(path, dpi=150)
    return paths
