"""The lock file: checksums of files whose sha256 cannot be known in advance.

A dataset hosted on Hugging Face or OSF can be re-uploaded without notice, so the manifest
leaves its sha256 null. The first fetch records what it got in <data dir>/checksums.lock.json,
and every later fetch is checked against that record, so a silent change upstream is caught.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.files import write_bytes_atomic

LOCK_NAME = "checksums.lock.json"


class ChecksumLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self.recorded: dict[str, str] = (
            json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}
        )

    def get(self, path: str) -> str | None:
        return self.recorded.get(path)

    def record(self, path: str, sha256: str) -> None:
        """Remember a first download's checksum (written at once, atomically)."""
        self.recorded[path] = sha256
        text = json.dumps(self.recorded, indent=1, sort_keys=True) + "\n"
        write_bytes_atomic(self.path, text.encode("utf-8"))
