"""The providers' batch APIs (OpenAI Batch, Anthropic Message Batches) behind one driver.

`run_batch_async` takes the same requests, store and options as the online path and writes
the same rows (`harness.schema.request_row`), at about half the price: pending
requests are split to the provider's limits and submitted; each batch id is saved at once
in a state file beside the output (`<out>.batches.json`, written atomically), so a restart
polls the batches already submitted and never submits a request twice; finished batches
are read back into rows. Requests a batch did not answer (expired, canceled, a server
error) go, by `BatchOptions.failed`, to a new batch, to the online runner, or stay as
error rows. Management calls (upload, create, poll, download) go through the runner's
retry policy. Callers reach it through `harness.send` (`Route(batch=BatchOptions())`);
the batch state file and --status / --cancel are in `harness.batch_state` and
`harness.batch_manage`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from backends.base import Backend, GenerationParams
from backends.batch_base import BatchAdapter, BatchInfo, ItemResult, custom_id
from backends.registry import (
    ADAPTERS,
    BackendSpec,
    adapter_class,
    provider_class,
)
from core.clock import utc_now
from core.errors import UserError
from core.progress import progress_bar
from harness.batch_queue import queue_note, queue_was_full
from harness.batch_state import FAILED_POLICIES, BatchOptions, BatchState, split
from harness.request import (
    REDO_STALE_FLAG,
    Attempts,
    Request,
    RunOptions,
    RunSummary,
    pending_requests,
    work_of,
)
from harness.results import ResultsStore
from harness.runner import _Run, run_requests_async

#: batch prices are about half the online ones (both providers)
BATCH_PRICE_FACTOR = 0.5
#: the wait between polls (tests replace it)
_sleep = asyncio.sleep


def batch_adapter(spec: BackendSpec, backend: Backend) -> BatchAdapter:
    cls = adapter_class(spec).batch_adapter_class()
    assert cls is not None, "check_batch_backend refuses a backend without a batch API"
    return cls(backend)


def check_batch_backend(spec: BackendSpec) -> None:
    """A UserError, before anything is sent, for a backend without a batch API here."""
    if adapter_class(spec).batch_adapter is None:
        known = ", ".join(p for p in sorted(ADAPTERS) if provider_class(p).batch_adapter)
        raise UserError(
            f"backend {spec.name!r} (provider {spec.provider}) has no batch API here; "
            f"--batch-api works with the {known} providers (e.g. gpt-4o, claude-3.5-sonnet): "
            "drop --batch-api to run it online"
        )


def request_fingerprint(run: _Run, req: Request) -> str:
    """What a request asks, as its row records it (backend, model, prompt hash, params): kept
    per request in the batch state, so an answer is read back only into the same request."""
    row = run.row(req, None)
    ident = {k: row[k] for k in ("backend", "model", "prompt_sha256", "params")}
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()


def superseded_in(record: dict[str, Any], cid: str) -> bool:
    """Whether the request `cid` of a batch was replaced by another (--redo-stale): that
    batch's answer to it is not read back."""
    return cid in (record.get("superseded") or ())


