"""The shared request runner: concurrency, rate limits, retries, cache and resumable rows.

Adapters make one call and classify their errors; everything a long run needs around that
call lives here once, for every provider. Each finished request is one row appended to a
`ResultsStore` at once, so an interrupted run loses only the requests in flight.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from backends.base import (
    Backend,
    Completion,
    GenerationParams,
    KeyRejected,
    Message,
    ProviderRefusal,
    QuotaExhausted,
    RequestRejected,
    RunStopped,
    within_timeout,
)
from core.clock import utc_now
from core.errors import UserError
from core.progress import progress_bar
from harness.cache import ResponseCache, request_key
from harness.connection import ConnectionBreaker, connection_error_fields
from harness.limits import Limits, Pacer, PacingPlan
from harness.redact import redact
from harness.results import ResultsStore

#: longest single back-off or proactive pause, so a bad header cannot stall a run for hours
MAX_WAIT_S = 120.0


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



def _error_kind(exc: BaseException) -> str:
    # an error from a worker process names the adapter's exception it stands for
    return getattr(exc, "error_kind", None) or type(exc).__name__


class _Run:
    """State of one run_requests call."""

    def __init__(
        self,
        backend: Backend,
        store: ResultsStore,
        params: GenerationParams,
        options: RunOptions,
    ) -> None:
        self.backend = backend
        self.store = store
        self.params = params
        self.options = options
        self.summary = RunSummary()
        self.pacer = Pacer(PacingPlan(Limits(rpm=options.rpm, tpm=options.tpm),
                                      learn_rpm=options.learn_rpm, learn_tpm=options.learn_tpm,
                                      max_in_flight=max(1, options.concurrency)),
                           note=self.note)
        self.sem = self.pacer.gate  # requests in flight: grows with the limits (Little's law)
        self.cache = ResponseCache(options.cache_path) if options.cache_path else None
        self.pause_until = 0.0  # monotonic time before which no request is sent
        self.stopped = False  # set on RunStopped (quota, refused key): nothing more is sent
        self.bar: Any = None
        self.name = getattr(backend, "name", None) or backend.provider
        self.base_url = getattr(backend, "base_url", None) or backend.options.get("base_url")
        #: --timeout, over the whole call (None: the adapter has no bound, e.g. a local model)
        self.timeout_s: float | None = getattr(backend, "timeout_s", None)
        self.breaker = ConnectionBreaker(self.base_url)

    # ---- bookkeeping -------------------------------------------------------------------
    def cache_key(self, req: Request) -> str:
        return request_key(
            provider=self.backend.provider,
            base_url=self.base_url,
            model_id=self.backend.model_id,
            params=(req.params or self.params).to_dict(),
            messages=req.messages,
            sample=req.key.get("sample"),
            extra={
                # other repeat indices (e.g. a judge's eval number) are samples too
                **{k: v for k, v in req.key.items() if k not in ("id", "sample")},
                **(getattr(self.backend, "cache_identity", None) or {}),
            },
        )

    def row(
        self,
        req: Request,
        completion: Completion | None,
        *,
        error: str | None = None,
        error_kind: str | None = None,
        attempts: int = 0,
        latency_s: float | None = None,
        cached: bool = False,
        provider_message: str | None = None,
        finish_reason: str | None = None,
    ) -> dict[str, Any]:
        c = completion
        row: dict[str, Any] = dict(req.key)
        row.update(
            backend=self.name,
            model=self.backend.model_id,
            model_version=c.model_version if c else None,
            input=request_input(req),
            response=c.text if c else ("" if provider_message is not None else None),
            reasoning=c.reasoning if c else None,
            finish_reason=c.finish_reason if c else finish_reason,
            error=error,
            error_kind=error_kind,
            provider_message=c.blocked if c else provider_message,
            prompt_tokens=c.prompt_tokens if c else None,
            completion_tokens=c.completion_tokens if c else None,
            latency_s=None if latency_s is None else round(latency_s, 4),
            attempts=attempts,
            cached=cached,
            params=(req.params or self.params).to_dict(),
            created_at=utc_now(),
        )
        if c and c.extras:
            row["extras"] = json.loads(json.dumps(c.extras, default=str))
        if c and c.first_token_logprobs is not None:  # asked for with params.top_logprobs
            row["first_token_logprobs"] = c.first_token_logprobs
        row.update(req.carry)
        return row

    def write(self, row: dict[str, Any]) -> None:
        self.store.append(row)
        s = self.summary
        s.done += 1
        if row.get("error"):
            s.errors[row.get("error_kind") or "error"] += 1
        if row.get("provider_message") is not None:
            s.refused += 1
        if row.get("cached"):
            s.cached += 1
        else:
            s.prompt_tokens += row.get("prompt_tokens") or 0
            s.completion_tokens += row.get("completion_tokens") or 0
        if self.bar is not None:
            self.bar.update(1)
            if s.errors:
                self.bar.set_postfix(errors=sum(s.errors.values()), refresh=False)

    def store_completion(self, req: Request, c: Completion, attempts: int, latency: float) -> None:
        # the row first: a cache the disk refuses then stops the run with the answer kept
        self.write(self.row(req, c, attempts=attempts, latency_s=latency))
        if self.cache is not None:
            self.cache.put(self.cache_key(req), _completion_to_dict(c))

    # ---- pacing (harness.limits) ---------------------------------------------------------
    def note(self, line: str) -> None:
        """One line for the user, above the progress bar."""
        line = redact(line)
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr)

    async def pace(self, tokens: int, output_tokens: int = 0) -> None:
        """Wait for a proactive pause, then for the rate limiters."""
        delay = self.pause_until - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await self.pacer.acquire(tokens, output_tokens)

    def observe_limits(self, tokens_per_request: int, latency_s: float | None = None) -> None:
        """After each response: adopt the limits the provider announces, and if it says its
        budget is nearly spent, pause all requests until its reset rather than run into a
        429."""
        wait = self.pacer.observe(self.backend.rate_limit_state(), latency_s,
                                  tokens_per_request)
        if wait > 0:
            self.pause_until = max(self.pause_until, time.monotonic() + wait)

    # ---- retries -----------------------------------------------------------------------
    def wait_strategy(self) -> Any:
        backoff = wait_exponential_jitter(
            initial=self.options.backoff_initial_s, max=MAX_WAIT_S,
            jitter=self.options.backoff_initial_s,
        )

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            asked = self.backend.retry_after(exc) if exc is not None else None
            if asked is not None:
                asked = min(MAX_WAIT_S, max(0.0, asked))
                # the limit is the account's, not this request's: hold back every request
                self.pause_until = max(self.pause_until, time.monotonic() + asked)
                # a little jitter spreads the concurrent retries
                return asked * (1.0 + 0.1 * random.random())
            return backoff(state)

        return wait

    def retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            retry=retry_if_exception(
                lambda e: not isinstance(e, RunStopped | ProviderRefusal | RequestRejected)
                and self.backend.is_retryable(e)
            ),
            stop=stop_after_attempt(max(1, self.options.max_attempts)),
            wait=self.wait_strategy(),
            reraise=True,
        )

    async def call(self, fn: Any, tokens: int, tries: _Attempts,
                   output_tokens: int = 0) -> tuple[Any, float]:
        """Run `fn()` under the one retry policy; returns (result, latency of the last try).

        `tokens` is the request's estimate, input and output; `output_tokens` its share of
        output (max_tokens), reserved apart where a provider limits the two apart.
        """
        async for attempt in self.retrying():
            with attempt:
                tries.n += 1
                await self.pace(tokens, output_tokens)
                if self.stopped:
                    raise asyncio.CancelledError
                t0 = time.monotonic()
                latency: float | None = None
                try:
                    result = await within_timeout(fn(), self.timeout_s)
                    latency = time.monotonic() - t0
                except Exception as exc:
                    self.breaker.observe(exc)  # may stop the run: the server cannot be reached
                    raise
                finally:
                    self.observe_limits(tokens, latency)
                self.breaker.answered()
                return result, latency
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    def error_fields(self, exc: BaseException) -> dict[str, str]:
        """An error row's `error` and `error_kind` (a failure to connect says so)."""
        return connection_error_fields(exc, self.base_url) or {
            "error": f"{_error_kind(exc)}: {exc}", "error_kind": _error_kind(exc)}

    # ---- one request / one batch ---------------------------------------------------------
    async def one(self, req: Request) -> None:
        params = req.params or self.params
        tokens = estimate_tokens(req.messages, params)
        async with self.sem:
            state = _Attempts()
            try:
                c, latency = await self.call(
                    lambda: self.backend.complete(req.messages, params), tokens, state,
                    params.max_tokens,
                )
            except RunStopped:
                self.stopped = True
                raise
            except ProviderRefusal as exc:
                self.write(
                    self.row(req, None, attempts=state.n, provider_message=str(exc),
                             finish_reason=exc.finish_reason)
                )
                return
            except Exception as exc:  # noqa: BLE001 - any other failure becomes an error row
                self.write(self.row(req, None, attempts=state.n, **self.error_fields(exc)))
                return
            self.store_completion(req, c, state.n, latency)

    async def batch(self, reqs: list[Request]) -> None:
        params = reqs[0].params or self.params
        tokens = sum(estimate_tokens(r.messages, params) for r in reqs)
        async with self.sem:
            state = _Attempts()
            try:
                cs, latency = await self.call(
                    lambda: self.backend.complete_batch([r.messages for r in reqs], params),
                    tokens,
                    state,
                    params.max_tokens * len(reqs),
                )
            except RunStopped:
                self.stopped = True
                raise
            except Exception as exc:  # noqa: BLE001 - the whole batch failed: one error row each
                for r in reqs:
                    self.write(self.row(r, None, attempts=state.n, **self.error_fields(exc)))
                return
            for r, c in zip(reqs, cs, strict=True):
                self.store_completion(r, c, state.n, latency / len(reqs))


