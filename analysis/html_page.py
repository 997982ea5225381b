"""Pieces of a self-contained report.html: figures inlined as data URIs, sortable tables, and
row browsers whose rows travel as JSON and are drawn by a few KB of our own JavaScript
(analysis/html/report.js). The page opens offline: it names no external URL.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

ASSETS = Path(__file__).resolve().parent / "html"


@dataclass(frozen=True)
class Column:
    """A browser column: the row key it shows, its heading, and how it is drawn
    (text, long: folded past 120 characters, evals: judge evals, bars: per-option bars)."""

    key: str
    label: str
    kind: str = "text"


@dataclass
class Browser:
    """A searchable, filterable table of many rows: `filters` are row keys offered as
    drop-downs, `flag` a boolean row key offered as a check box."""

    columns: Sequence[Column]
    rows: list[dict[str, Any]]
    filters: Sequence[tuple[str, str]] = ()
    flag: tuple[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def html(self) -> str:
        spec = {"columns": [c.__dict__ for c in self.columns], "rows": self.rows,
                "filters": [{"key": k, "label": label} for k, label in self.filters],
                "flag": {"key": self.flag[0], "label": self.flag[1]} if self.flag else None}
        # no "<" at all: "</script" would end the element early and "<!--<script" would make
        # the parser swallow the page's own script; JSON reads the escaped form as the same text
        data = json.dumps(spec, ensure_ascii=False, default=str).replace("<", "\\u003c")
        return f'<script type="application/json" class="browse-data">{data}</script>'


def esc(text: object) -> str:
    return html.escape(str(text))


def figure(png: Path, caption: str) -> str:
    """A figure inlined as a PNG data URI, with its caption."""
    data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{esc(caption)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def _cell(value: object, digits: int) -> str:
    if isinstance(value, float):
        if pd.isna(value):
            return '<td data-v="">–</td>'
        return f'<td data-v="{value!r}">{value:.{digits}f}</td>'
    if isinstance(value, str):  # a name (a model id with '/') may wrap; numbers never do
        return f'<td class="name">{esc(value)}</td>'
    return f"<td>{esc(value)}</td>"


def sortable_table(table: pd.DataFrame, digits: int = 3) -> str:
    """A table whose columns sort on a click (numbers as numbers)."""
    if table.empty:
        return "<p><em>(no rows)</em></p>"
    # a heading may break after "_" (<wbr>: its text stays the column's name), so a table
    # with many columns fits a 1280 px window without sideways scrolling
    head = "".join(f"<th>{esc(c).replace('_', '_<wbr>')}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(_cell(v, digits) for v in row) + "</tr>"
                   for row in table.itertuples(index=False))
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def paragraph(text: str, cls: str = "") -> str:
    return f'<p class="{cls}">{esc(text)}</p>' if cls else f"<p>{esc(text)}</p>"


def heading(text: str, level: int = 2) -> str:
    return f"<h{level}>{esc(text)}</h{level}>"


def page(title: str, body: Sequence[str]) -> str:
    """The whole document, with the report's CSS and JavaScript inline."""
    css = (ASSETS / "report.css").read_text(encoding="utf-8")
    script = (ASSETS / "report.js").read_text(encoding="utf-8")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width\"><title>{esc(title)}</title>"
            f"<style>{css}</style></head><body><h1>{esc(title)}</h1>\n"
            + "\n".join(body) + f"\n<script>{script}</script></body></html>\n")


def write_page(path: Path, title: str, body: Sequence[str]) -> Path:
    path = Path(path)
    path.write_text(page(title, body), encoding="utf-8")
    return path
