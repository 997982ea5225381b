"""A prompts CSV: read and checked, then the prompts a run asks for chosen from it.

Kept light (no pandas, no backends) because the analysis replays a run's selection to know
which prompts it asked for.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.suggest import did_you_mean
from neutrality.task_names import split_task


def load_prompts(path: str | Path) -> list[dict[str, Any]]:
    """Read a prompts CSV with at least `id` and `input`; ids are unique integers."""
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"prompts file {path} does not exist; build it with scripts/create_test_dataset.py "
            "or pass --prompts FILE"
        )
    # utf-8-sig: the study's CSVs and Excel's "CSV UTF-8" exports begin with a byte-order mark
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in ("id", "input") if c not in (reader.fieldnames or [])]
            if missing:
                raise UserError(f"{path} has no column {', '.join(missing)}; a prompts file "
                                "needs columns id and input")
            rows = list(reader)
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8 "
            "(in Excel: CSV UTF-8)"
        ) from exc
    if not rows:
        raise UserError(f"{path} holds no prompts")
    seen: set[int] = set()
    out = []
    for n, row in enumerate(rows, start=2):
        try:
            row["id"] = int(row["id"])
        except (TypeError, ValueError) as exc:
            raise UserError(f"{path} line {n}: id {row['id']!r} is not an integer") from exc
        if row["id"] in seen:
            raise UserError(f"{path} line {n}: duplicate id {row['id']}; ids must be unique")
        seen.add(row["id"])
        if not (row.get("input") or "").strip():
            raise UserError(f"{path} line {n}: id {row['id']} has an empty input")
        if row.get("format_number") not in (None, ""):
            try:
                row["format_number"] = int(row["format_number"])
            except ValueError as exc:
                raise UserError(
                    f"{path} line {n}: format_number {row['format_number']!r} is not an "
                    "integer; write a whole number such as 3, or leave it empty"
                ) from exc
        out.append(row)
    return out


def select_prompts(
    rows: list[dict[str, Any]],
    *,
    tasks: list[str] | None = None,
    sample: int | None = None,
    seed: int = 0,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Filter by task, draw `sample` prompt units per task (seeded), then keep the first `limit`.

    A unit is one wording of one source item: (base task, `original_input`, `format_number`),
    where the base task drops a viewpoint task's `_rep`/`_dem` suffix, so the Republican and
    Democrat versions of a wording are drawn together and stay a pair (a prompt without
    `original_input` is its own unit). The file's order is kept, so the same arguments always
    give the same prompts.
    """
    if tasks:
        known = {r.get("task") for r in rows}
        unknown = [t for t in tasks if t not in known]
        if unknown:
            raise UserError(
                f"unknown task {', '.join(unknown)};{did_you_mean(unknown[0], map(str, known))} "
                "tasks in the prompts file: "
                + ", ".join(sorted(str(t) for t in known))
            )
        rows = [r for r in rows if r.get("task") in tasks]
    if sample is not None:
        units: dict[str, dict[tuple[Any, ...], None]] = defaultdict(dict)
        for r in rows:
            base, unit = _unit(r)
            units[base][unit] = None
        rng = random.Random(seed)
        keep: set[tuple[Any, ...]] = set()
        for base in sorted(units):
            drawn = list(units[base])
            keep.update(rng.sample(drawn, min(sample, len(drawn))))
        rows = [r for r in rows if _unit(r)[1] in keep]
    if limit is not None:
        rows = rows[:limit]
    return rows


def _unit(row: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """(base task, unit key) of a prompt for select_prompts."""
    base = split_task(str(row.get("task") or ""))[0]
    if (row.get("original_input") or "") == "":
        return base, (base, "id", row["id"])
    return base, (base, row["original_input"], row.get("format_number"))
