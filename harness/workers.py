"""API calls spread over worker processes, for runs that one CPU core cannot keep up with.

Each provider SDK spends a few milliseconds of CPU on every request (building it, parsing
the answer). Against a fast server (vLLM on a local cluster, a loopback benchmark) one
Python process then tops out at a few hundred requests a second however high
`--concurrency` is. `WorkerPool` is a Backend that sends each call to one of N child
processes, each holding the real adapter and its own event loop. Everything else stays in
the parent, once: the retry policy, the rate limiters, the cache, the results writer and
the progress bar. So rows, resume and limits are exactly those of a one-process run.

Frames on each worker's socket are length-prefixed pickles, between this process and a
child it started itself (never from anyone else). A failure comes back as the adapter's own
exception when it is one of ours (a refusal row, a stop), and otherwise as a `WorkerError`
carrying what the parent's retry loop asks: its kind, message, whether to retry, and the
provider's Retry-After.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from backends.base import (
    Backend,
    Completion,
    GenerationParams,
    Message,
    ProviderRefusal,
    RateLimitState,
    RequestRejected,
    RunStopped,
    within_timeout,
)
from backends.registry import BackendSpec, adapter_class, create_backend
from core.errors import UserError
from core.paths import REPO_ROOT
from harness.connection import closed_mid_answer, connection_failure

log = logging.getLogger(__name__)
_HEADER = struct.Struct("!I")
#: seconds a worker gets to finish its in-flight calls and close its client at the end
_CLOSE_GRACE_S = 5.0


class WorkerError(Exception):
    """A failure inside a worker, as the parent's retry loop needs it."""

    def __init__(self, error_kind: str, message: str, retryable: bool,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.error_kind = error_kind  # the adapter's exception type, for the error row
        self.retryable = retryable
        self.retry_after = retry_after


class WorkersGone(RunStopped):
    """Every worker process has exited: nothing can be sent any more."""


async def _read_frame(reader: asyncio.StreamReader) -> Any:
    """The next object, or None at end of stream."""
    try:
        size = _HEADER.unpack(await reader.readexactly(_HEADER.size))[0]
        return pickle.loads(await reader.readexactly(size))
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


def _write_frame(writer: asyncio.StreamWriter, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    writer.write(_HEADER.pack(len(data)) + data)


def pack_error(backend: Backend, exc: BaseException) -> tuple[Any, ...]:
    """`exc` as plain data that crosses a process boundary and means the same to the runner.

    Our own stop and refusal exceptions travel whole (class, args and attributes: plain
    data); an SDK's exception holds its HTTP response, so it is summed up as a WorkerError.
    """
    if isinstance(exc, ProviderRefusal | RequestRejected | RunStopped):
        return ("exception", type(exc), exc.args, dict(exc.__dict__))
    return ("worker_error", type(exc).__name__, str(exc), backend.is_retryable(exc),
            backend.retry_after(exc), connection_failure(exc), closed_mid_answer(exc))


def unpack_error(packed: tuple[Any, ...]) -> BaseException:
    if packed[0] == "exception":
        _, cls, args, state = packed
        exc = cls.__new__(cls)  # not cls(*args): keyword-only fields (KeyRejected.key_env)
        exc.args = args
        exc.__dict__.update(state)
        return exc
    _, kind, message, retryable, retry_after, failure, cut_off = packed
    error = WorkerError(kind, message, retryable, retry_after)
    error.connection_failure = failure  # read by harness.connection in the parent
    error.closed_mid_answer = cut_off  # so is this
    return error


# ---- the child side ------------------------------------------------------------------------
async def _serve(sock: socket.socket) -> None:
    reader, writer = await asyncio.open_connection(sock=sock)
    factory: Callable[[], Backend] = await _read_frame(reader)
    backend = factory()
    calls: set[asyncio.Task[None]] = set()

    async def call(call_id: int, messages: list[Message], params: GenerationParams) -> None:
        try:
            # --timeout bounds the whole call here, in the worker (the parent's runner sees
            # no timeout_s on the pool: its clock would count the workers' start-up)
            reply: tuple[str, Any] = ("ok", await within_timeout(
                backend.complete(messages, params), getattr(backend, "timeout_s", None)))
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the parent
            reply = ("error", pack_error(backend, exc))
        try:
            _write_frame(writer, (call_id, *reply, backend.rate_limit_state()))
        except Exception as exc:  # noqa: BLE001 - an answer that does not pickle
            _write_frame(writer, (call_id, "error", (
                "worker_error", type(exc).__name__, f"the answer could not be sent back from "
                f"the worker: {exc}", False, None, None), None))

    try:
        while (frame := await _read_frame(reader)) is not None:
            task = asyncio.create_task(call(*frame))
            calls.add(task)
            task.add_done_callback(calls.discard)
    finally:
        # the parent closed its end (the run is over, or it was stopped): drop what is left
        for task in calls:
            task.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        await backend.aclose()
        writer.close()


def worker_main(fd: int) -> None:
    # Ctrl-C is the parent's to handle: it closes the socket, and this process then exits
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(_serve(socket.socket(fileno=fd)))


# ---- the parent side -----------------------------------------------------------------------
class _Worker:
    def __init__(self, proc: subprocess.Popen[bytes], reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.proc = proc
        self.reader = reader
        self.writer = writer
        self.pending: dict[int, asyncio.Future[Completion]] = {}
        self.alive = True
        self.listener: asyncio.Task[None] | None = None


class WorkerPool(Backend):
    """`inner`'s calls, made by `workers` child processes that each build `factory()`.

    `inner` is the same adapter built in this process: it only lends its identity (name,
    model id, base URL, provider) to cache keys and rows, and never sends anything.
    `factory` must pickle (e.g. a functools.partial of backends.registry.create_backend).
    """

    def __init__(self, inner: Backend, factory: Callable[[], Backend], workers: int) -> None:
        super().__init__(inner.model_id, **inner.options)
        self.provider = inner.provider
        self.name = getattr(inner, "name", None) or inner.provider
        self.base_url = getattr(inner, "base_url", None)
        self.cache_identity = getattr(inner, "cache_identity", None)
        self.takes_seed = type(inner).takes_seed  # type: ignore[misc]  # rows record the seed sent
        self.n_workers = workers
        self._factory = factory
        self._workers: list[_Worker] = []
        self._ids = itertools.count()
        self._limits: RateLimitState | None = None
        self._start_lock = asyncio.Lock()

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers still running (none before the first call)."""
        return [w.proc.pid for w in self._workers if w.alive]

    async def _start(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)}
        for _ in range(self.n_workers):
            mine, theirs = socket.socketpair()
            proc = subprocess.Popen(
                [sys.executable, "-c", f"from harness.workers import worker_main; "
                 f"worker_main({theirs.fileno()})"],
                pass_fds=[theirs.fileno()], env=env, cwd=REPO_ROOT,
            )
            theirs.close()
            reader, writer = await asyncio.open_connection(sock=mine)
            _write_frame(writer, self._factory)
            worker = _Worker(proc, reader, writer)
            worker.listener = asyncio.create_task(self._listen(worker))
            self._workers.append(worker)

    async def _listen(self, worker: _Worker) -> None:
        try:
            while (frame := await _read_frame(worker.reader)) is not None:
                call_id, status, value, limits = frame
                self._limits = limits  # the latest answer speaks for the account
                fut = worker.pending.pop(call_id, None)
                if fut is None or fut.done():
                    continue
                if status == "ok":
                    fut.set_result(value)
                else:
                    fut.set_exception(unpack_error(value))
        except Exception:  # noqa: BLE001 - a frame we cannot read: this worker is done for
            log.exception("unreadable answer from worker process %d; stopping it",
                          worker.proc.pid)
            worker.proc.kill()
        finally:
            self._retire(worker)

    def _retire(self, worker: _Worker) -> None:
        """A worker whose stream ended: its requests in flight fail, retryably."""
        worker.alive = False
        code = worker.proc.poll()
        for fut in worker.pending.values():
            if not fut.done():
                fut.set_exception(WorkerError(
                    "WorkerExited", f"worker process {worker.proc.pid} stopped (exit status "
                    f"{'unknown' if code is None else code}) with this request in flight",
                    retryable=True))
        worker.pending.clear()

    async def complete(self, messages: list[Message], params: GenerationParams) -> Completion:
        async with self._start_lock:
            if not self._workers:
                await self._start()
        live = [w for w in self._workers if w.alive]
        if not live:
            raise WorkersGone("every worker process has exited; see the errors above, then "
                              "rerun the same command to resume")
        worker = min(live, key=lambda w: len(w.pending))
        call_id = next(self._ids)
        fut: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        worker.pending[call_id] = fut
        _write_frame(worker.writer, (call_id, messages, params))
        try:
            return await fut
        finally:
            worker.pending.pop(call_id, None)

    def is_retryable(self, exc: BaseException) -> bool:
        return isinstance(exc, WorkerError) and exc.retryable

    def retry_after(self, exc: BaseException) -> float | None:
        return exc.retry_after if isinstance(exc, WorkerError) else None

    def rate_limit_state(self) -> RateLimitState | None:
        return self._limits

    async def aclose(self) -> None:
        workers, self._workers = self._workers, []
        for w in workers:
            with contextlib.suppress(Exception):
                w.writer.close()  # end of stream: the worker drops what is left and exits
        for w in workers:
            try:
                await asyncio.wait_for(asyncio.to_thread(w.proc.wait), _CLOSE_GRACE_S)
            except TimeoutError:
                w.proc.kill()
                await asyncio.to_thread(w.proc.wait)
            if w.listener is not None:
                w.listener.cancel()
                await asyncio.gather(w.listener, return_exceptions=True)


def check_workers(spec: BackendSpec, workers: int, *, batch_api: bool = False) -> None:
    """Refuse --workers where there is nothing to spread: a local model, a batch upload."""
    if workers <= 1:
        return
    if adapter_class(spec).local:
        raise UserError(f"--workers is for API backends; {spec.name} is a local model, which "
                        "runs in one process (use --batch-size)")
    if batch_api:
        raise UserError("--workers is for online calls; drop it with --batch-api")


def create_backend_in_workers(name: str, workers: int = 1, **kwargs: Any) -> Backend:
    """`create_backend(name, **kwargs)`; with workers > 1 its calls go to that many processes."""
    backend = create_backend(name, **kwargs)
    if workers <= 1:
        return backend
    return WorkerPool(backend, functools.partial(create_backend, name, **kwargs), workers)