class _Attempts:
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


def _completion_to_dict(c: Completion) -> dict[str, Any]:
    return asdict(c)


def _completion_from_dict(d: dict[str, Any]) -> Completion:
    known = Completion.__dataclass_fields__
    return Completion(**{k: v for k, v in d.items() if k in known})


def pending_requests(
    requests: Sequence[Request], store: ResultsStore, retry_errors: bool
) -> tuple[list[Request], int]:
    """The requests still to do, and how many were skipped as done."""
    done = store.done(include_errors=not retry_errors)
    seen: set[Hashable] = set()
    todo: list[Request] = []
    skipped = 0
    for req in requests:
        k = store.key(req.key)
        if k in seen:
            raise ValueError(f"duplicate request key {req.key!r}")
        seen.add(k)
        if k in done:
            skipped += 1
        else:
            todo.append(req)
    return todo, skipped


def _work(reqs: list[Request], default: GenerationParams) -> tuple[int, int, int]:
    """(requests, input tokens, output tokens) as the limiters count them."""
    tin = tout = 0
    for r in reqs:
        params = r.params or default
        tin += estimate_tokens(r.messages, params) - params.max_tokens
        tout += params.max_tokens
    return len(reqs), tin, tout


def _batches(reqs: list[Request], size: int, default: GenerationParams) -> list[list[Request]]:
    """Groups of at most `size` requests sharing the same parameters (e.g. one sample seed)."""
    groups: dict[GenerationParams, list[Request]] = {}
    for r in reqs:
        groups.setdefault(r.params or default, []).append(r)
    return [g[i:i + size] for g in groups.values() for i in range(0, len(g), size)]


