"""What a run is made of: its requests, options and summary, and which requests are left.

Every send path (online, provider batch, worker processes) takes these same types, so a
request, its key and its resume rule mean one thing everywhere (see `harness.send`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from backends.base import (
    Completion,
    GenerationParams,
    KeyRejected,
    Message,
    QuotaExhausted,
    RunStopped,
)
from harness.limits import Limits
from harness.results import KeyFn, ResultsStore, read_jsonl


@dataclass(frozen=True)
class RunOptions:
    #: most requests in flight; under a rate limit, fewer until latency says more are needed
    concurrency: int = 8
    rpm: float | None = None  # requests per minute (aiolimiter)
    tpm: float | None = None  # tokens per minute (aiolimiter, estimated tokens)
    #: adopt the limits the provider's headers announce in place of rpm / tpm (False where
    #: the user gave --rpm / --tpm)
    learn_rpm: bool = True
    learn_tpm: bool = True
    max_attempts: int = 6
    retry_errors: bool = False  # redo rows whose `error` is set
    cache_path: Path | None = None  # SQLite response cache; None = no cache
    progress: bool = True
    desc: str = "generate"
    #: USD per 1M (input, output) tokens, for the summary's cost estimate; None = unknown
    price_per_1m: tuple[float, float] | None = None
    #: first back-off in seconds (tests shorten it)
    backoff_initial_s: float = 1.0


@dataclass
class Request:
    key: dict[str, Any]  # identifies the row, e.g. {"id": 17, "sample": 0}
    messages: list[Message]
    carry: dict[str, Any] = field(default_factory=dict)  # copied into the row unchanged
    #: per-request parameters (e.g. a per-sample seed); None = the run's parameters
    params: GenerationParams | None = None


@dataclass
class RunSummary:
    done: int = 0  # rows written by this run (errors included)
    skipped: int = 0  # requests already done in the store
    errors: Counter[str] = field(default_factory=Counter)  # error rows by kind
    refused: int = 0  # provider refusals / safety blocks, written as rows without error
    cached: int = 0  # rows answered from the response cache
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    wall_s: float = 0.0
    #: the rate limits the run kept to (harness.limits.Pacer.record); None = not run
    limits: dict[str, Any] | None = None

    @classmethod
    def nothing_to_do(cls, skipped: int, options: RunOptions) -> RunSummary:
        """The summary of a rerun that found every row done: it cost nothing, and says so
        in the same words as a run that did work (not "unknown")."""
        return cls(skipped=skipped, cost_usd=None if options.price_per_1m is None else 0.0)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def format(self) -> str:
        """A few lines for the end of a run."""
        errs = ", ".join(f"{k}: {n}" for k, n in self.errors.most_common()) or "none"
        cost = "unknown" if self.cost_usd is None else f"${self.cost_usd:.4f}"
        return "\n".join(
            [
                f"done: {self.done} (from cache: {self.cached}; refused by provider: "
                f"{self.refused}); skipped as already done: {self.skipped}",
                f"errors: {sum(self.errors.values())} ({errs})",
                f"tokens: {self.prompt_tokens} in + {self.completion_tokens} out",
                f"estimated cost: {cost}",
                f"wall time: {self.wall_s:.1f} s",
                *([f"rate limits learned from the provider: "
                   f"{Limits(**self.limits['final']).describe()}"]
                  if self.limits and self.limits.get("learned") else []),
            ]
        )


def estimate_tokens(messages: list[Message], params: GenerationParams) -> int:
    """Rough token count of a request (4 characters a token, plus the output budget).

    Providers count max_tokens against a tokens-per-minute limit, so we do too.
    """
    chars = sum(len(m.get("content", "")) for m in messages)
    return chars // 4 + 4 * len(messages) + params.max_tokens


def request_input(req: Request) -> str:
    """The prompt text recorded in a row: the last user message."""
    for m in reversed(req.messages):
        if m.get("role") == "user":
            return m.get("content", "")
    return req.messages[-1].get("content", "") if req.messages else ""



class Attempts:
    """Counts attempts made, so an error row can say how many it took."""

    def __init__(self) -> None:
        self.n = 0


def stop_message(name: str, exc: RunStopped) -> str:
    """The one line a stopped run ends with: what the provider said, and what to fix."""
    if isinstance(exc, KeyRejected):
        status = f"HTTP {exc.status}: " if exc.status else ""
        return (f"{name}: the provider refused the API key ({status}{exc}); set a valid key "
                f"in {exc.key_env}, then rerun the same command to resume")
    if isinstance(exc, QuotaExhausted):
        return (f"{name}: the account's quota is used up ({exc}); add credit or use another "
                "key, then rerun the same command to resume")
    return f"{name}: {exc}"


def completion_to_dict(c: Completion) -> dict[str, Any]:
    return asdict(c)


def completion_from_dict(d: dict[str, Any]) -> Completion:
    known = Completion.__dataclass_fields__
    return Completion(**{k: v for k, v in d.items() if k in known})


def done_keys(path: Path, key: KeyFn, *, retry_errors: bool) -> set[Hashable]:
    """The keys of the rows in `path` that count as done: every row, or with `retry_errors`
    only those without an error. Reads the file only (no lock, no file made): a dry run."""
    if not path.exists():
        return set()
    return {key(r) for r in read_jsonl(path) if not (retry_errors and r.get("error"))}


def split_done(requests: Sequence[Request], done: set[Hashable], key: KeyFn
               ) -> tuple[list[Request], int]:
    """The requests whose key is not in `done`, and how many were skipped as done.

    The one "already done" rule of every send path, its dry run included."""
    seen: set[Hashable] = set()
    todo: list[Request] = []
    skipped = 0
    for req in requests:
        k = key(req.key)
        if k in seen:
            raise ValueError(f"duplicate request key {req.key!r}")
        seen.add(k)
        if k in done:
            skipped += 1
        else:
            todo.append(req)
    return todo, skipped


def pending_requests(
    requests: Sequence[Request], store: ResultsStore, retry_errors: bool
) -> tuple[list[Request], int]:
    """The requests still to do in an open store, and how many were skipped as done."""
    return split_done(requests, store.done(include_errors=not retry_errors), store.key)


def work_of(reqs: list[Request], default: GenerationParams) -> tuple[int, int, int]:
    """(requests, input tokens, output tokens) as the limiters count them."""
    tin = tout = 0
    for r in reqs:
        params = r.params or default
        tin += estimate_tokens(r.messages, params) - params.max_tokens
        tout += params.max_tokens
    return len(reqs), tin, tout


def same_params_batches(reqs: list[Request], size: int,
                        default: GenerationParams) -> list[list[Request]]:
    """Groups of at most `size` requests sharing the same parameters (e.g. one sample seed)."""
    groups: dict[GenerationParams, list[Request]] = {}
    for r in reqs:
        groups.setdefault(r.params or default, []).append(r)
    return [g[i:i + size] for g in groups.values() for i in range(0, len(g), size)]


