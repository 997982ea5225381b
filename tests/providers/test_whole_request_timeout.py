"""Issue 15.4: --timeout bounds the whole request, from connect to last byte, on every
transport and provider. A server that sends its answer a byte at a time once held each
request for a minute under --timeout 5: each read was quick, and only reads were bounded."""

from __future__ import annotations

import time

# imported first, so the timed runs measure requests rather than an SDK's first import (a few
# seconds on a busy 2-core machine, with the event loop blocked)
import anthropic  # noqa: F401
import google.genai  # noqa: F401
import openai  # noqa: F401
import pytest

from backends.provider_http import HTTP_TRANSPORT_ENV
from harness.results import read_jsonl
from tests.providers.test_api_generation_e2e import N, generate, prompts  # noqa: F401

CASES = [("gpt-4o", "aiohttp", 1), ("gpt-4o", "httpx", 1), ("claude-3.5-sonnet", "aiohttp", 1),
         ("claude-3.5-sonnet", "httpx", 1), ("gemini-1.5-flash", "aiohttp", 1)]


@pytest.mark.parametrize(("backend", "transport", "workers"), CASES)
def test_a_trickling_server_is_cut_off_at_the_timeout(fake, prompts, tmp_path, monkeypatch,  # noqa: F811
                                                      backend, transport, workers) -> None:
    monkeypatch.setenv(HTTP_TRANSPORT_ENV, transport)
    fake.state.push("trickle", seconds=0.25)  # ~300 bytes: over a minute for the whole body
    out = tmp_path / "gen.jsonl"
    start = time.monotonic()
    generate(fake, prompts, out, "--no-cache", "--timeout", "1.5", "--max-attempts", "1",
             "--workers", str(workers), backend=backend)
    took = time.monotonic() - start
    rows = {r["id"]: r for r in read_jsonl(out)}
    stalled = [r for r in rows.values() if r["error"]]
    assert len(rows) == N and len(stalled) == 1
    assert stalled[0]["error_kind"] == "RequestTimeout"
    assert "within 1.5 s" in stalled[0]["error"]
    assert took < 15  # the trickle alone would take over a minute


def test_calls_in_worker_processes_are_bounded_too(fake, prompts, tmp_path) -> None:  # noqa: F811
    fake.state.push("trickle", seconds=0.25)
    out = tmp_path / "gen.jsonl"
    start = time.monotonic()
    generate(fake, prompts, out, "--no-cache", "--timeout", "4", "--workers", "2")
    took = time.monotonic() - start
    rows = list(read_jsonl(out))
    # the stalled call is cut off in its worker and retried; the retry is answered at once
    assert len(rows) == N and not [r for r in rows if r["error"]]
    assert max(r["attempts"] for r in rows) >= 2
    assert took < 40  # the trickle alone would take over a minute
