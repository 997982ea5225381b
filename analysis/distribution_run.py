"""The distribution analysis of one or more datasets, from items to CSV tables, figures, report.

scripts/analyze_distributions.py parses flags and calls `analyze_dataset` and `write_outputs`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.distribution_figures import (
    item_figure_stem,
    item_options,
    plot_item_bars,
    plot_summary,
    summary_figure_stem,
)
from analysis.distribution_inputs import LoadReport
from analysis.distributions import (
    ItemDistribution,
    compare_pair,
    human_summary,
    item_table,
    model_summary,
)
from analysis.figure_style import figure_notice
from analysis.steerability import SteerResult

DATASET_TITLES = {"globalqa": "GlobalOpinionQA", "mpi": "MPI (IPIP-NEO-120 personality items)"}


@dataclass(frozen=True)
class Settings:
    shuffles: int = 10
    seed: int = 0
    n_boot: int = 2000


@dataclass
class DatasetResult:
    dataset: str
    table: pd.DataFrame
    summary: pd.DataFrame
    humans: pd.DataFrame
    pairs: pd.DataFrame
    load: LoadReport
    notes: list[str] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    steer: SteerResult | None = None  # the steered rows' results (analysis.steerability)

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(self.table["model"]))


def analyze_dataset(dataset: str, items: Sequence[ItemDistribution], load: LoadReport,
                    pairs: Sequence[tuple[str, str]], settings: Settings,
                    notes: Sequence[str] = ()) -> DatasetResult:
    """Per-item table, per-model summary, human summary and the pairs present in this dataset."""
    table = item_table(items, n_shuffles=settings.shuffles, seed=settings.seed)
    summary = model_summary(table, n_boot=settings.n_boot, seed=settings.seed)
    humans = human_summary(table, n_boot=settings.n_boot, seed=settings.seed)
    present = set(table["model"])
    notes = list(notes)
    compared = []
    for pre, ali in pairs:
        missing = [m for m in (pre, ali) if m not in present]
        if missing:
            notes.append(f"pair {pre} : {ali} not compared here: no {dataset} rows for "
                         f"{', '.join(missing)}.")
            continue
        compared.append(compare_pair(table, pre, ali, n_boot=settings.n_boot,
                                     seed=settings.seed))
    pair_table = pd.concat(compared, ignore_index=True) if compared else pd.DataFrame()
    return DatasetResult(dataset, table, summary, humans, pair_table, load, notes)


def models_to_plot(result: DatasetResult, pairs: Sequence[tuple[str, str]]) -> list[str]:
    """The paired models (pretrained, aligned) in pair order, or every model when unpaired."""
    paired = [m for pair in pairs for m in pair if m in set(result.models)]
    return list(dict.fromkeys(paired)) or result.models


def default_items(result: DatasetResult, k: int = 3) -> list[int]:
    """The first `k` item ids of the dataset, for the per-item figures."""
    return sorted(set(result.table["item_id"]))[:k]


def write_outputs(result: DatasetResult, out_dir: Path, pairs: Sequence[tuple[str, str]],
                  items: Sequence[int] | None = None, notice: str | None = None) -> None:
    """CSV tables and figures of one dataset under out_dir; figure paths kept on the result.

    `notice` (a demonstration) goes into every CSV as a column and every figure as a caption.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    d = result.dataset

    def csv(table: pd.DataFrame, name: str) -> None:
        (table.assign(notice=notice) if notice else table).to_csv(out_dir / name, index=False)

    csv(result.table, f"{d}_items.csv")
    csv(result.summary, f"{d}_models.csv")
    csv(result.humans, f"{d}_humans.csv")
    if not result.pairs.empty:
        csv(result.pairs, f"{d}_pairs.csv")
    with figure_notice(notice):
        _write_figures(result, out_dir, pairs, items)


def _write_figures(result: DatasetResult, out_dir: Path, pairs: Sequence[tuple[str, str]],
                   items: Sequence[int] | None) -> None:
    d = result.dataset
    figures = plot_summary(result.summary, result.humans, DATASET_TITLES.get(d, d),
                           summary_figure_stem(out_dir, d), item_options(result.table))
    chosen = default_items(result) if items is None else list(items)
    present = set(result.table["item_id"])
    for item_id in chosen:
        if item_id not in present:
            result.notes.append(f"item {item_id} asked for with --items has no {d} rows; "
                                "no figure drawn for it.")
            continue
        figures += plot_item_bars(result.table, item_id, models_to_plot(result, pairs),
                                  item_figure_stem(out_dir, d, item_id))
    result.figures = figures
