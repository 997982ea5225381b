"""The providers' batch APIs (OpenAI Batch, Anthropic Message Batches) behind one driver.

`run_batch` takes the same requests, output and options as the online path and writes the
same rows (through `harness.runner`'s row builder), at about half the price: pending
requests are split to the provider's limits and submitted; each batch id is saved at once
in a state file beside the output (`<out>.batches.json`, written atomically), so a restart
polls the batches already submitted and never submits a request twice; finished batches
are read back into rows. Requests a batch did not answer (expired, canceled, a server
error) go, by `BatchOptions.failed`, to a new batch, to the online runner, or stay as
error rows. Management calls (upload, create, poll, download) go through the runner's
retry policy.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from backends.base import Backend, GenerationParams
from backends.batch_base import BatchAdapter, BatchInfo, ItemResult, custom_id
from backends.registry import (
    ADAPTERS,
    BackendSpec,
    adapter_class,
    check_backend,
    create_backend,
    provider_class,
)
from core.clock import utc_now
from core.errors import UserError
from core.files import write_json_atomic
from core.progress import progress_bar
from harness.batch_queue import queue_note, queue_was_full
from harness.results import ResultsStore, key_by
from harness.runner import (
    Request,
    RunOptions,
    RunSummary,
    _Attempts,
    _completion_from_dict,
    _Run,
    _work,
    pending_requests,
    run_requests_async,
)

#: batch prices are about half the online ones (both providers)
BATCH_PRICE_FACTOR = 0.5
FAILED_POLICIES = ("rebatch", "online", "keep")
#: the wait between polls (tests replace it)
_sleep = asyncio.sleep


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



class _BatchRun:
    """State of one run_batch call."""

    def __init__(self, adapter: BatchAdapter, run: _Run, state: BatchState,
                 batch: BatchOptions) -> None:
        self.adapter, self.run, self.state, self.batch = adapter, run, state, batch
        self.by_cid: dict[str, Request] = {}
        self.online_done = RunSummary()

    # ---- provider calls under the runner's retry policy ----------------------------------
    async def call(self, what: str, fn: Any) -> Any:
        try:
            result, _ = await self.run.call(fn, 0, _Attempts())
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
        waiting = {c for b in self.state.open_batches() for c in b["custom_ids"]}
        reqs = [r for r in reqs if custom_id(r.key) not in waiting]
        if not reqs:
            return
        a = self.adapter
        entries = [a.entry(custom_id(r.key), r.messages, r.params or self.run.params)
                   for r in reqs]
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
            if req is None or item.custom_id in seen or self.done(req):
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
            if req is not None and cid not in seen and not self.done(req):
                failed.append((req, info.status.replace("cancelled", "canceled"),
                               info.message or f"no result in batch {info.id}"))
        # marked collected before its failed requests are routed, so the save that records
        # a rebatch (or the online list) records this too: a kill in between cannot make a
        # restart collect this batch again and send its failed requests a second time
        record["collected"] = True
        record["status"] = info.status
        record["counts"] = info.counts
        if queue_was_full(info.message):
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
                    if any(c in self.by_cid for c in b["custom_ids"])]
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
    """`run_batch` on an open store and backend, for callers inside an event loop."""
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
    store.drop([store.key(r.key) for r in todo])
    try:
        if options.progress:
            run.bar = progress_bar(len(requests), initial=skipped,
                                   desc=options.desc + " (batch)", unit="req")
        to_send: list[Request] = []
        for req in todo:
            hit = run.cache.get(run.cache_key(req)) if run.cache is not None else None
            if hit is not None:
                run.write(run.row(req, _completion_from_dict(hit), cached=True))
            else:
                br.by_cid[custom_id(req.key)] = req
                to_send.append(req)
        # already in a submitted batch or bound for the online path: never submitted again
        taken = {c for b in state.open_batches() for c in b["custom_ids"]} | set(state.online)
        n, tin, _ = _work([r for r in to_send if custom_id(r.key) not in taken], params)
        if (note := queue_note(adapter.provider, backend.model_id, n, tin)) is not None:
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
        if run.bar is not None:
            run.bar.close()
        if run.cache is not None:
            run.cache.close()
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


def _open_backend(spec: BackendSpec, model: str | None, base_url: str | None,
                  timeout_s: float) -> Backend:
    check_batch_backend(spec)
    return create_backend(spec.name, model=model, base_url=base_url, timeout_s=timeout_s,
                          registry={spec.name: spec})


def run_batch(
    spec: BackendSpec,
    requests: list[Request],
    out: Path,
    params: GenerationParams,
    options: RunOptions,
    *,
    batch: BatchOptions | None = None,
    key: tuple[str, ...] = ("id", "sample"),
    model: str | None = None,
    base_url: str | None = None,
    timeout_s: float = 120.0,
) -> RunSummary:
    """Send every request not already done in `out` through the provider's batch API.

    Rows are the online path's rows, keyed by `key`; a rerun resumes (polling the batches
    already submitted). Raises UserError for a backend without a batch API.
    """
    check_batch_backend(spec)
    check_backend(spec, model=model, base_url=base_url)  # a missing key leaves no file behind
    with ResultsStore(out, key_by(*key)) as store:
        todo, skipped = pending_requests(requests, store, options.retry_errors)
        if not todo:
            return RunSummary.nothing_to_do(skipped, options)
        backend = _open_backend(spec, model, base_url, timeout_s)

        async def main() -> RunSummary:
            try:
                return await run_batch_async(spec, backend, requests, store, params, options,
                                             batch or BatchOptions(), state_path(out))
            finally:
                await backend.aclose()

        return asyncio.run(main())


@dataclass
class BatchReport:
    """What --status and --cancel print: one line per batch of ours."""

    lines: list[str] = field(default_factory=list)

    def format(self) -> str:
        return "\n".join(self.lines)


def _manage(spec: BackendSpec, out: Path, cancel: bool, model: str | None,
            base_url: str | None, timeout_s: float) -> BatchReport:
    state = BatchState(state_path(out))
    report = BatchReport()
    if not state.batches:
        report.lines.append(f"no batches recorded for {out} (in {state.path})")
        return report
    backend = _open_backend(spec, model, base_url, timeout_s)
    adapter = batch_adapter(spec, backend)

    async def main() -> None:
        try:
            for record in state.batches:
                info = await adapter.retrieve(record["id"])
                verb = ""
                if cancel and not info.ended:
                    info = await adapter.cancel(record["id"])
                    verb = "cancel requested; "
                record["status"] = info.status
                done = "results written" if record.get("collected") else "results not yet read"
                report.lines.append(
                    f"{record['id']}  {info.status}  {verb}{len(record['custom_ids'])} requests "
                    f"(round {record.get('round', 0)}); {info.format_counts()}; {done}")
        finally:
            await backend.aclose()

    asyncio.run(main())
    state.save()
    if cancel:
        report.lines.append("rerun the same command (without --cancel) to read what the "
                            "cancelled batches answered and redo the rest")
    return report


def batch_status(spec: BackendSpec, out: Path, *, model: str | None = None,
                 base_url: str | None = None, timeout_s: float = 120.0) -> BatchReport:
    """Each of our batches' state and counts, as the provider reports them now."""
    return _manage(spec, out, False, model, base_url, timeout_s)


def batch_cancel(spec: BackendSpec, out: Path, *, model: str | None = None,
                 base_url: str | None = None, timeout_s: float = 120.0) -> BatchReport:
    """Cancel our batches still running (only those recorded for `out`)."""
    return _manage(spec, out, True, model, base_url, timeout_s)
