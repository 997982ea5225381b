"""WorkerPool: the real OpenAI adapter in child processes, the shared runner in this one."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from backends.base import GenerationParams
from backends.openai_chat import OpenAIChatBackend
from backends.registry import get_spec
from core.errors import UserError
from harness.request import Request, RunOptions, RunSummary
from harness.results import ResultsStore, key_by, read_jsonl
from harness.runner import run_requests_async
from harness.workers import WorkerPool, check_workers
from tests.fakes.server import FakeServer

PARAMS = GenerationParams(max_tokens=16)
#: differ between any two runs: not part of what a row says
VOLATILE = ("latency_s", "created_at")


def requests(n: int) -> list[Request]:
    return [Request(key={"id": i, "sample": 0},
                    messages=[{"role": "user", "content": f"Question {i}?"}],
                    carry={"task": "t"}) for i in range(n)]


def pool(fake: FakeServer, workers: int = 2) -> WorkerPool:
    make = functools.partial(OpenAIChatBackend, "gpt-4o", base_url=fake.url + "/v1",
                             timeout_s=10)
    return WorkerPool(make(), make, workers)


def run(backend: Any, reqs: list[Request], out: Path, during: Any = None,
        **options: Any) -> RunSummary:
    opts = RunOptions(progress=False, backoff_initial_s=0.01, **options)

    async def go() -> RunSummary:
        try:
            with ResultsStore(out, key_by("id", "sample")) as store:
                task = asyncio.ensure_future(run_requests_async(backend, reqs, store, PARAMS,
                                                                opts))
                if during is not None:
                    await asyncio.wait_for(during(backend), 30)
                return await asyncio.wait_for(task, 60)  # a lost answer fails, not hangs
        finally:
            await backend.aclose()

    return asyncio.run(go())


def rows(out: Path) -> dict[int, dict]:
    found = list(read_jsonl(out))
    assert len({r["id"] for r in found}) == len(found), "a row written twice"
    return {r["id"]: {k: v for k, v in r.items() if k not in VOLATILE} for r in found}


def test_rows_through_workers_equal_rows_made_in_one_process(fake: FakeServer,
                                                             tmp_path: Path) -> None:
    fake.state.latency_s = 0.02
    reqs = requests(24)
    backend = pool(fake)
    pids: list[int] = []

    async def note_pids(b: WorkerPool) -> None:
        while len(b.pids) < 2:  # the workers start one after the other
            await asyncio.sleep(0.01)
        pids.extend(b.pids)

    summary = run(backend, reqs, tmp_path / "pool.jsonl", note_pids, concurrency=8)
    assert summary.done == 24 and not summary.errors
    assert len(set(pids)) == 2 and os.getpid() not in pids
    run(OpenAIChatBackend("gpt-4o", base_url=fake.url + "/v1"), reqs, tmp_path / "one.jsonl",
        concurrency=8)
    assert rows(tmp_path / "pool.jsonl") == rows(tmp_path / "one.jsonl")
    assert len(fake.state.requests) == 48
    assert backend.pids == []  # closed: every worker has exited


def test_retries_refusals_and_errors_come_back_as_in_one_process(fake: FakeServer,
                                                                 tmp_path: Path) -> None:
    # one request at a time, so each fault meets a known try
    fake.state.push("rate_limit", retry_after_ms=50)  # request 0, first try
    fake.state.push("headers")  # request 0, second try: a plain answer
    fake.state.push("bad_request", message="flagged by the content filter",
                    code="content_filter")  # request 1
    fake.state.push("malformed", times=2)  # request 2, both tries
    fake.state.push("bad_request", message="too long", code="context_length_exceeded")  # 3
    summary = run(pool(fake), requests(5), tmp_path / "o.jsonl", concurrency=1,
                  max_attempts=2)
    got = rows(tmp_path / "o.jsonl")
    assert (got[0]["attempts"], got[0]["error"]) == (2, None) and got[0]["response"]
    assert got[1]["provider_message"] == "flagged by the content filter"
    assert (got[1]["error"], got[1]["finish_reason"]) == (None, "content_filter")
    assert got[2]["error_kind"] == "MalformedResponse" and got[2]["attempts"] == 2
    assert got[2]["error"].startswith("MalformedResponse: HTTP 200 with a body that is not")
    # a rejected request crosses the process boundary with its cause, and is not retried
    assert (got[3]["error_kind"], got[3]["attempts"]) == ("context_length_exceeded", 1)
    assert got[3]["error"] == "context_length_exceeded: HTTP 400: too long"
    assert got[4]["error"] is None
    assert summary.refused == 1
    assert dict(summary.errors) == {"MalformedResponse": 1, "context_length_exceeded": 1}


@pytest.mark.parametrize("fault, message", [
    ("quota", "the account's quota is used up"),
    ("bad_key", r"the provider refused the API key \(HTTP 401"),
])
def test_a_stop_in_a_worker_stops_the_run_with_its_line(
        fake: FakeServer, tmp_path: Path, api_keys: dict[str, str], fault: str,
        message: str) -> None:
    fake.state.push(fault)
    with pytest.raises(UserError, match=message) as caught:
        run(pool(fake), requests(3), tmp_path / "o.jsonl", concurrency=1)
    assert api_keys["OPENAI_API_KEY"] not in str(caught.value)
    if fault == "bad_key":
        assert "OPENAI_API_KEY" in str(caught.value)
    assert not (tmp_path / "o.jsonl").exists() or not list(read_jsonl(tmp_path / "o.jsonl"))


def test_a_killed_worker_hands_its_requests_to_the_other(fake: FakeServer,
                                                         tmp_path: Path) -> None:
    fake.state.latency_s = 0.5  # answers still in flight when the kill comes
    killed: list[int] = []

    async def kill_one(b: WorkerPool) -> None:
        while len(fake.state.requests) < 4:
            await asyncio.sleep(0.01)
        killed.append(b.pids[0])
        os.kill(killed[0], signal.SIGKILL)

    summary = run(pool(fake), requests(12), tmp_path / "o.jsonl", kill_one, concurrency=4)
    got = rows(tmp_path / "o.jsonl")
    assert killed and sorted(got) == list(range(12))
    assert all(r["error"] is None for r in got.values())
    assert summary.done == 12 and max(r["attempts"] for r in got.values()) == 2


def test_with_every_worker_gone_the_run_stops_and_resumes(fake: FakeServer,
                                                          tmp_path: Path) -> None:
    fake.state.latency_s = 0.5  # answers still in flight when the kill comes

    async def kill_all(b: WorkerPool) -> None:
        while len(fake.state.requests) < 2:
            await asyncio.sleep(0.01)
        for pid in b.pids:
            os.kill(pid, signal.SIGKILL)

    out = tmp_path / "o.jsonl"
    with pytest.raises(UserError, match="every worker process has exited"):
        run(pool(fake), requests(6), out, kill_all, concurrency=2)
    # a request answered before the kill is kept; the ones in flight are not written
    assert len(rows(out) if out.exists() else {}) < 6
    fake.state.latency_s = 0.0
    assert run(pool(fake), requests(6), out, concurrency=2).done == 6
    assert sorted(rows(out)) == list(range(6))


def test_workers_are_refused_for_a_local_model_and_a_batch() -> None:
    check_workers(get_spec("gpt-4o"), 4)
    check_workers(get_spec("smollm2-135m-instruct"), 1)
    with pytest.raises(UserError, match="local model"):
        check_workers(get_spec("smollm2-135m-instruct"), 2)
    with pytest.raises(UserError, match="--batch-api"):
        check_workers(get_spec("gpt-4o"), 2, batch_api=True)
