"""GlobalOpinionQA (Anthropic/llm_global_opinions): questions, options and the answer
distributions of each country's respondents.

The dataset's CSV has columns question, selections, options, source. `options` is the text of
a Python list; `selections` the text of a Python defaultdict, e.g.
"defaultdict(<class 'list'>, {'Belgium': [0.21, 0.79], ...})". Both are read with
ast.literal_eval on their literal part (never eval: the file is data from the internet).
An item's id is its 0-based row in the file, whatever --countries keeps.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.paths import DATA_DIR
from core.suggest import did_you_mean
from pluralism.items import SurveyItem, resolve_data_path

HUB_DATASET = "Anthropic/llm_global_opinions"
HUB_FILE = "data/global_opinions.csv"
FILE_NAMES = ("global_opinions.csv", "global_opinions.parquet")
DEFAULT_PATH = DATA_DIR / "pluralism" / "global_opinions.csv"
DEFAULT_COUNTRIES = ("United States", "Japan")
COLUMNS = ("question", "selections", "options")
_DEFAULTDICT = re.compile(r"^\s*defaultdict\(\s*<class '[\w.]+'>\s*,\s*(.*)\)\s*$", re.S)


class MalformedItem(ValueError):
    """A row that cannot be read; the loader reports it and leaves it out."""


def parse_options(text: Any) -> tuple[str, ...]:
    """The `options` cell (text of a Python list of strings) -> tuple of strings."""
    if isinstance(text, list | tuple):
        value: Any = text
    else:
        try:
            value = ast.literal_eval(str(text).strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
            raise MalformedItem(f"options are not a Python list literal: {str(text)[:80]!r}"
                                ) from exc
    if not isinstance(value, list | tuple) or not value:
        raise MalformedItem(f"options must be a non-empty list, got {str(text)[:80]!r}")
    return tuple(str(v) for v in value)


def parse_selections(text: Any) -> dict[str, list[float]]:
    """The `selections` cell (text of a defaultdict or dict: country -> probabilities)."""
    if isinstance(text, dict):
        value: Any = text
    else:
        raw = str(text).strip()
        m = _DEFAULTDICT.match(raw)
        literal = m.group(1) if m else raw
        try:
            value = ast.literal_eval(literal)
        except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
            raise MalformedItem(f"selections are not a dict literal: {raw[:80]!r}") from exc
    if not isinstance(value, dict):
        raise MalformedItem(f"selections must map countries to probabilities: {str(text)[:80]!r}")
    out: dict[str, list[float]] = {}
    for country, probs in value.items():
        if not isinstance(probs, list | tuple) or not all(
                isinstance(p, int | float) and not isinstance(p, bool) for p in probs):
            raise MalformedItem(f"selections for {country!r} are not a list of numbers")
        out[str(country)] = [float(p) for p in probs]
    return out


@dataclass
class LoadReport:
    """Rows read and why some were left out (printed by the script)."""

    rows: int = 0
    kept: int = 0
    missing_country: int = 0
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (row, reason)
    too_many_options: list[int] = field(default_factory=list)

    def format(self) -> str:
        lines = [f"GlobalOpinionQA: {self.rows} rows; {self.kept} kept; "
                 f"{self.missing_country} without every chosen country"]
        if self.malformed:
            shown = "; ".join(f"row {r}: {why}" for r, why in self.malformed[:3])
            lines.append(f"left out {len(self.malformed)} malformed row(s) ({shown}"
                         + (", ..." if len(self.malformed) > 3 else "") + ")")
        if self.too_many_options:
            lines.append(f"left out {len(self.too_many_options)} row(s) with more options than "
                         f"answer labels (rows {self.too_many_options[:5]})")
        return "\n".join(lines)


def read_table(path: Path) -> list[dict[str, Any]]:
    """The rows of a CSV or Parquet file as dicts (pandas)."""
    import pandas as pd

    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, OSError, ImportError) as exc:
        raise UserError(f"cannot read GlobalOpinionQA file {path}: {exc}") from exc
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise UserError(f"{path} has no column {missing[0]!r}; expected the GlobalOpinionQA "
                        "layout (question, selections, options, source)")
    return frame.to_dict("records")


def download_from_hub(cache_dir: str | Path | None = None, token: str | None = None) -> Path:
    """The dataset's CSV from the Hugging Face hub (huggingface_hub, cached)."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:
        raise UserError("huggingface_hub is not installed; download global_opinions.csv from "
                        f"https://huggingface.co/datasets/{HUB_DATASET} and pass --data_dir FILE"
                        ) from exc
    try:
        return Path(hf_hub_download(HUB_DATASET, HUB_FILE, repo_type="dataset",
                                    cache_dir=str(cache_dir) if cache_dir else None, token=token))
    except Exception as exc:  # noqa: BLE001 - network, auth and hub errors alike
        raise UserError(f"cannot download {HUB_DATASET} from the Hugging Face hub "
                        f"({type(exc).__name__}); download {HUB_FILE} yourself and pass "
                        "--data_dir FILE") from exc


