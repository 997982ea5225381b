"""The one way requests leave: online, through a provider's batch API, or over worker processes.

Generation, the judge's calls and the distribution collection all send through `Sender`
(or `send_requests`, which opens the output and closes the backend around it). A `Route`
says how: the backend to build and its flags, `workers` processes for online calls, or
`batch` for the provider's batch API. What is already done, and what a dry run would cost,
is decided here once for all of them (`harness.request.split_done`, `price`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backends.base import Backend, GenerationParams
from backends.registry import BackendSpec, check_backend, create_backend
from harness.batch import check_batch_backend, run_batch_async
from harness.batch_state import BatchOptions, state_path
from harness.request import (
    Request,
    RunOptions,
    RunSummary,
    done_keys,
    pending_requests,
    split_done,
    work_of,
)
from harness.results import ResultsStore, key_by
from harness.runner import run_requests_async
from harness.workers import create_backend_in_workers


@dataclass(frozen=True)
class Route:
    """How requests are sent: to which backend, and online, in workers or as batches."""

    spec: BackendSpec
    model: str | None = None
    base_url: str | None = None
    timeout_s: float = 120.0
    backend_options: dict[str, Any] = field(default_factory=dict)
    #: processes making the online calls (harness.workers); 1 = this one
    workers: int = 1
    #: set: through the provider's batch API (harness.batch), at about half the price
    batch: BatchOptions | None = None

    def check(self) -> None:
        """The backend's flags and key, and the batch API's presence, before any file is
        made (a UserError naming the fix)."""
        if self.batch is not None:
            check_batch_backend(self.spec)
        check_backend(self.spec, model=self.model, base_url=self.base_url,
                      **self.backend_options)

    def open_backend(self) -> Backend:
        spec = self.spec
        if self.batch is not None:
            return create_backend(spec.name, model=self.model, base_url=self.base_url,
                                  timeout_s=self.timeout_s, registry={spec.name: spec})
        return create_backend_in_workers(
            spec.name, self.workers, model=self.model, base_url=self.base_url,
            timeout_s=self.timeout_s, registry={spec.name: spec}, **self.backend_options)


class Sender:
    """Sends rounds of requests into one results file by one route; the backend is built on
    the first round with anything to do and kept for the next (e.g. a judge's re-asks)."""

    def __init__(self, route: Route, out: Path, key: tuple[str, ...],
                 params: GenerationParams, options: RunOptions) -> None:
        self.route, self.out, self.key = route, out, key
        self.params, self.options = params, options
        self.backend: Backend | None = None

    async def send(self, requests: Sequence[Request],
                   store: ResultsStore | None = None) -> RunSummary:
        """Send every request not already done; rows go to `store` (already open, e.g. one
        that checks each row) or to the output, opened for this round."""
        if store is None:
            with ResultsStore(self.out, key_by(*self.key)) as opened:
                return await self.send(requests, opened)
        todo, skipped = pending_requests(requests, store, self.options.retry_errors)
        if not todo:
            return RunSummary.nothing_to_do(skipped, self.options)
        if self.backend is None:
            self.backend = self.route.open_backend()
        if self.route.batch is not None:
            return await run_batch_async(self.route.spec, self.backend, requests, store,
                                         self.params, self.options, self.route.batch,
                                         state_path(self.out))
        return await run_requests_async(self.backend, requests, store, self.params,
                                        self.options)

    async def aclose(self) -> None:
        if self.backend is not None:
            await self.backend.aclose()
            self.backend = None


def send_requests(route: Route, requests: Sequence[Request], out: Path,
                  key: tuple[str, ...], params: GenerationParams,
                  options: RunOptions) -> RunSummary:
    """Check the route, then send every request not already done in `out`, one row each as
    it completes; a rerun resumes. A missing key leaves no file behind, and a rerun with
    nothing to do returns before any model or client is built."""
    route.check()
    sender = Sender(route, out, key, params, options)

    async def main() -> RunSummary:
        try:
            return await sender.send(requests)
        finally:
            await sender.aclose()

    return asyncio.run(main())


# ---- the dry run ---------------------------------------------------------------------------
@dataclass
class DryRun:
    """What a run would send, without sending it."""

    requests: int
    already_done: int
    input_tokens: int
    max_output_tokens: int
    cost_usd: float | None
    minutes_at_limits: float | None

    def tokens_line(self) -> str:
        return (f"estimated tokens: ~{self.input_tokens} in, at most {self.max_output_tokens} "
                "out")

    def cost_line(self) -> str:
        cost = "unknown (no price in the registry)" if self.cost_usd is None else (
            f"at most ${self.cost_usd:.2f}")
        return f"estimated cost: {cost}"

    def format(self) -> str:
        lines = [f"requests to send: {self.requests} ({self.already_done} already done)",
                 self.tokens_line(), self.cost_line()]
        if self.minutes_at_limits is not None:
            lines.append(f"time at the rate limits: at least {self.minutes_at_limits:.1f} min")
        return "\n".join(lines)


def price(spec: BackendSpec, todo: Sequence[Request], params: GenerationParams, *,
          already_done: int = 0, rpm: float | None = None,
          tpm: float | None = None) -> DryRun:
    """Count and price `todo` at the registry's price; the time its rate limits need."""
    n, tin, tout = work_of(list(todo), params)
    rate = spec.price_per_1m
    cost = None if rate is None else (tin * rate[0] + tout * rate[1]) / 1e6
    # the runner's token limiter counts each request's max_tokens, as providers do
    spans = ([n / rpm] if rpm else []) + ([(tin + tout) / tpm] if tpm else [])
    return DryRun(n, already_done, tin, tout, cost, max(spans) if spans else None)


def dry_run(spec: BackendSpec, requests: Sequence[Request], out: Path, key: tuple[str, ...],
            params: GenerationParams, *, retry_errors: bool = False, rpm: float | None = None,
            tpm: float | None = None) -> DryRun:
    """Count and price the requests still to do in `out` (reads it, sends nothing)."""
    keyfn = key_by(*key)
    todo, skipped = split_done(requests, done_keys(out, keyfn, retry_errors=retry_errors),
                               keyfn)
    return price(spec, todo, params, already_done=skipped, rpm=rpm, tpm=tpm)
