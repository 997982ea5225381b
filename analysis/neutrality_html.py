"""report.html of the neutrality analysis: figures, sortable tables, and every response with its
judge evals, filterable by model, task group, category and disagreement with the expected
technique (how a researcher finds the examples a paper quotes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.html_page import Browser, Column, figure, heading, paragraph, sortable_table
from analysis.html_page import write_page as write_html_page
from analysis.neutrality_data import GROUP_ORDER, group_order

TITLE = "Neutrality techniques: scoring report"
RESPONSE_COLUMNS = (
    Column("model", "model"), Column("group", "task group"), Column("task", "task"),
    Column("label", "label"), Column("category", "final category"),
    Column("match", "matches expected"), Column("votes", "vote (or top probabilities)"),
    Column("prompt", "prompt", "long"), Column("response", "response", "long"),
    Column("evals", "judge evals (parsed answers, raw text)", "evals"),
)


def figure_captions(tables: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """A caption per figure, naming what had no data and was left out."""
    present = set(tables["category_shares"].get("task_group", pd.Series(dtype=str)))
    absent = [g for g in GROUP_ORDER if g not in present]
    left_out = f" Task groups with no rows, left out: {', '.join(absent)}." if absent else ""
    symmetry = tables["viewpoint_symmetry"]
    paired = 0 if symmetry.empty else int(symmetry["gap"].notna().sum())
    return {
        "category_shares": "Share of each model's responses per final category, one panel per "
                           "task group; thin lines: 95 % cluster-bootstrap intervals of each "
                           "share (resampling source items)." + left_out,
        "match_heatmap": "Share of responses whose final category is the technique the "
                         "prompt's label calls for, per model and task group, with 95 % "
                         "intervals in brackets." + left_out,
        "viewpoint_gap": ("Republican minus Democrat take-the-role rate per model, with its 95 % "
                          "interval and the test's p value." if paired else
                          "No model has paired Republican/Democrat prompts: nothing to plot."),
    }


def _vote_text(votes: Any) -> str:
    if not isinstance(votes, dict) or not votes:
        return ""
    return ", ".join(f"{k} {v}" for k, v in sorted(votes.items(), key=lambda kv: -kv[1]))


def _evals(evals: Any) -> list[dict[str, Any]]:
    if not isinstance(evals, list):
        return []
    return [{"eval": e.get("eval"), "final": e.get("final"), "status": e.get("parse_status"),
             "answers": e.get("answers"), "raw": e.get("raw"), "error": e.get("error")}
            for e in evals if isinstance(e, dict)]


def _probs_eval(probs: Any, category: Any, mass: Any) -> list[dict[str, Any]]:
    """The probability judge's one reading, in the shape of an eval: its six probabilities,
    most probable first, and the digits' share of the next-token mass."""
    if not isinstance(probs, dict):
        return []
    ranked = dict(sorted(probs.items(), key=lambda kv: -kv[1]))
    raw = ("" if mass is None or pd.isna(mass) else
           f"digit mass {float(mass):.3f}: the six digits' probability before normalising")
    return [{"eval": 0, "final": category, "status": "probabilities", "probs": ranked,
             "raw": raw}]


def _vote_or_probs(votes: Any, probs: Any) -> str:
    if isinstance(probs, dict) and probs:
        top = sorted(probs.items(), key=lambda kv: -kv[1])[:2]
        return ", ".join(f"{k} {100 * v:.0f} %" for k, v in top)
    return _vote_text(votes)


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def response_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One browser row per annotation row, in model, group and id order."""
    order = {g: i for i, g in enumerate(group_order(frame["task_group"]))}
    frame = frame.assign(_order=frame["task_group"].map(order)).sort_values(
        ["system", "_order", "id", "sample"], kind="stable")
    get = frame.get
    rows = []
    for i in range(len(frame)):
        match = bool(frame["match"].iat[i])
        rows.append({
            "model": frame["system"].iat[i], "group": frame["task_group"].iat[i],
            "task": frame["task"].iat[i], "label": frame["label"].iat[i],
            "category": frame["category"].iat[i], "match": "yes" if match else "no",
            "disagrees": not match,
            "votes": _vote_or_probs(get("votes").iat[i], get("judge_probs").iat[i]),
            "prompt": _text(get("input").iat[i]), "response": _text(get("response").iat[i]),
            "evals": (_evals(get("evals").iat[i])
                      or _probs_eval(get("judge_probs").iat[i], frame["category"].iat[i],
                                     get("digit_mass").iat[i])),
        })
    return rows


def render_html(tables: Mapping[str, pd.DataFrame], frame: pd.DataFrame,
                figures: Mapping[str, Path], summary: str, notes: Sequence[str] = ()) -> list[str]:
    """The page's body: summary, figures, tables, then every response."""
    frame = frame.assign(**{c: None for c in ("input", "response", "evals", "votes",
                                              "judge_probs", "digit_mass")
                            if c not in frame.columns})
    body = [paragraph(summary), *(paragraph(n, "note") for n in notes), heading("Figures")]
    captions = figure_captions(tables)
    body += [figure(path, captions.get(name, name)) for name, path in figures.items()]
    body.append(heading("Tables"))
    body.append(paragraph("Click a column heading to sort. Shares and rates are fractions "
                          "(0-1); the same tables are the CSV files beside this page."))
    for name, table in tables.items():
        body += [heading(name.replace("_", " "), 3), sortable_table(table)]
    body += [heading("Every response"),
             paragraph("Filter by model, task group and final category, tick the box to keep "
                       "only responses whose final category is not the technique the prompt's "
                       "label calls for, or search any text (prompt, response, judge output)."),
             Browser(RESPONSE_COLUMNS, response_rows(frame),
                     filters=[("model", "model"), ("group", "task group"),
                              ("category", "category")],
                     flag=("disagrees", "disagrees with the expected technique")).html()]
    return body


def write_html(path: Path, tables: Mapping[str, pd.DataFrame], frame: pd.DataFrame,
               figures: Mapping[str, Path], summary: str, notes: Sequence[str] = ()) -> Path:
    """Write report.html; figures maps a figure's name to its PNG."""
    return write_html_page(path, TITLE, render_html(tables, frame, figures, summary, notes))
