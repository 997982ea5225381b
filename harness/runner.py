"""The shared request runner: concurrency, rate limits, retries, cache and resumable rows.

Adapters make one call and classify their errors; everything a long run needs around that
call lives here once, for every provider. Each finished request is one row appended to a
`ResultsStore` at once, so an interrupted run loses only the requests in flight.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
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
    ProviderRefusal,
    RequestRejected,
    RunStopped,
    within_timeout,
)
from core.errors import UserError
from core.progress import progress_bar
from harness.cache import ResponseCache, request_key
from harness.connection import ConnectionBreaker, connection_error_fields
from harness.limits import Limits, Pacer, PacingPlan
from harness.redact import redact
from harness.request import (
    Attempts,
    Request,
    RunOptions,
    RunSummary,
    completion_from_dict,
    completion_to_dict,
    estimate_tokens,
    pending_requests,
    prompt_sha256,
    request_input,
    same_params_batches,
    stop_message,
    work_of,
)
from harness.results import ResultsStore
from harness.schema import request_row

#: longest single back-off or proactive pause, so a bad header cannot stall a run for hours
MAX_WAIT_S = 120.0


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
        self.told_long_wait = False  # the line about a wait over MAX_WAIT_S is said once

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

    def row(self, req: Request, completion: Completion | None, **fields: Any) -> dict[str, Any]:
        """The request's row (harness.schema.request_row), named for this run's backend; its
        params are those sent (no seed for a provider that takes none)."""
        sent = req.params or self.params
        if not self.backend.takes_seed:
            sent = replace(sent, seed=None)
        return request_row(req.key, req.carry, completion, backend=self.name,
                           model=self.backend.model_id, input_text=request_input(req),
                           params=sent.to_dict(), prompt_sha256=prompt_sha256(req.messages),
                           **fields)

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
            self.cache.put(self.cache_key(req), completion_to_dict(c))

    def write_cached(self, todo: list[Request]) -> list[Request]:
        """Write the answers already in the cache (they cost nothing); the rest, to send."""
        to_send: list[Request] = []
        for req in todo:
            hit = self.cache.get(self.cache_key(req)) if self.cache is not None else None
            if hit is None:
                to_send.append(req)
            else:
                self.write(self.row(req, completion_from_dict(hit), cached=True))
        return to_send

    def close(self) -> None:
        """The progress bar and the cache, whichever are open."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.cache is not None:
            self.cache.close()

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

    def asks_too_long(self, exc: BaseException) -> float | None:
        """The wait the provider asked for, when it is over MAX_WAIT_S: that request is not
        retried (its error row says why) rather than hold every other request back; the
        first time, one line says so."""
        asked = self.backend.retry_after(exc)
        if asked is None or asked <= MAX_WAIT_S:
            return None
        if not self.told_long_wait:
            self.told_long_wait = True
            self.note(f"{self.name}: the provider asks to wait {asked:.0f} s before trying "
                      f"again, more than the {MAX_WAIT_S:.0f} s this run waits; each request "
                      "it says so for becomes an error row now (the others go on): rerun with "
                      "--retry-errors later")
        return asked

    def retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            retry=retry_if_exception(
                lambda e: not isinstance(e, RunStopped | ProviderRefusal | RequestRejected)
                and self.backend.is_retryable(e) and self.asks_too_long(e) is None
            ),
            stop=stop_after_attempt(max(1, self.options.max_attempts)),
            wait=self.wait_strategy(),
            reraise=True,
        )

    async def call(self, fn: Any, tokens: int, tries: Attempts,
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
        """An error row's `error` and `error_kind` (a failure to connect says so, and so does
        a wait asked for over MAX_WAIT_S)."""
        fields = connection_error_fields(exc, self.base_url) or {
            "error": f"{_error_kind(exc)}: {exc}", "error_kind": _error_kind(exc)}
        asked = self.backend.retry_after(exc)
        if asked is not None and asked > MAX_WAIT_S:
            fields["error"] += (f" (the provider asked to wait {asked:.0f} s, over the "
                                f"{MAX_WAIT_S:.0f} s this run waits)")
        return fields

    # ---- one request / one batch ---------------------------------------------------------
    async def one(self, req: Request) -> None:
        params = req.params or self.params
        tokens = estimate_tokens(req.messages, params)
        async with self.sem:
            state = Attempts()
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
            state = Attempts()
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
        to_send = run.write_cached(todo)
        run.pacer.expect(*work_of(to_send, params))
        size = max(1, backend.preferred_batch_size)
        if size > 1:
            jobs = [run.batch(b) for b in same_params_batches(to_send, size, params)]
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
        run.close()
    s = run.summary
    if options.price_per_1m is not None:
        pin, pout = options.price_per_1m
        s.cost_usd = (s.prompt_tokens * pin + s.completion_tokens * pout) / 1e6
    s.wall_s = time.monotonic() - t0
    s.limits = run.pacer.record()
    return s


def run_requests(*args: Any, **kwargs: Any) -> RunSummary:
    """`run_requests_async` (same arguments) in its own event loop: send every request not
    already done in the store, one row per request as it completes.

    Raises UserError when the provider says the account's quota is used up or refuses the
    API key (a RunStopped from the adapter). The backend stays open (the caller closes it
    with `aclose`).
    """
    return asyncio.run(run_requests_async(*args, **kwargs))
