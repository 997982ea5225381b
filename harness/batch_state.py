"""What a batch run keeps between restarts: its options and the batches it submitted.

`<out>.batches.json` lists every batch submitted for one output (written atomically as
each is submitted), so a restart polls those batches and never submits a request twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.files import write_json_atomic

FAILED_POLICIES = ("rebatch", "online", "keep")


@dataclass(frozen=True)
class BatchOptions:
    #: what happens to requests a batch did not answer: a new batch, the online path, or
    #: an error row (which --retry-errors redoes later)
    failed: str = "rebatch"
    #: batches one request may go through before it stays an error row
    max_rounds: int = 3
    poll_initial_s: float = 30.0
    poll_max_s: float = 600.0
    poll_factor: float = 1.5
    #: split below the provider's limits (tests; None = the provider's)
    max_requests: int | None = None
    max_bytes: int | None = None


def state_path(out: Path) -> Path:
    """<out>.batches.json: the batches submitted for this output."""
    return out.with_name(out.name + ".batches.json")


class BatchState:
    """The batches submitted for one output, and requests sent to the online path."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.batches: list[dict[str, Any]] = []
        self.online: list[str] = []
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise UserError(f"{path} is not valid JSON; it lists the submitted batches, "
                                "repair or remove it (removing may submit them again)") from exc
            self.batches = list(data.get("batches") or [])
            self.online = list(data.get("online") or [])

    def save(self) -> None:
        write_json_atomic(self.path, {"version": 1, "batches": self.batches,
                                      "online": self.online})

    def open_batches(self) -> list[dict[str, Any]]:
        return [b for b in self.batches if not b.get("collected")]


def split(entries: list[dict[str, Any]], sizes: list[int], max_requests: int,
          max_bytes: int) -> list[list[int]]:
    """Indices of `entries` in groups within both limits, in order."""
    groups: list[list[int]] = []
    cur: list[int] = []
    cur_bytes = 0
    for i, size in enumerate(sizes):
        if size > max_bytes:
            raise UserError(f"request {entries[i].get('custom_id')} alone is {size} bytes, over "
                            f"the batch limit of {max_bytes}; shorten it or run it online")
        if cur and (len(cur) >= max_requests or cur_bytes + size > max_bytes):
            groups.append(cur)
            cur, cur_bytes = [], 0
        cur.append(i)
        cur_bytes += size
    if cur:
        groups.append(cur)
    return groups
