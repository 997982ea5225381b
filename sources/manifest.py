"""The data manifest (Data/manifest.json): where each raw file comes from and its checksum.

Every entry names its source: a `url` to download, or `derived_from`, the study source files
a derived file is computed from. An entry with `sha256` null is checked against the lock file
(sources/lock.py), which the first download fills. An entry with `on_request` is fetched only
when asked for (`fetch_data.py --with NAME`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.paths import DATA_DIR

MANIFEST_PATH = DATA_DIR / "manifest.json"
MIRROR_ENV = "CONTESTED_DATA_MIRROR"


@dataclass(frozen=True)
class DataFile:
    path: str  # relative to the data folder, e.g. "neutrality/data_voting_questions.csv"
    url: str | None  # None: a derived file, or obtainable from a mirror folder only
    sha256: str | None  # None: unknown in advance; the lock file records the first download's
    size: int | None
    required: bool
    source: str
    licence: str
    #: a derived file: {"deriver", "repository" (owner/name), "commit", "files" (repo paths)}
    derived_from: dict[str, Any] | None = None
    #: fetched only when this name is passed to `fetch_data.py --with`
    on_request: str | None = None

    @property
    def derived(self) -> bool:
        return self.derived_from is not None


def load_manifest(path: Path = MANIFEST_PATH, extras: Iterable[str] = ()) -> list[DataFile]:
    """The files a fetch makes: every entry but those on request, plus the `extras` asked for."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UserError(f"data manifest {path} is missing; restore it from git") from exc
    fields = DataFile.__dataclass_fields__
    files = [DataFile(**{k: v for k, v in entry.items() if k in fields})
             for entry in raw["files"]]
    extras = set(extras)
    known = {f.on_request for f in files if f.on_request}
    if extras - known:
        raise UserError(f"unknown --with name(s) {sorted(extras - known)}; known: {sorted(known)}")
    return [f for f in files if f.on_request is None or f.on_request in extras]