async def run_requests_async(
    backend: Backend,
    requests: Sequence[Request],
    store: ResultsStore,
    params: GenerationParams,
    options: RunOptions,
) -> RunSummary:
    """`run_requests` for callers already inside an event loop."""
    t0 = time.monotonic()
    todo, skipped = pending_requests(requests, store, options.retry_errors)
    run = _Run(backend, store, params, options)
    run.summary.skipped = skipped
    # error rows about to be redone go in one rewrite, not one per row
    store.drop([store.key(r.key) for r in todo])
    try:
        if options.progress:
            run.bar = progress_bar(len(requests), initial=run.summary.skipped,
                                   desc=options.desc, unit="req")
        # answers already in the cache cost nothing: write them first
        to_send: list[Request] = []
        for req in todo:
            hit = run.cache.get(run.cache_key(req)) if run.cache is not None else None
            if hit is None:
                to_send.append(req)
            else:
                run.write(run.row(req, _completion_from_dict(hit), cached=True))
        run.pacer.expect(*_work(to_send, params))
        size = max(1, backend.preferred_batch_size)
        if size > 1:
            jobs = [run.batch(b) for b in _batches(to_send, size, params)]
        else:
            jobs = [run.one(r) for r in to_send]
        tasks = [asyncio.ensure_future(j) for j in jobs]
        try:
            await asyncio.gather(*tasks)
        except RunStopped as exc:
            raise UserError(stop_message(run.name, exc)) from exc
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        if run.bar is not None:
            run.bar.close()
        if run.cache is not None:
            run.cache.close()
    s = run.summary
    if options.price_per_1m is not None:
        pin, pout = options.price_per_1m
        s.cost_usd = (s.prompt_tokens * pin + s.completion_tokens * pout) / 1e6
    s.wall_s = time.monotonic() - t0
    s.limits = run.pacer.record()
    return s


def run_requests(
    backend: Backend,
    requests: Sequence[Request],
    store: ResultsStore,
    params: GenerationParams,
    options: RunOptions,
) -> RunSummary:
    """Send every request not already done in `store`; one row per request as it completes.

    Raises UserError when the provider says the account's quota is used up or refuses the
    API key (a RunStopped from the adapter). The backend stays
    open (the caller closes it with `aclose`).
    """
    return asyncio.run(run_requests_async(backend, requests, store, params, options))
