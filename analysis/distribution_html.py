"""report.html of the distribution analysis: per dataset the figures, the tables (sortable) and
every item's human and model distributions as bars, searchable by question text."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from analysis.distribution_figures import human_groups_with_distances, item_human_groups
from analysis.distribution_run import DATASET_TITLES, DatasetResult
from analysis.distributions import human_col, table_groups
from analysis.figure_style import human_colour, series_colours
from analysis.html_page import Browser, Column, figure, heading, paragraph, sortable_table
from analysis.html_page import write_page as write_html_page
from analysis.steerability_report import steer_html

TITLE = "Model and human answer distributions"
ITEM_COLUMNS = (Column("dataset", "dataset"), Column("item", "item"),
                Column("question", "question", "long"), Column("bars", "answers", "bars"))


def _probs(text: Any) -> list[float] | None:
    if not isinstance(text, str) or not text:
        return None
    values = json.loads(text)
    return [v if isinstance(v, (int, float)) and math.isfinite(v) else 0.0 for v in values]


def item_rows(r: DatasetResult) -> list[dict[str, Any]]:
    """One row per item: its options and every human group's and model's distribution."""
    groups = table_groups(r.table)
    colours = series_colours(r.models)
    rows = []
    for item_id, part in r.table.groupby("item_id", sort=True):
        first = part.iloc[0]
        options = json.loads(first["options"]) if first.get("options") else []
        n = int(first["n_options"])
        labels = [f"{chr(ord('A') + i)}. {o}" if o else chr(ord("A") + i)
                  for i, o in enumerate((options or [""] * n)[:n])]
        series = []
        for k, g in enumerate(groups):
            values = _probs(first.get(human_col(g)))
            if values:
                series.append({"label": f"{g} (people)", "values": values,
                               "colour": human_colour(k)})
        for _, row in part.iterrows():
            series.append({"label": row["model"], "values": _probs(row["model_probs"]) or [],
                           "colour": colours[row["model"]]})
        series += steered_series(r, int(item_id))
        rows.append({"dataset": r.dataset, "item": int(item_id),
                     "question": str(first.get("question") or ""),
                     "bars": {"options": labels, "series": series}})
    return rows


def steered_series(r: DatasetResult, item_id: int) -> list[dict[str, Any]]:
    """The item's steered distributions ("model → target"), after the unsteered ones."""
    if r.steer is None or r.steer.items.empty:
        return []
    rows = r.steer.items[r.steer.items["item_id"] == item_id]
    colours = series_colours(list(dict.fromkeys(r.steer.items["target"])))
    return [{"label": f"{row['model']} → {row['target']}",
             "values": _probs(row["steered_probs"]) or [], "colour": colours[row["target"]]}
            for _, row in rows.iterrows()]


def figure_caption(path: Path, r: DatasetResult) -> str:
    """What a figure shows, and what it leaves out for want of data."""
    if path.stem.endswith("_summary"):
        text = ("Mean over items per model, with 95 % bootstrap intervals: Jensen-Shannon "
                "distance to each human group (hollow circles: shuffled baseline) and entropy "
                "of the answer distribution (dashed lines: human groups).")
        if not human_groups_with_distances(r.summary):
            text = ("Mean entropy of each model's answer distribution over items, with 95 % "
                    "bootstrap intervals. No human distributions were given, so the distance "
                    "panel is left out.")
        return text + (" Dotted line: answering uniformly over the options, the most "
                       "entropy an answer can have.")
    item = path.stem.rsplit("_", 1)[-1]
    groups = item_human_groups(r.table, int(item)) if item.isdigit() else []
    if not groups:  # say what is drawn: no greys without human answers
        return (f"Item {item}: each model's probability over the options (no human answers "
                "were given for it).")
    return (f"Item {item}: the answer shares of {', '.join(groups)} (people, greys) and each "
            "model's probability over the options.")


def dataset_body(r: DatasetResult) -> list[str]:
    title = DATASET_TITLES.get(r.dataset, r.dataset)
    body = [heading(title), paragraph(f"{len(r.table)} rows, {r.table['item_id'].nunique()} "
                                      f"items, models: {', '.join(r.models)}.")]
    body += [paragraph(note, "note") for note in r.notes]
    body += [figure(p, figure_caption(p, r)) for p in r.figures if p.suffix == ".png"]
    for name, table in (("per model", r.summary), ("human groups", r.humans),
                        ("pretrained vs aligned", r.pairs)):
        if not table.empty:
            body += [heading(f"{title}: {name}", 3), sortable_table(table)]
    if r.steer is not None:
        body += steer_html(r.steer, title)
    return body


def write_html(results: Sequence[DatasetResult], out_dir: Path,
               sections: Sequence[str] = (), notice: str | None = None) -> Path:
    """Write report.html beside report.md; `sections`: further parts (e.g. Overton's);
    `notice` (a demonstration) heads it."""
    body = [paragraph(notice, "note")] if notice else []
    body += [paragraph("Figures and tables per dataset (click a column heading to sort), then "
                       "every item's distributions: search the questions, filter by dataset.")]
    rows: list[dict[str, Any]] = []
    for r in results:
        body += dataset_body(r)
        rows += item_rows(r)
    if rows:
        body += [heading("Every item"),
                 Browser(ITEM_COLUMNS, rows, filters=[("dataset", "dataset")]).html()]
    body += list(sections)
    return write_html_page(Path(out_dir) / "report.html", TITLE, body)
