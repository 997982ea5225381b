"""Survey items the distribution experiments ask about: the 120 MPI statements.

An item's `item_id` is its 0-based row in the item file, so rows from different runs, a
`--limit`ed run or another template always name the same item (the analysis joins on it).
GlobalOpinionQA items are read by pluralism.globalqa into the same `SurveyItem`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.paths import DATA_DIR

MPI_FILE = "pluralism/mpi_questions.tsv"  # the manifest's path, under the data folder
DEFAULT_MPI_PATH = DATA_DIR / MPI_FILE
MPI_COLUMNS = ("label_raw", "text", "label_ocean", "key")


@dataclass(frozen=True)
class SurveyItem:
    """One multiple-choice item. `options` empty: the template's own answer scale (MPI)."""

    dataset: str
    item_id: int
    question: str
    options: tuple[str, ...] = ()
    human: dict[str, list[float]] | None = None  # group -> distribution over options
    meta: dict[str, Any] = field(default_factory=dict)


def resolve_data_path(given: str | Path | None, default: Path, names: tuple[str, ...],
                      what: str, fix: str) -> Path:
    """A file named by --data_dir: the file itself, or a folder holding one of `names`
    (directly, or under pluralism/ as in the data folder). None: `default`."""
    if given is None:
        path = default
    else:
        path = Path(given)
        if path.is_dir():
            found = [path / sub / n for n in names for sub in ("", "pluralism", "data")
                     if (path / sub / n).is_file()]
            if not found:
                raise UserError(f"{what}: no {' or '.join(names)} in folder {path}; {fix}")
            path = found[0]
    if not path.is_file():
        raise UserError(f"{what} {path} does not exist; {fix}")
    return path


def load_mpi_items(path: str | Path | None = None) -> list[SurveyItem]:
    """The MPI statements of mpi_questions.tsv (label_raw, text, label_ocean, key), in order.

    `path` may be the file or a data folder; default Data/pluralism/mpi_questions.tsv.
    """
    path = resolve_data_path(path, DEFAULT_MPI_PATH, ("mpi_questions.tsv",), "MPI item file",
                             "run `python scripts/fetch_data.py` or pass --data_dir FILE")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        missing = [c for c in MPI_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise UserError(f"{path} has no column {missing[0]!r}; expected mpi_questions.tsv "
                            "(tab-separated: label_raw, text, label_ocean, key)")
        items = []
        for n, row in enumerate(reader):
            text = (row["text"] or "").strip()
            if not text:
                raise UserError(f"{path} line {n + 2}: empty statement text")
            try:
                key = int(row["key"])
            except (TypeError, ValueError):
                key = 0
            if key not in (1, -1):
                raise UserError(f"{path} line {n + 2}: key must be 1 or -1, got {row['key']!r}")
            items.append(SurveyItem(
                dataset="mpi", item_id=n, question=text,
                meta={"facet": row["label_raw"], "trait": row["label_ocean"], "key": key},
            ))
    if not items:
        raise UserError(f"{path} holds no MPI items")
    return items
