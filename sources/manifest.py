"""The data manifest (Data/manifest.json): where each raw file comes from and its checksum."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from harness.errors import UserError


def _workspace() -> Path:
    """The checkout this package sits in; for an installed copy, the current folder.

    Data/ and results/ live under it, so an installed copy never writes into site-packages.
    """
    checkout = Path(__file__).resolve().parent.parent
    return checkout if (checkout / "pyproject.toml").is_file() else Path.cwd()


REPO_ROOT = _workspace()
DATA_DIR = REPO_ROOT / "Data"
MANIFEST_PATH = DATA_DIR / "manifest.json"
MIRROR_ENV = "CONTESTED_DATA_MIRROR"


@dataclass(frozen=True)
class DataFile:
    path: str  # relative to the data folder, e.g. "neutrality/data_voting_questions.csv"
    url: str | None  # None: obtainable from a mirror folder only
    sha256: str
    size: int
    required: bool
    source: str
    licence: str


def load_manifest(path: Path = MANIFEST_PATH) -> list[DataFile]:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UserError(f"data manifest {path} is missing; restore it from git") from exc
    fields = DataFile.__dataclass_fields__
    return [DataFile(**{k: v for k, v in entry.items() if k in fields}) for entry in raw["files"]]
