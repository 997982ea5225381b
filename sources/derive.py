"""Derived manifest entries: data computed from the studies' own source files.

The studies publish their prompt wording only as Python code. fetch_data.py downloads those
files at a pinned commit (manifest entries under upstream/<repo>/) and derives the JSON the
project reads. The derived bytes are checked against the manifest's sha256 like any download,
so a change in the study's code shows up as one checksum line, not as silently new prompts.
A mirror's own copy of a derived file is never used: the derivation always runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.files import write_bytes_atomic
from sources.derive_neutrality import derive_neutrality
from sources.derive_pluralism import derive_pluralism
from sources.fetch import ChecksumError, FetchResult, sha256_of
from sources.manifest import DataFile

DERIVERS: dict[str, Callable[[dict[str, str], dict[str, str]], dict[str, Any]]] = {
    "neutrality": derive_neutrality,
    "pluralism": derive_pluralism,
}


def upstream_path(repository: str, file: str) -> str:
    """Where a study source file lives under the data folder (and under a mirror)."""
    return f"upstream/{repository.split('/')[-1]}/{file}"


def render(derived: dict[str, Any]) -> bytes:
    """The derived file's bytes: stable, so its sha256 can sit in the manifest."""
    return (json.dumps(derived, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def derive_bytes(file: DataFile, data_dir: Path) -> bytes:
    spec = file.derived_from or {}
    texts = {}
    for name in spec["files"]:
        source = Path(data_dir) / upstream_path(spec["repository"], name)
        if not source.exists():
            raise UserError(f"{file.path} is derived from {source}, which is missing; run "
                                "`python scripts/fetch_data.py` to fetch the study's sources")
        texts[name] = source.read_text(encoding="utf-8")
    provenance = {"repository": f"https://github.com/{spec['repository']}",
                  "commit": spec["commit"]}
    return render(DERIVERS[spec["deriver"]](texts, provenance))


def derive_file(file: DataFile, data_dir: Path) -> FetchResult:
    """Write data_dir/file.path from the study's sources, verified against the manifest."""
    dest = Path(data_dir) / file.path
    data = derive_bytes(file, data_dir)
    got = hashlib.sha256(data).hexdigest()
    if got != file.sha256:
        raise ChecksumError(
            f"checksum mismatch for derived {file.path}: expected sha256 {file.sha256}, got "
            f"{got}; the study's source files changed, so review what differs before updating "
            "Data/manifest.json")
    if dest.exists() and sha256_of(dest) == got:
        return FetchResult(file, "present")
    write_bytes_atomic(dest, data)
    return FetchResult(file, "derived")
