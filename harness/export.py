"""Result JSON Lines -> a flat table (CSV or Parquet) for pandas and spreadsheets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import UserError
from harness.results import read_jsonl

FORMATS = ("csv", "parquet")


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
            frame.to_csv(dest, index=False)
        else:
            frame.to_parquet(dest, index=False)
    except OSError as exc:
        raise UserError(f"cannot write {dest}: {exc.strerror}; choose another --out") from exc
    return dest, len(frame)
