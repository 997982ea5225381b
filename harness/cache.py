"""SQLite response cache: a request asked before, with the same everything, costs nothing.

The key is a hash of the whole request (provider, base URL, model id, parameters, messages,
sample index), so a rerun into a new output file, or a later stage asking the same thing,
reads the answer back instead of paying for it again. Each response is written as it arrives.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.paths import REPO_ROOT
from harness.redact import redact

#: the response cache every script shares unless told --cache / --no-cache
DEFAULT_CACHE = REPO_ROOT / "results" / "cache" / "responses.sqlite"


def request_key(
    *,
    provider: str,
    base_url: str | None,
    model_id: str,
    params: dict[str, Any],
    messages: list[dict[str, str]],
    sample: int | None,
    extra: dict[str, Any] | None = None,
) -> str:
    """A stable hash of everything that decides a provider's answer.

    `extra` holds what else an adapter says changes the answer (a local model's precision).
    """
    blob = json.dumps(
        {
            "provider": provider,
            "base_url": base_url,
            "model_id": model_id,
            "params": params,
            "messages": messages,
            "sample": sample,
            **({"extra": extra} if extra else {}),
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """One SQLite connection in WAL mode, used from the event-loop thread only.

    Calls are short local writes, so they run inline; WAL lets another process read (or a
    second run write into another output) while this one writes.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS responses ("
                " key TEXT PRIMARY KEY, value TEXT NOT NULL, created_at REAL NOT NULL)"
            )
        except (OSError, sqlite3.Error) as exc:
            raise UserError(
                f"cannot open response cache {self.path}: {exc}; fix the path or use --no-cache"
            ) from exc

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Keep one answer; a disk that refuses it (full, read-only) is one UserError."""
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, value, created_at) VALUES (?, ?, ?)",
                (key, redact(json.dumps(value, ensure_ascii=False, default=str)), time.time()),
            )
        except sqlite3.Error as exc:
            raise UserError(
                f"cannot write response cache {self.path}: {exc}; free space or fix its "
                "permissions (or use --no-cache), then rerun the same command: finished rows "
                "are kept"
            ) from exc

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
