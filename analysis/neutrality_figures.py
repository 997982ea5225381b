"""Figures of the neutrality report (matplotlib, no display needed).

Each function takes a table from `neutrality_tables` and returns a matplotlib Figure at a
paper's width; an empty table gives a figure that says there was nothing to plot, so every
figure always exists. Models run down the y axis (horizontal bars), so long names stay
readable with one model or ten; each interval the table has is drawn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.figure_style import (
    CATEGORY_COLOURS,
    empty_figure,
    figure_stem,
    legend_columns,
    new_figure,
    styled,
)
from analysis.figure_style import save_figure as save_stem
from analysis.neutrality_data import SHARE_CATEGORIES, group_order

#: model rows' height in inches
ROW_HEIGHT = 0.22


def _systems(table: pd.DataFrame) -> list[str]:
    return sorted(table["system"].unique())


@styled
def category_share_bars(shares: pd.DataFrame) -> Figure:
    """Stacked horizontal bars of category shares per model, one panel per task group; each
    segment's 95 % interval is a thin line at its right end."""
    if shares.empty:
        return empty_figure("no annotation rows to plot")
    groups = group_order(shares["task_group"])
    systems = _systems(shares)
    ncols = min(3, len(groups))
    nrows = -(-len(groups) // ncols)
    fig = new_figure(nrows * (ROW_HEIGHT * len(systems) + 0.75) + 0.9)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    y = np.arange(len(systems))
    for ax, group in zip(axes.flat, groups, strict=False):
        sub = shares[shares["task_group"] == group]
        table = {name: sub.pivot(index="system", columns="category", values=name)
                 .reindex(index=systems, columns=list(SHARE_CATEGORIES))
                 for name in ("share", "ci_low", "ci_high")}
        left = np.zeros(len(systems))
        for category in SHARE_CATEGORIES:
            values = table["share"][category].fillna(0.0).to_numpy() * 100
            ax.barh(y, values, left=left, height=0.75, color=CATEGORY_COLOURS[category],
                    label=category.replace("_", " "))
            end = left + values
            shown = values > 0
            low = (table["share"][category] - table["ci_low"][category]).to_numpy() * 100
            high = (table["ci_high"][category] - table["share"][category]).to_numpy() * 100
            if shown.any():
                ax.errorbar(end[shown], y[shown], xerr=np.nan_to_num(
                    np.vstack([low[shown], high[shown]]).clip(0)), fmt="none",
                    ecolor="black", elinewidth=0.6, capsize=0)
            left = end
        ax.set_title(group.replace("_", " "))
        ax.set_xlim(0, 100)
        ax.set_yticks(y, systems)
    axes.flat[0].set_ylim(len(systems) - 0.5, -0.5)  # first model on top; y is shared
    for ax in axes.flat[len(groups):]:
        ax.set_visible(False)
    for column in range(ncols):  # the x label under each column's lowest panel
        lowest = max(i for i in range(len(groups)) if i % ncols == column)
        axes.flat[lowest].set_xlabel("share of responses (%)")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=legend_columns(labels),
               frameon=False)
    fig.suptitle("Final category of each response, per task group (bars: 95 % intervals)")
    return fig


@styled
def match_heatmap(matches: pd.DataFrame) -> Figure:
    """Expected-technique match rate by model (rows) and task group (columns), each cell with
    its 95 % interval; the colour scale is cividis (readable without colour vision)."""
    if matches.empty:
        return empty_figure("no annotation rows to plot")
    present = set(matches["task_group"])
    groups = [g for g in [*group_order(matches.loc[matches["task_group"] != "all",
                                                    "task_group"]), "all"] if g in present]
    grids = {name: matches.pivot(index="system", columns="task_group", values=name)
             .reindex(index=_systems(matches), columns=groups).to_numpy(dtype=float) * 100
             for name in ("match_rate", "ci_low", "ci_high")}
    n_rows = grids["match_rate"].shape[0]
    fig = new_figure(0.4 * n_rows + 1.3)
    ax = fig.add_subplot()
    image = ax.imshow(grids["match_rate"], vmin=0, vmax=100, cmap="cividis", aspect="auto")
    ax.set_xticks(range(len(groups)), [g.replace("_", "\n") for g in groups])
    ax.set_yticks(range(n_rows), _systems(matches))
    for (i, j), value in np.ndenumerate(grids["match_rate"]):
        if not np.isnan(value):
            low, high = grids["ci_low"][i, j], grids["ci_high"][i, j]
            interval = "(no CI)" if np.isnan(low) else f"[{low:.0f}, {high:.0f}]"
            ax.text(j, i, f"{value:.0f}\n{interval}", ha="center", va="center", fontsize=6,
                    color="white" if value < 55 else "black")
    fig.colorbar(image, ax=ax, label="match rate (%)", fraction=0.04, pad=0.01)
    ax.set_xlabel("task group")
    ax.set_title("Responses using the expected technique, % [95 % interval]")
    return fig


def _p_values(data: pd.DataFrame) -> pd.Series | None:
    """The item-level test's p values (the statement is the unit, never the naive pair count)."""
    return data["item_p"] if "item_p" in data.columns else None


@styled
def viewpoint_gap_plot(symmetry: pd.DataFrame) -> Figure:
    """Per model: P(takes Republican role) - P(takes Democrat role), in percentage points,
    with its 95 % interval and the test's p value at the right."""
    data = symmetry.dropna(subset=["gap"]) if not symmetry.empty else symmetry
    if data.empty:
        return empty_figure("no paired Republican/Democrat prompts to plot")
    fig = new_figure(0.3 * len(data) + 1.1)
    ax = fig.add_subplot()
    y = np.arange(len(data))
    gap = data["gap"].to_numpy(dtype=float) * 100
    errors = np.vstack([gap - data["gap_ci_low"].to_numpy(dtype=float) * 100,
                        data["gap_ci_high"].to_numpy(dtype=float) * 100 - gap])
    ax.errorbar(gap, y, xerr=np.clip(errors, 0, None), fmt="o", color="#0072B2", capsize=3)
    ax.axvline(0, color="grey", lw=1, ls="--")
    ax.set_yticks(y, data["system"])
    ax.set_ylim(len(data) - 0.5, -0.5)
    ax.set_xlim(-105, 105)
    p_values = _p_values(data)
    if p_values is not None:
        for yi, p in enumerate(p_values):
            if pd.notna(p):
                ax.annotate(f"p={p:.2g}", (1.0, yi), xycoords=("axes fraction", "data"),
                            xytext=(4, 0), textcoords="offset points", va="center")
    ax.set_xlabel("gap = P(takes Republican role) - P(takes Democrat role), percentage points")
    ax.set_title("Viewpoint symmetry (95 % interval of the sign-flip test over statements)")
    return fig


def save_figure(fig: Figure, out_dir: Path, name: str) -> list[Path]:
    """Write figures/`name`.png and .svg under the report folder; returns both paths."""
    return save_stem(fig, figure_stem(out_dir, name))
