"""Result JSON Lines -> a flat table (CSV or Parquet) for pandas and spreadsheets.

A spreadsheet runs a CSV cell that starts with =, +, -, @, a tab or a carriage return as a
formula, and a model's answer can start so: in CSV such a text cell gets a leading
apostrophe (as spreadsheets write it), and `restore_formula_text` takes it off again, so
`load_results` reads the CSV as the JSONL. Parquet keeps every text as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import UserError
from harness.results import read_jsonl

FORMATS = ("csv", "parquet")
#: a CSV cell starting with one of these is a formula to a spreadsheet
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _formula_like(text: str) -> bool:
    # apostrophes too: text that already starts with "'=" gets one more, so restoring is exact
    return text.lstrip("'").startswith(FORMULA_START)


def neutralise_formula(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, with an apostrophe in front."""
    return "'" + value if isinstance(value, str) and _formula_like(value) else value


def restore_formula_text(value: Any) -> Any:
    """The text `neutralise_formula` was given back."""
    if isinstance(value, str) and value.startswith("'") and _formula_like(value[1:]):
        return value[1:]
    return value


def rows_to_frame(rows: list[dict[str, Any]]) -> Any:
    """One column per field; a dict field becomes `field.key` columns; lists stay JSON text."""
    import pandas as pd

    frame = pd.json_normalize(rows, max_level=1) if rows else pd.DataFrame()
    for col in frame.columns:
        if frame[col].map(lambda v: isinstance(v, dict | list)).any():
            frame[col] = frame[col].map(
                lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v)
    return frame


def export_results(src: str | Path, dest: str | Path | None = None,
                   fmt: str | None = None) -> tuple[Path, int]:
    """Write `src` as CSV or Parquet (format from `fmt`, else dest's suffix, else CSV)."""
    src = Path(src)
    if fmt is None:
        fmt = Path(dest).suffix.lstrip(".").lower() if dest else "csv"
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}; use --format csv or --format parquet")
    dest = Path(dest) if dest else src.with_suffix("." + fmt)
    frame = rows_to_frame(list(read_jsonl(src)))
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "csv":
            text = frame.select_dtypes(include="object").columns
            frame[text] = frame[text].map(neutralise_formula)
            # RFC 4180 line ends: a carriage return inside a cell is then quoted, not a new row
            frame.to_csv(dest, index=False, lineterminator="\r\n")
        else:
            frame.to_parquet(dest, index=False)
    except OSError as exc:
        raise UserError(f"cannot write {dest}: {exc.strerror}; choose another --out") from exc
    return dest, len(frame)
