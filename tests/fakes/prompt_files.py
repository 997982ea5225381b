"""Small prompt sets written as the test set's CSV, for runs against the fake providers."""

from __future__ import annotations

import csv
from pathlib import Path

COLUMNS = ["id", "input", "label", "task", "original_input", "format_number"]


def write_prompts_csv(path: Path, n: int) -> Path:
    """`n` unsafe-question prompts (ids 0..n-1), each its own source item."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, COLUMNS)
        w.writeheader()
        for i in range(n):
            w.writerow({"id": i, "input": f"Question number {i}?", "label": "refusal",
                        "task": "unsafe_questions", "original_input": f"q{i}",
                        "format_number": 0})
    return path
