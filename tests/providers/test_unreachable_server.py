"""Issue 15.5: a server that cannot be reached stops the run with one line naming the URL and
the cause, instead of six tries per prompt and an error row for each; a rerun resumes. A
failure to connect is reported as one, not as "Request timed out"."""

from __future__ import annotations

import socket
import time

import pytest

from backends.provider_http import HTTP_TRANSPORT_ENV
from core.errors import UserError
from harness.connection import ConnectionBreaker, ServerUnreachable
from harness.results import read_jsonl
from tests.fakes.server import FakeProvider, FakeServer
from tests.providers.test_api_generation_e2e import N, generate, prompts  # noqa: F401

BACKENDS = [("gpt-4o", "aiohttp"), ("gpt-4o", "httpx"), ("claude-3.5-sonnet", "aiohttp"),
            ("gemini-1.5-flash", "httpx")]


class Closed:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"


@pytest.mark.parametrize(("backend", "transport"), BACKENDS)
def test_a_dead_server_stops_the_run_with_one_line_then_a_rerun_resumes(
        api_keys, prompts, tmp_path, monkeypatch, backend, transport) -> None:  # noqa: F811
    monkeypatch.setenv(HTTP_TRANSPORT_ENV, transport)
    dead = Closed()
    out = tmp_path / "gen.jsonl"
    start = time.monotonic()
    with pytest.raises(UserError) as info:
        generate(dead, prompts, out, "--no-cache", backend=backend)
    message = str(info.value)
    assert f"cannot reach {dead.url}" in message and "connection refused" in message
    assert "rerun the same command" in message and "\n" not in message
    assert time.monotonic() - start < 30  # not 6 tries of every prompt
    assert not out.exists()  # no error row per prompt

    with FakeServer(FakeProvider(), port=dead.port) as alive:  # the server is back
        generate(alive, prompts, out, "--no-cache", backend=backend)
    rows = list(read_jsonl(out))
    assert sorted(r["id"] for r in rows) == list(range(N)) and not any(r["error"] for r in rows)


@pytest.mark.parametrize(("backend", "transport"), BACKENDS)
def test_a_refused_connection_is_reported_as_a_connection_error(
        api_keys, prompts, tmp_path, monkeypatch, backend, transport) -> None:  # noqa: F811
    monkeypatch.setenv(HTTP_TRANSPORT_ENV, transport)
    dead = Closed()
    out = tmp_path / "gen.jsonl"
    generate(dead, prompts, out, "--no-cache", "--limit", "3", "--max-attempts", "1",
             backend=backend)
    rows = list(read_jsonl(out))
    assert len(rows) == 3
    for r in rows:
        assert r["error_kind"] == "ConnectionError"
        assert "connection refused" in r["error"] and "timed out" not in r["error"].lower()


def test_a_tls_failure_names_tls(fake, prompts, tmp_path) -> None:  # noqa: F811
    class Https:
        url = fake.url.replace("http://", "https://")

    with pytest.raises(UserError, match=r"cannot reach https://127\.0\.0\.1:\d+/v1: TLS "
                                        r"handshake failed"):
        generate(Https(), prompts, tmp_path / "gen.jsonl", "--no-cache")


def test_any_answer_between_failures_keeps_the_run_going() -> None:
    breaker = ConnectionBreaker("http://x", max_consecutive=3)
    for _ in range(10):
        breaker.failed("connection refused")
        breaker.failed("connection refused")
        breaker.answered()  # e.g. a 500: the server is there
    breaker.failed("connection refused")
    breaker.failed("connection refused")
    with pytest.raises(ServerUnreachable, match=r"cannot reach http://x: connection refused "
                                                r"\(3 tries in a row"):
        breaker.failed("connection refused")
    slow = ConnectionBreaker(None, max_consecutive=100, max_streak_s=0.05)
    slow.failed("DNS lookup failed")
    time.sleep(0.06)
    with pytest.raises(ServerUnreachable, match=r"cannot reach the provider's API"):
        slow.failed("DNS lookup failed")