def resolve_globalqa_path(data: str | Path | None, *, cache_dir: str | Path | None = None,
                          token: str | None = None, download: bool = True) -> Path:
    """--data_dir (file or folder), else Data/pluralism/global_opinions.csv, else the hub. The
    study's --data_dir value, the hub dataset's name, means the same as none: its file."""
    if data is not None and str(data) == HUB_DATASET and not Path(data).exists():
        data = None
    if data is None and not DEFAULT_PATH.is_file() and download:
        return download_from_hub(cache_dir, token)
    return resolve_data_path(
        data, DEFAULT_PATH, FILE_NAMES, "GlobalOpinionQA file",
        f"download it from https://huggingface.co/datasets/{HUB_DATASET} ({HUB_FILE}) "
        "and pass --data_dir FILE")


def items_from_rows(rows: Sequence[dict[str, Any]], countries: Sequence[str],
                    max_options: int) -> tuple[list[SurveyItem], LoadReport]:
    """Items whose selections include every country in `countries` (in file order)."""
    report = LoadReport(rows=len(rows))
    items = []
    for i, row in enumerate(rows):
        try:
            question = str(row.get("question") or "").strip()
            if not question:
                raise MalformedItem("empty question")
            options = parse_options(row["options"])
            selections = parse_selections(row["selections"])
        except MalformedItem as exc:
            report.malformed.append((i, str(exc)))
            continue
        if not all(c in selections for c in countries):
            report.missing_country += 1
            continue
        bad = [c for c in countries if len(selections[c]) != len(options)]
        if bad:
            report.malformed.append((i, f"{len(options)} options but {len(selections[bad[0]])} "
                                        f"probabilities for {bad[0]}"))
            continue
        if len(options) > max_options:
            report.too_many_options.append(i)
            continue
        items.append(SurveyItem(
            dataset="globalqa", item_id=i, question=question, options=options,
            human={c: selections[c] for c in countries},
            meta={"source": str(row.get("source") or "")},
        ))
    report.kept = len(items)
    return items, report


def check_countries(rows: Sequence[dict[str, Any]], countries: Sequence[str]) -> None:
    """A UserError naming a country no item has, with the closest names that items do have."""
    known: set[str] = set()
    for row in rows:
        try:
            known.update(parse_selections(row["selections"]))
        except (MalformedItem, KeyError):
            continue
    for country in countries:
        if known and country not in known:
            raise UserError(f"--countries: no item has answers from {country!r};"
                            f"{did_you_mean(country, known)} (names as spelled in the "
                            "dataset's selections)")


def load_globalqa_items(path: Path, countries: Sequence[str], max_options: int
                        ) -> tuple[list[SurveyItem], LoadReport]:
    """Read the file and keep the items every chosen country answered."""
    if not countries:
        raise UserError("--countries is empty; name at least one country, e.g. 'United States'")
    rows = read_table(path)
    check_countries(rows, countries)
    items, report = items_from_rows(rows, countries, max_options)
    if not items:
        raise UserError(f"{path}: no item has answers from all of {', '.join(countries)}; "
                        "check the country names (as spelled in the dataset's selections)")
    return items, report
