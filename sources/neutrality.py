"""The seven raw sources of the neutrality test set, read and checked.

Three of them share one file (data_political_opinions.csv) and are told apart by its
`Source` column, as in the study.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError


@dataclass(frozen=True)
class SourceSpec:
    name: str  # short name used in the output's `source` column
    file: str  # file name inside <data-dir>/neutrality/
    column: str  # the column holding the text a prompt is built from
    source_value: str | None = None  # keep rows whose `Source` equals this


VOTING = SourceSpec("voting_questions", "data_voting_questions.csv", "Question")
PCT = SourceSpec("political_compass_test", "data_political_opinions.csv", "Text",
                 "Political Compass Test")
DEBATUNE = SourceSpec("debatune", "data_political_opinions.csv", "Text", "DEBATUNE")
TOPICS = SourceSpec("bang_topics", "data_political_opinions.csv", "Text", "Bang et.al.(2024)")
CONSPIRACY = SourceSpec("conspiracy_theories", "data_political_conspiracy.csv", "Topic")
UDHR = SourceSpec("udhr", "data_universal_rights.csv", "Text")
UNSAFE = SourceSpec("pku_saferlhf", "data_political_unsafe.csv", "prompt")

ALL_SOURCES = (VOTING, PCT, DEBATUNE, TOPICS, CONSPIRACY, UDHR, UNSAFE)


def read_csv_rows(path: Path, columns: list[str]) -> list[dict[str, str]]:
    """Rows of a CSV (BOM tolerated), text kept exactly as written: no stripping, no NaN."""
    if not path.exists():
        raise UserError(
            f"source file {path} is missing; run `python scripts/fetch_data.py` "
            "(or pass --data-dir to the folder that has it)"
        )
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        for column in columns:
            if column not in header:
                raise UserError(f"{path} has no column '{column}' (columns: {', '.join(header)})")
        return list(reader)


def load_source(spec: SourceSpec, data_dir: Path) -> list[str]:
    """The texts of one source, in file order."""
    path = Path(data_dir) / "neutrality" / spec.file
    columns = [spec.column] + (["Source"] if spec.source_value is not None else [])
    rows = read_csv_rows(path, columns)
    texts = [r[spec.column] for r in rows
             if spec.source_value is None or r["Source"] == spec.source_value]
    texts = [t for t in texts if t.strip()]
    if not texts:
        which = f" with Source '{spec.source_value}'" if spec.source_value else ""
        raise UserError(f"{path} has no rows{which}; the {spec.name} source is empty")
    return texts


def load_all_sources(data_dir: Path) -> dict[str, list[str]]:
    return {spec.name: load_source(spec, data_dir) for spec in ALL_SOURCES}
