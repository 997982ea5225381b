"""The one way requests leave: online, through a provider's batch API, or over worker processes.

Generation, the judge's calls and the distribution collection all send through `Sender`
(or `send_requests`, which opens the output and closes the backend around it). A `Route`
says how: the backend to build and its flags, `workers` processes for online calls, or
`batch` for the provider's batch API. What is already done, and what a dry run would cost,
is decided here once for all of them (`harness.request.check_stale`, `split_done`, `price`):
a row is done only if it was made from the same request (backend, model, prompt text,
settings); a row made from another stops the run, or with --redo-stale is asked again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backends.base import Backend, GenerationParams
from backends.registry import BackendSpec, adapter_class, check_backend, create_backend
from harness.batch import check_batch_backend, run_batch_async
from harness.batch_state import BatchOptions, state_path
from harness.request import (
    Asked,
    Request,
    RunOptions,
    RunSummary,
    check_stale,
    done_rows,
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

    def asked(self) -> Asked:
        """What this route asks for, as its rows record it (the backend's name and model id)."""
        return asked_of(self.spec, self.model)

    def open_backend(self) -> Backend:
        spec = self.spec
        if self.batch is not None:
            return create_backend(spec.name, model=self.model, base_url=self.base_url,
                                  timeout_s=self.timeout_s, registry={spec.name: spec})
        return create_backend_in_workers(
            spec.name, self.workers, model=self.model, base_url=self.base_url,
            timeout_s=self.timeout_s, registry={spec.name: spec}, **self.backend_options)


def asked_of(spec: BackendSpec, model: str | None = None) -> Asked:
    """The Asked of a backend entry run with `model` (None: the entry's model id)."""
    return Asked(spec.name, model or spec.model_id, adapter_class(spec).takes_seed)


def drop_stale(store: ResultsStore, requests: Sequence[Request], params: GenerationParams,
               asked: Asked, options: RunOptions) -> None:
    """Stop on rows of `store` made from another request than this run's, or with
    --redo-stale drop them (those asked again are redone; the file holds one run)."""
    stale = check_stale(requests, store.rows, store.key, asked, params, where=store.path,
                        redo_stale=options.redo_stale, skip_errors=options.retry_errors,
                        out_flag=options.out_flag)
    if stale:
        asked_keys = {store.key(r.key) for r in requests}
        again = sum(1 for k in stale if k in asked_keys)
        print(f"{store.path}: redoing {again} row(s) made from another request"
              + (f", removing {len(stale) - again} this run does not ask for"
                 if len(stale) > again else ""))
        store.drop(stale)


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
        drop_stale(store, requests, self.params, self.route.asked(), self.options)
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
            tpm: float | None = None, model: str | None = None, redo_stale: bool = False,
            out_flag: str = "--out") -> DryRun:
    """Count and price the requests still to do in `out` (reads it, sends nothing); rows
    made from another request stop it with the real run's line (or, with `redo_stale`,
    count as to do)."""
    keyfn = key_by(*key)
    rows = done_rows(out, keyfn)
    stale = set(check_stale(requests, rows, keyfn, asked_of(spec, model), params, where=out,
                            redo_stale=redo_stale, skip_errors=retry_errors,
                            out_flag=out_flag))
    done = {k for k, r in rows.items()
            if k not in stale and not (retry_errors and r.get("error"))}
    todo, skipped = split_done(requests, done, keyfn)
    return price(spec, todo, params, already_done=skipped, rpm=rpm, tpm=tpm)