class _BatchRun:
    """State of one batch send (`run_batch_async`)."""

    def __init__(self, adapter: BatchAdapter, run: _Run, state: BatchState,
                 batch: BatchOptions) -> None:
        self.adapter, self.run, self.state, self.batch = adapter, run, state, batch
        self.by_cid: dict[str, Request] = {}
        self.online_done = RunSummary()

    def check_submitted(self, todo: list[Request], redo_stale: bool) -> None:
        """Requests waiting in an open batch that was sent another request (another prompt
        or settings) stop the run in one line, or with `redo_stale` are marked superseded
        in that batch's record (its answer is not theirs) and submitted again."""
        mine = {custom_id(r.key): request_fingerprint(self.run, r) for r in todo}
        changed = [(b, c) for b in self.state.open_batches()
                   for c, sha in (b.get("request_sha256") or {}).items()
                   if c in mine and mine[c] != sha and not superseded_in(b, c)]
        if changed and not redo_stale:
            raise UserError(
                f"{self.state.path}: {len(changed)} request(s) waiting in batch "
                f"{changed[0][0]['id']} were submitted with another prompt text or settings "
                "than this run's; rerun the command they were submitted with to collect "
                f"them, or rerun with {REDO_STALE_FLAG} to submit them again")
        for b, c in changed:
            b.setdefault("superseded", []).append(c)
        if changed:
            self.state.save()

    # ---- provider calls under the runner's retry policy ----------------------------------
    async def call(self, what: str, fn: Any) -> Any:
        try:
            result, _ = await self.run.call(fn, 0, Attempts())
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed management call stops the run
            raise UserError(
                f"{self.run.name}: batch API {what} failed: {type(exc).__name__}: {exc}; "
                f"batches already submitted are recorded in {self.state.path}: rerun the "
                "same command to resume"
            ) from exc
        return result

    # ---- submitting ------------------------------------------------------------------------
    async def submit(self, reqs: list[Request], round_: int) -> None:
        """Split to the limits and submit; each batch id is saved as soon as it exists.

        A request already in an open batch is never submitted again (that batch answers it).
        """
        waiting = {c for b in self.state.open_batches() for c in b["custom_ids"]
                   if not superseded_in(b, c)}
        reqs = [r for r in reqs if custom_id(r.key) not in waiting]
        if not reqs:
            return
        a = self.adapter
        entries = [a.entry(custom_id(r.key), r.messages, r.params or self.run.params)
                   for r in reqs]
        fingerprints = {custom_id(r.key): request_fingerprint(self.run, r) for r in reqs}
        sizes = [a.entry_size(e) for e in entries]
        max_requests = min(a.max_requests, self.batch.max_requests or a.max_requests)
        # a little headroom for the envelope (Anthropic's JSON body around the requests)
        max_bytes = min(a.max_bytes - 1024, self.batch.max_bytes or a.max_bytes)
        for group in split(entries, sizes, max_requests, max_bytes):
            part = [entries[i] for i in group]
            batch_id = await self.call("submission", lambda part=part: a.submit(part))
            self.state.batches.append({
                "id": batch_id, "provider": a.provider, "model": self.run.backend.model_id,
                "round": round_, "submitted_at": utc_now(), "status": "submitted",
                "collected": False, "custom_ids": [e["custom_id"] for e in part],
                "request_sha256": {e["custom_id"]: fingerprints[e["custom_id"]] for e in part},
            })
            self.state.save()
            if self.run.bar is not None:
                self.run.bar.write(f"submitted batch {batch_id} ({len(part)} requests); "
                                   f"recorded in {self.state.path}")

    # ---- reading results back --------------------------------------------------------------
    def done(self, req: Request) -> bool:
        row = self.run.store.rows.get(self.run.store.key(req.key))
        return row is not None and not row.get("error")

    async def collect(self, record: dict[str, Any], info: BatchInfo) -> None:
        """Write an ended batch's answers; route what it did not answer; mark it collected."""
        items: list[ItemResult] = await self.call("download", lambda: self.adapter.results(info))
        attempts = int(record.get("round", 0)) + 1
        seen: set[str] = set()
        failed: list[tuple[Request, str, str]] = []
        run = self.run
        for item in items:
            req = self.by_cid.get(item.custom_id)
            if (req is None or item.custom_id in seen or self.done(req)
                    or superseded_in(record, item.custom_id)):
                continue
            seen.add(item.custom_id)
            if item.completion is not None:
                run.store_completion(req, item.completion, attempts, None)  # type: ignore[arg-type]
            elif item.refusal is not None:
                message, reason = item.refusal
                run.write(run.row(req, None, attempts=attempts, provider_message=message,
                                  finish_reason=reason))
            elif item.rejected is not None:
                kind, message = item.rejected
                run.write(run.row(req, None, attempts=attempts, error=f"{kind}: {message}",
                                  error_kind=kind))
            else:
                failed.append((req, item.failure or "failed", item.message))
        for cid in record["custom_ids"]:
            req = self.by_cid.get(cid)
            if (req is not None and cid not in seen and not self.done(req)
                    and not superseded_in(record, cid)):
                failed.append((req, info.status.replace("cancelled", "canceled"),
                               info.message or f"no result in batch {info.id}"))
        # marked collected before its failed requests are routed, so the save that records
        # a rebatch (or the online list) records this too: a kill in between cannot make a
        # restart collect this batch again and send its failed requests a second time
        record["collected"] = True
        record["status"] = info.status
        record["counts"] = info.counts
        if queue_was_full(info.message, self.adapter.queue(self.adapter.backend.model_id)):
            run.note(f"batch {info.id}: the account's batch queue was full (the queue limit, "
                     f"not the rate limit, binds): {info.message}")
        await self.route_failed(failed, attempts)
        self.state.save()

    async def route_failed(self, failed: list[tuple[Request, str, str]], attempts: int) -> None:
        policy = self.batch.failed
        if not failed:
            return
        if policy == "rebatch" and attempts < self.batch.max_rounds:
            await self.submit([r for r, _, _ in failed], attempts)
            return
        if policy == "online":
            self.state.online.extend(custom_id(r.key) for r, _, _ in failed)
            return
        for req, kind, message in failed:
            error_kind = "Batch" + "".join(p.title() for p in kind.removeprefix("batch_")
                                           .split("_"))
            self.run.write(self.run.row(req, None, attempts=attempts, error_kind=error_kind,
                                        error=f"{error_kind}: {message}"))

    # ---- polling ---------------------------------------------------------------------------
    async def poll(self) -> None:
        """Poll our open batches (those holding any request of this run) until all ended."""
        delay = self.batch.poll_initial_s
        while True:
            mine = [b for b in self.state.open_batches()
                    if any(c in self.by_cid and not superseded_in(b, c)
                           for c in b["custom_ids"])]
            if not mine:
                return
            states = []
            for record in mine:
                info = await self.call("poll", lambda r=record: self.adapter.retrieve(r["id"]))
                states.append(info.status)
                if record.get("status") != info.status:
                    record["status"] = info.status
                    self.state.save()
                if info.ended:
                    await self.collect(record, info)
            if self.run.bar is not None:
                open_ = [s for b, s in zip(mine, states, strict=True) if not b.get("collected")]
                self.run.bar.set_postfix_str(f"{len(open_)} batches open", refresh=True)
            if all(b.get("collected") for b in mine):
                continue  # a rebatch may have opened new ones: look again at once
            await _sleep(delay)
            delay = min(delay * self.batch.poll_factor, self.batch.poll_max_s)


