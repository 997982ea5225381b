"""What a run is made of: its requests, options and summary, and which requests are left.

Every send path (online, provider batch, worker processes) takes these same types, so a
request, its key and its resume rule mean one thing everywhere (see `harness.send`).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
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
from core.errors import UserError
from harness.limits import Limits
from harness.results import KeyFn, ResultsStore, Row, read_jsonl

#: the flag that redoes rows made from another request (harness.request_cli)
REDO_STALE_FLAG = "--redo-stale"


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
    #: redo the rows of the output made from another request (model, prompt, settings)
    #: instead of stopping (check_stale)
    redo_stale: bool = False
    #: the flag that names another output, for the stop line (the collection: --out-dir)
    out_flag: str = "--out"


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


def prompt_sha256(messages: list[Message]) -> str:
    """The hash a row keeps of every message it was asked with (its `prompt_sha256`): the
    row's `input` holds only the last user message."""
    text = json.dumps(messages, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


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


@dataclass(frozen=True)
class Asked:
    """What a run asks for, named as its rows record it: the registry name (`backend`), the
    model id sent (`model`), and whether the provider takes a seed (a row's `params` are
    those sent). Never the snapshot a provider reports back (`model_version`), which may
    change mid-run."""

    backend: str
    model: str | None
    takes_seed: bool = True

    def params_sent(self, req: Request, default: GenerationParams) -> dict[str, Any]:
        sent = req.params or default
        return (sent if self.takes_seed else replace(sent, seed=None)).to_dict()


_PARAM_DEFAULTS = GenerationParams().to_dict()


def _differences(row: Row, asked: Asked, req: Request | None,
                 params: GenerationParams | None) -> list[tuple[str, Any, Any]]:
    """(what, the row's value, this run's) for each way `row` was not made from `req` (None:
    a row this run does not ask for, compared on model and settings, not on prompt or seed).
    A field the row lacks (written before it was recorded) is not compared."""
    diffs: list[tuple[str, Any, Any]] = []
    for name, now in (("backend", asked.backend), ("model", asked.model)):
        if name in row and row[name] != now:
            diffs.append((name, row[name], now))
    if req is not None:
        if "prompt_sha256" in row:
            if row["prompt_sha256"] != prompt_sha256(req.messages):
                diffs.append(("prompt text", None, None))
        elif "input" in row and row["input"] != request_input(req):
            diffs.append(("prompt text", None, None))
    theirs = row.get("params")
    if params is not None and isinstance(theirs, dict):
        now = asked.params_sent(req or Request({}, [], params=params), params)
        for name, value in now.items():
            if name == "seed" and req is None:
                continue  # each sample has its own seed
            if theirs.get(name, _PARAM_DEFAULTS.get(name)) != value:
                diffs.append((name, theirs.get(name, _PARAM_DEFAULTS.get(name)), value))
    return diffs


def _key_words(row: Row, key: Hashable) -> str:
    return ", ".join(f"{k} {v}" for k, v in row.items() if k in _KEY_FIELDS) or repr(key)


_KEY_FIELDS = ("id", "item_id", "rep", "sample", "eval", "attempt")


def check_stale(requests: Sequence[Request], rows: Mapping[Hashable, Row], key: KeyFn,
                asked: Asked, params: GenerationParams | None, *, where: Path | str,
                redo_stale: bool = False, skip_errors: bool = False,
                out_flag: str = "--out") -> list[Hashable]:
    """The keys of the rows in `rows` made from another request than this run's: another
    backend or model, another prompt text (its hash), other settings. A row is done only if
    it was made from the request this run would send; a row of a key this run does not ask
    for must still share its model and settings (a results file holds one run).

    Without `redo_stale` any such row stops the run before anything is sent: one UserError
    line saying what differs and the two ways out. `skip_errors`: error rows this run
    redoes anyway (--retry-errors) are not compared. The one check of every send path, its
    dry run included (`harness.send`)."""
    by_key = {key(r.key): r for r in requests}
    stale: list[Hashable] = []
    kinds: dict[str, tuple[Any, Any, int, str]] = {}
    for k, row in rows.items():
        req = by_key.get(k)
        if req is not None and skip_errors and row.get("error"):
            continue
        diffs = _differences(row, asked, req, params)
        if not diffs:
            continue
        stale.append(k)
        for what, there, now in diffs:
            first = kinds.get(what)
            kinds[what] = ((there, now, 1, _key_words(row, k)) if first is None
                           else (*first[:2], first[2] + 1, first[3]))
    if stale and not redo_stale:
        parts = []
        for what, (there, now, n, first) in list(kinds.items())[:4]:
            rows_word = f"{n} row{'s' if n != 1 else ''}, first {first}"
            parts.append(f"another {what} ({rows_word})" if what == "prompt text" else
                         f"{what} {there!r} there, {now!r} now ({rows_word})")
        raise UserError(
            f"{where} holds {len(stale)} row(s) made from another request than this run's: "
            f"{'; '.join(parts)}; write to another file with {out_flag}, or rerun with "
            f"{REDO_STALE_FLAG} to redo them (rows this run does not ask for are removed)")
    return stale


def done_rows(path: Path, key: KeyFn) -> dict[Hashable, Row]:
    """The rows of `path` by key (the last row of a key wins); {} when there is none. Reads
    the file only (no lock, no file made): a dry run."""
    return {key(r): r for r in read_jsonl(path)} if path.exists() else {}


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


