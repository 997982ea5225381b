"""Turn a results JSONL file into CSV or Parquet for pandas.

    python scripts/export.py results/generations/gpt-4o.jsonl
    python scripts/export.py results/generations/gpt-4o.jsonl --out gpt-4o.parquet

In CSV, a text cell a spreadsheet would run as a formula (starting with =, +, -, @, a tab or a
carriage return) gets a leading apostrophe; Parquet keeps the text as it is.
"""

from __future__ import annotations

from pathlib import Path

from harness.cli import add_set_aside_argument, script_parser, set_aside
from harness.export import FORMATS, export_results


def main(argv: list[str] | None = None) -> int:
    p = script_parser(__doc__)
    p.add_argument("results", type=Path, help="a JSONL file written by a run")
    p.add_argument("--out", type=Path, help="output file (default: beside the input, .csv)")
    p.add_argument("--format", choices=FORMATS, help="default: from --out's suffix, else csv")
    add_set_aside_argument(p)
    args = p.parse_args(argv)
    set_aside(args, args.results)
    dest, n = export_results(args.results, args.out, args.format)
    print(f"{n} rows written to {dest}")
    return 0