async def run_batch_async(
    spec: BackendSpec,
    backend: Backend,
    requests: Sequence[Request],
    store: ResultsStore,
    params: GenerationParams,
    options: RunOptions,
    batch: BatchOptions,
    state_file: Path,
) -> RunSummary:
    """Send `requests` through the provider's batch API into an open store (the batch route of
    harness.send.Sender), inside the caller's event loop."""
    t0 = time.monotonic()
    if batch.failed not in FAILED_POLICIES:
        raise UserError(f"unknown failed-item policy {batch.failed!r}; use one of "
                        + ", ".join(FAILED_POLICIES))
    adapter = batch_adapter(spec, backend)
    todo, skipped = pending_requests(requests, store, options.retry_errors)
    # management calls are few: no request/token limiters, the same retries
    run = _Run(backend, store, params, replace(options, rpm=None, tpm=None))
    run.summary.skipped = skipped
    state = BatchState(state_file)
    br = _BatchRun(adapter, run, state, batch)
    br.check_submitted(todo, options.redo_stale)
    store.drop([store.key(r.key) for r in todo])
    try:
        if options.progress:
            run.bar = progress_bar(len(requests), initial=skipped,
                                   desc=options.desc + " (batch)", unit="req")
        to_send = run.write_cached(todo)
        for req in to_send:
            br.by_cid[custom_id(req.key)] = req
        # already in a submitted batch or bound for the online path: never submitted again
        taken = {c for b in state.open_batches() for c in b["custom_ids"]
                 if not superseded_in(b, c)} | set(state.online)
        n, tin, _ = work_of([r for r in to_send if custom_id(r.key) not in taken], params)
        note = queue_note(adapter.queue(backend.model_id), backend.model_id, n, tin)
        if note is not None:
            run.note(note)
        await br.submit([r for r in to_send if custom_id(r.key) not in taken], 0)
        await br.poll()
        if run.bar is not None:
            run.bar.close()
            run.bar = None
        online_reqs = [br.by_cid[c] for c in dict.fromkeys(state.online)
                       if c in br.by_cid and not br.done(br.by_cid[c])]
        if online_reqs:
            br.online_done = await run_requests_async(
                backend, online_reqs, store, params,
                replace(options, desc=options.desc + " (online)", retry_errors=True))
            state.online = [c for c in state.online
                            if c not in br.by_cid or not br.done(br.by_cid[c])]
            state.save()
    finally:
        run.close()
    s = run.summary
    o = br.online_done
    s.done += o.done
    s.errors.update(o.errors)
    s.refused += o.refused
    s.cached += o.cached
    if options.price_per_1m is not None:
        pin, pout = options.price_per_1m
        s.cost_usd = BATCH_PRICE_FACTOR * (s.prompt_tokens * pin + s.completion_tokens * pout) / 1e6
        s.cost_usd += o.cost_usd or 0.0
    s.prompt_tokens += o.prompt_tokens
    s.completion_tokens += o.completion_tokens
    s.wall_s = time.monotonic() - t0
    return s
