"""generate.py --batch-api: the real openai/anthropic clients against a fake batch API.

Rows equal the online path's; a restart while polling submits nothing again; failed
requests go to a new batch, the online path, or stay error rows; --status and --cancel;
splitting to the size limits.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import harness.batch
from backends.batch_base import custom_id
from backends.registry import get_spec
from core.errors import UserError
from harness.batch_state import BatchOptions, split, state_path
from harness.request import RunOptions
from harness.results import read_jsonl
from harness.send import Route, send_requests
from neutrality.generate import build_requests
from neutrality.prompt_set import load_prompts
from tests.fakes.batch_server import FakeBatchServer
from tests.fakes.prompt_files import write_prompts_csv
from tests.fakes.server import FakeServer
from tests.providers.test_api_generation_e2e import load_generate

N = 8
BACKENDS = ("gpt-4o", "claude-3.5-sonnet")
#: fields that differ between two runs of the same request by nature
VOLATILE = ("created_at", "latency_s")


class Crash(Exception):
    """Stands in for a kill while the driver waits between polls."""


@pytest.fixture
def batches(api_keys: dict[str, str]) -> Iterator[FakeBatchServer]:
    server = FakeBatchServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    return write_prompts_csv(tmp_path / "prompts.csv", N)


def base_url(url: str, backend: str) -> str:
    return url + "/v1" if backend.startswith("gpt") else url


def generate(url: str, prompts: Path, out: Path, *extra: str, backend: str = "gpt-4o") -> None:
    load_generate().main(["--backend", backend, "--base-url", base_url(url, backend),
                          "--prompts", str(prompts), "--out", str(out), "--no-progress",
                          "--no-cache", "--temperature", "0.5", *extra])


def batch_generate(server: FakeBatchServer, prompts: Path, out: Path, *extra: str,
                   backend: str = "gpt-4o") -> None:
    generate(server.url, prompts, out, "--batch-api", "--poll-interval", "0.001", *extra,
             backend=backend)


def rows(out: Path) -> dict[int, dict]:
    found = list(read_jsonl(out))
    ids = [r["id"] for r in found]
    assert len(ids) == len(set(ids)), f"duplicate rows: {sorted(ids)}"
    return {r["id"]: r for r in found}


def submitted(server: FakeBatchServer) -> list[list[str]]:
    """The custom_ids of each batch created, in order."""
    return [[e["custom_id"] for e in server.state.entries(b)] for b in server.state.created]


def cid(i: int) -> str:
    return custom_id({"id": i, "sample": 0})


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_rows_equal_online_rows(batches, fake: FakeServer, prompts, tmp_path, api_keys,
                                      backend) -> None:
    online, batched = tmp_path / "online.jsonl", tmp_path / "batch.jsonl"
    generate(fake.url, prompts, online, "--rpm", "60000", "--tpm", "1e9", backend=backend)
    batch_generate(batches, prompts, batched, backend=backend)
    a, b = rows(online), rows(batched)
    assert sorted(b) == list(range(N))
    for i in range(N):
        strip = lambda r: {k: v for k, v in r.items() if k not in VOLATILE}  # noqa: E731
        assert strip(b[i]) == strip(a[i])
    assert b[3]["response"] == "echo: Question number 3?" and b[3]["error"] is None
    # one batch; each request's body is the online body (temperature travels too)
    assert submitted(batches) == [[cid(i) for i in range(N)]]
    entry = batches.state.entries(batches.state.created[0])[0]
    body = entry["body"] if backend.startswith("gpt") else entry["params"]
    assert body in [r.body for r in fake.state.requests]
    assert body["temperature"] == 0.5
    state = json.loads(state_path(batched).read_text())
    assert [s["collected"] for s in state["batches"]] == [True]
    text = batched.read_text() + state_path(batched).read_text()
    assert not any(key in text for key in api_keys.values())
    # a rerun has nothing to do: no new batch, no call at all
    calls = len(batches.state.calls)
    batch_generate(batches, prompts, batched, backend=backend)
    assert len(batches.state.calls) == calls and len(rows(batched)) == N


@pytest.mark.parametrize("backend", BACKENDS)
def test_restart_while_polling_submits_nothing_again(batches, prompts, tmp_path, monkeypatch,
                                                     backend) -> None:
    out = tmp_path / "gen.jsonl"
    batches.state.hold = True

    async def crash(_: float) -> None:
        raise Crash

    with monkeypatch.context() as m, pytest.raises(Crash):
        m.setattr(harness.batch, "_sleep", crash)
        batch_generate(batches, prompts, out, backend=backend)
    assert len(batches.state.created) == 1
    assert not out.exists()  # no rows yet, and no empty results file left behind
    recorded = json.loads(state_path(out).read_text())["batches"]
    assert [b["id"] for b in recorded] == batches.state.created
    assert recorded[0]["collected"] is False

    batches.state.hold = False
    batch_generate(batches, prompts, out, backend=backend)
    assert len(batches.state.created) == 1  # polled the one submitted, submitted nothing
    assert sorted(rows(out)) == list(range(N))


@pytest.mark.parametrize("backend", BACKENDS)
def test_failed_items_go_to_a_new_batch(batches, prompts, tmp_path, backend) -> None:
    out = tmp_path / "gen.jsonl"
    batches.state.fail = {cid(1): "server_error", cid(2): "expired", cid(5): "invalid"}
    batch_generate(batches, prompts, out, backend=backend)
    assert submitted(batches) == [[cid(i) for i in range(N)], [cid(1), cid(2)]]
    got = rows(out)
    assert sorted(got) == list(range(N))
    for i in (1, 2):
        assert got[i]["response"] == f"echo: Question number {i}?"
        assert got[i]["error"] is None and got[i]["attempts"] == 2
    # as online, not redone: OpenAI's content-policy 400 is a refusal row, Anthropic's
    # invalid_request_error (a request it cannot take) an error row naming it
    if backend.startswith("gpt"):
        assert got[5]["error"] is None and got[5]["response"] == ""
        assert got[5]["provider_message"] == "Invalid prompt: flagged"
        assert got[5]["finish_reason"] == "content_policy_violation"
    else:
        assert got[5]["error_kind"] == "invalid_request_error"
        assert got[5]["provider_message"] is None and got[5]["response"] is None
    assert not batches.state.online


def all_submitted(server: FakeBatchServer) -> list[str]:
    return [c for batch in submitted(server) for c in batch]


def run_until_rebatched(server: FakeBatchServer, prompts: Path, out: Path, monkeypatch,
                        backend: str) -> None:
    """A run whose items 1 and 2 fail, killed once their new batch is created and recorded."""
    server.state.fail = {cid(1): "server_error", cid(2): "expired"}
    original = harness.batch._BatchRun.submit

    async def submit_then_die(self, reqs, round_):
        await original(self, reqs, round_)
        if round_ >= 1:
            raise Crash

    with monkeypatch.context() as m, pytest.raises(Crash):
        m.setattr(harness.batch._BatchRun, "submit", submit_then_die)
        batch_generate(server, prompts, out, backend=backend)
    assert submitted(server) == [[cid(i) for i in range(N)], [cid(1), cid(2)]]


@pytest.mark.parametrize("backend", BACKENDS)
def test_kill_after_a_rebatch_is_submitted_sends_no_item_twice(batches, prompts, tmp_path,
                                                                monkeypatch, backend) -> None:
    out = tmp_path / "gen.jsonl"
    run_until_rebatched(batches, prompts, out, monkeypatch, backend)
    # the save that recorded the new batch marked the old one collected
    recorded = json.loads(state_path(out).read_text())["batches"]
    assert [b["collected"] for b in recorded] == [True, False]

    batch_generate(batches, prompts, out, backend=backend)
    sent = all_submitted(batches)
    assert sorted(sent) == sorted([cid(i) for i in range(N)] + [cid(1), cid(2)])
    assert len(batches.state.created) == 2
    got = rows(out)
    assert sorted(got) == list(range(N))
    assert all(r["error"] is None for r in got.values())
    assert got[1]["attempts"] == 2 and got[1]["response"] == "echo: Question number 1?"


@pytest.mark.parametrize("backend", BACKENDS)
def test_items_in_an_open_rebatch_are_not_rebatched_from_an_uncollected_batch(
        batches, prompts, tmp_path, monkeypatch, backend) -> None:
    # a state file where the old batch was never marked collected (a kill under the old
    # order): its failed items are already in the open rebatch, so none is sent again
    out = tmp_path / "gen.jsonl"
    run_until_rebatched(batches, prompts, out, monkeypatch, backend)
    path = state_path(out)
    state = json.loads(path.read_text())
    state["batches"][0]["collected"] = False
    path.write_text(json.dumps(state))
    # the restart reads the first batch again; its items 1 and 2 are reported failed again
    batch_generate(batches, prompts, out, backend=backend)
    assert len(batches.state.created) == 2
    assert sorted(all_submitted(batches)) == sorted([cid(i) for i in range(N)]
                                                    + [cid(1), cid(2)])
    got = rows(out)
    assert sorted(got) == list(range(N))
    assert all(r["error"] is None for r in got.values())
    assert all(b["collected"] for b in json.loads(path.read_text())["batches"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_failed_items_go_online_or_stay_errors(batches, prompts, tmp_path, backend) -> None:
    out = tmp_path / "online.jsonl"
    batches.state.fail = {cid(1): "server_error", cid(2): "expired"}
    batch_generate(batches, prompts, out, "--batch-failed", "online", backend=backend)
    assert len(batches.state.created) == 1
    assert len(batches.state.online) == 2  # the two failed requests, once each
    got = rows(out)
    assert sorted(got) == list(range(N))
    assert all(got[i]["error"] is None for i in range(N))
    assert json.loads(state_path(out).read_text())["online"] == []

    kept = tmp_path / "kept.jsonl"
    batches.state.fail = {cid(1): "server_error", cid(2): "expired"}
    batch_generate(batches, prompts, kept, "--batch-failed", "keep", backend=backend)
    got = rows(kept)
    assert got[2]["error_kind"] == "BatchExpired" and got[2]["response"] is None
    assert got[1]["error"] and got[0]["error"] is None
    # --retry-errors redoes the two by a new batch
    batch_generate(batches, prompts, kept, "--batch-failed", "keep", "--retry-errors",
                   backend=backend)
    assert submitted(batches)[-1] == [cid(1), cid(2)]
    assert all(r["error"] is None for r in rows(kept).values())


@pytest.mark.parametrize("backend", BACKENDS)
def test_status_and_cancel(batches, prompts, tmp_path, monkeypatch, capsys, backend) -> None:
    out = tmp_path / "gen.jsonl"
    batch_generate(batches, prompts, out, "--status", backend=backend)
    assert "no batches recorded" in capsys.readouterr().out
    batches.state.hold = True

    async def crash(_: float) -> None:
        raise Crash

    with monkeypatch.context() as m, pytest.raises(Crash):
        m.setattr(harness.batch, "_sleep", crash)
        batch_generate(batches, prompts, out, backend=backend)
    (batch_id,) = batches.state.created
    capsys.readouterr()
    batch_generate(batches, prompts, out, "--status", backend=backend)
    printed = capsys.readouterr().out
    assert batch_id in printed and "in_progress" in printed and f"{N} requests" in printed
    assert not batches.state.batches[batch_id]["cancelled"]

    batch_generate(batches, prompts, out, "--cancel", backend=backend)
    assert batches.state.batches[batch_id]["cancelled"]
    assert "cancel" in capsys.readouterr().out
    # the rerun reads the cancelled batch and keeps its requests as error rows, by the flag
    batch_generate(batches, prompts, out, "--batch-failed", "keep", backend=backend)
    got = rows(out)
    assert sorted(got) == list(range(N))
    assert {r["error_kind"] for r in got.values()} == {"BatchCanceled"}
    assert len(batches.state.created) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_split_to_size_limits(batches, prompts, tmp_path, api_keys, backend) -> None:
    spec = get_spec(backend)
    params = spec.params()
    reqs = build_requests(load_prompts(prompts), params)
    out = tmp_path / "gen.jsonl"
    opts = RunOptions(progress=False)
    send_requests(Route(spec, base_url=base_url(batches.url, backend),
                        batch=BatchOptions(poll_initial_s=0.001, max_requests=3)),
                  reqs, out, ("id", "sample"), params, opts)
    assert [len(b) for b in submitted(batches)] == [3, 3, 2]
    assert sorted(rows(out)) == list(range(N))

    out2 = tmp_path / "bytes.jsonl"
    first = len(batches.state.created)
    one = len(json.dumps(batches.state.entries(batches.state.created[0])[0])) + 1
    send_requests(Route(spec, base_url=base_url(batches.url, backend),
                        batch=BatchOptions(poll_initial_s=0.001, max_bytes=2 * one + 10)),
                  reqs, out2, ("id", "sample"), params, opts)
    sizes = [len(b) for b in submitted(batches)[first:]]
    assert sum(sizes) == N and max(sizes) == 2
    assert sorted(rows(out2)) == list(range(N))


def test_a_batch_failing_as_a_whole_is_retried_then_kept(batches, prompts, tmp_path) -> None:
    out = tmp_path / "gen.jsonl"
    batches.state.invalid = True
    batch_generate(batches, prompts, out)
    assert len(batches.state.created) == 3  # the first batch and two rebatches, then no more
    got = rows(out)
    assert sorted(got) == list(range(N))
    assert {r["error_kind"] for r in got.values()} == {"BatchFailed"}
    assert "invalid_json_line" in got[0]["error"]
    batches.state.invalid = False
    batch_generate(batches, prompts, out, "--retry-errors")
    assert all(r["error"] is None for r in rows(out).values())


def test_a_full_batch_queue_is_named_as_what_binds(batches, prompts, tmp_path, capsys) -> None:
    batches.state.invalid = True
    batches.state.invalid_error = ("token_limit_exceeded", "Enqueued token limit reached for "
                                   "gpt-4o in organization org-x. Limit: 90,000 enqueued tokens.")
    batch_generate(batches, prompts, tmp_path / "gen.jsonl", "--batch-failed", "keep")
    err = capsys.readouterr().err
    # before submitting: the rate limits do not apply, and this small run fits the queue
    assert "batch API: the per-minute rate limits do not apply here; 8 requests" in err
    assert "neither limit binds" in err
    assert "the account's batch queue was full (the queue limit, not the rate limit, binds)" in err


def test_split_keeps_order_and_refuses_an_oversized_request() -> None:
    entries = [{"custom_id": str(i)} for i in range(5)]
    assert split(entries, [4, 4, 4, 1, 9], max_requests=10, max_bytes=9) == [
        [0, 1], [2, 3], [4]]
    assert split(entries, [1] * 5, max_requests=2, max_bytes=100) == [[0, 1], [2, 3], [4]]
    with pytest.raises(UserError, match="alone is 9 bytes"):
        split(entries, [1, 9, 1, 1, 1], max_requests=10, max_bytes=8)


def test_custom_ids_are_valid_and_distinct() -> None:
    assert custom_id({"id": 17, "sample": 0}) == "k17-0"
    odd = [custom_id({"id": v, "sample": 0}) for v in ("a b", "-1", "x" * 80, "a-0")]
    assert len(set(odd)) == 4
    assert all(len(c) <= 64 and c.replace("-", "").replace("_", "").isalnum() for c in odd)


def test_batch_api_needs_a_batch_backend(prompts, tmp_path, api_keys) -> None:
    generate_ = load_generate().main
    with pytest.raises(UserError, match="has no batch API"):
        generate_(["--backend", "gemini-1.5-flash", "--prompts", str(prompts), "--out",
                   str(tmp_path / "x.jsonl"), "--batch-api"])
    with pytest.raises(UserError, match="add --batch-api"):
        generate_(["--backend", "gpt-4o", "--prompts", str(prompts), "--out",
                   str(tmp_path / "x.jsonl"), "--status"])
    assert not (tmp_path / "x.jsonl").exists()
