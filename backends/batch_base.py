"""What a provider's batch API looks like to the shared driver in `harness.batch`.

An adapter builds one entry per request, submits a list of entries as one batch, reports a
batch's state, reads its results back as `ItemResult`s and cancels it. It reuses its online
backend's request body, answer parser and SDK client, so a row made through a batch equals
the row the online path makes for the same request.
"""

from __future__ import annotations

import abc
import json
import re
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from backends.base import Backend, Completion, GenerationParams, Message


@dataclass
class ItemResult:
    """One request's outcome inside a finished batch: exactly one of the four is set."""

    custom_id: str
    completion: Completion | None = None
    #: the provider's safety system refused it (a 400 content_policy_violation): a row
    #: without error carrying its message, as online
    refusal: tuple[str, str] | None = None  # (provider message, finish reason)
    #: the provider rejected the request itself (an unsupported parameter, too long a
    #: prompt): an error row at once, as online, never sent again in this run
    rejected: tuple[str, str] | None = None  # (error kind, provider message with status)
    #: the batch did not answer it (expired, canceled, a server error): redone by policy
    failure: str | None = None  # kind, e.g. "expired"
    message: str = ""


@dataclass
class BatchInfo:
    """A batch's state as the provider reports it."""

    id: str
    status: str
    ended: bool  # no more processing: results can be read
    counts: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. output and error file ids
    message: str = ""  # why the batch failed as a whole, if the provider said

    def format_counts(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.counts.items())


_SAFE = re.compile(r"^[A-Za-z0-9_]+$")


def custom_id(key: dict[str, Any]) -> str:
    """A row key as a custom_id both providers accept (^[A-Za-z0-9_-]{1,64}$).

    Readable where it can be ("k17-0" for id 17, sample 0); otherwise a hash of the key.
    """
    import hashlib

    parts = [str(v) for v in key.values()]
    text = "k" + "-".join(parts)
    if all(_SAFE.match(p) for p in parts) and len(text) <= 64:
        return text
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    return "h" + digest[:40]


B = TypeVar("B", bound=Backend)


@dataclass(frozen=True)
class BatchQueue:
    """How much of a model's work an account may hold in a provider's batch queue at once.

    Providers state neither figure in headers, so adapters give a tier-1 account's, from the
    providers' rate-limit pages (higher tiers hold far more)."""

    size: int | None  # None: the provider has a queue, but we know no figure for this model
    unit: str  # "input tokens" or "requests": what the queue counts
    full_code: str = ""  # the error code of a batch refused because the queue was full
    #: text in a failed batch's message that says the queue was full (lower case)
    full_markers: tuple[str, ...] = ()


class BatchAdapter(abc.ABC, Generic[B]):
    """One provider's batch API around its online backend (client, model id, parsers)."""

    provider: str = ""
    #: the provider's limits per batch
    max_requests: int = 0
    max_bytes: int = 0

    @classmethod
    def queue(cls, model_id: str) -> BatchQueue | None:
        """The account's batch queue for `model_id` (None: no queue we know of)."""
        return None

    def __init__(self, backend: B) -> None:
        self.backend = backend

    @abc.abstractmethod
    def entry(self, cid: str, messages: list[Message], params: GenerationParams) -> dict[str, Any]:
        """One request as the batch input holds it."""

    def entry_size(self, entry: dict[str, Any]) -> int:
        """Bytes the entry takes in the upload (one JSON line)."""
        return len(json.dumps(entry, ensure_ascii=False).encode("utf-8")) + 1

    @abc.abstractmethod
    async def submit(self, entries: list[dict[str, Any]]) -> str:
        """Create one batch from `entries`; returns its id."""

    @abc.abstractmethod
    async def retrieve(self, batch_id: str) -> BatchInfo:
        """The batch's current state."""

    @abc.abstractmethod
    async def results(self, info: BatchInfo) -> list[ItemResult]:
        """Every result an ended batch holds (requests without a result are left out)."""

    @abc.abstractmethod
    async def cancel(self, batch_id: str) -> BatchInfo:
        """Ask the provider to stop the batch; answered items stay readable."""
