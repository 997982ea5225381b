"""Header parsing shared by the adapters: Retry-After, OpenAI durations, Anthropic reset times."""

from __future__ import annotations

import email.utils
import time
from datetime import datetime, timezone

import pytest

from backends.provider_http import (
    api_key_env,
    api_key_from_env,
    is_retryable_status,
    parse_duration,
    parse_retry_after,
    seconds_until,
    without_key,
)
from core.errors import UserError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("0.5", 0.5),
     ("59.3s", 59.3)],
)
def test_parse_duration_reads_openai_reset_formats(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["soon", "", "5 minutes", "3x", None])
def test_parse_duration_rejects_unreadable_text(text: str | None) -> None:
    assert parse_duration(text) is None


def test_retry_after_prefers_milliseconds_header() -> None:
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5


def test_retry_after_reads_seconds_and_is_case_insensitive_for_dicts() -> None:
    assert parse_retry_after({"Retry-After": "7"}) == 7.0
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "later"}) is None


def test_retry_after_reads_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28.0 <= parse_retry_after({"retry-after": when}) <= 30.5


def test_seconds_until_an_rfc3339_reset_time() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert seconds_until("2026-01-01T12:00:42Z", now) == 42.0
    assert seconds_until("2026-01-01T11:59:00Z", now) == 0.0  # already past
    assert seconds_until("not a time", now) is None


@pytest.mark.parametrize(("status", "retry"), [(429, True), (408, True), (409, True),
                                               (500, True), (529, True), (400, False),
                                               (401, False), (404, False), (422, False)])
def test_retryable_statuses(status: int, retry: bool) -> None:
    assert is_retryable_status(status) is retry


def test_missing_key_names_every_accepted_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    with pytest.raises(UserError, match="GEMINI_API_KEY or GOOGLE_API_KEY"):
        api_key_from_env("GEMINI_API_KEY", "GOOGLE_API_KEY", provider="Gemini")
    monkeypatch.setenv("GOOGLE_API_KEY", "  k2  ")
    assert api_key_from_env("GEMINI_API_KEY", "GOOGLE_API_KEY", provider="Gemini") == "k2"


def test_api_key_env_names_the_variable_the_key_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", " ")
    monkeypatch.setenv("GOOGLE_API_KEY", "k2")
    assert api_key_env("GEMINI_API_KEY", "GOOGLE_API_KEY") == "GOOGLE_API_KEY"
    monkeypatch.setenv("GEMINI_API_KEY", "k1")
    assert api_key_env("GEMINI_API_KEY", "GOOGLE_API_KEY") == "GEMINI_API_KEY"
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.delenv("GOOGLE_API_KEY")
    assert api_key_env("GEMINI_API_KEY", "GOOGLE_API_KEY") is None


def test_without_key_cuts_a_quoted_key_but_not_a_placeholder() -> None:
    quoted = "Consumer 'api_key:AIzaSy-test-0123' has been suspended."
    assert without_key(quoted, "AIzaSy-test-0123") == (
        "Consumer 'api_key:<API key>' has been suspended.")
    assert without_key("EMPTY answer", "EMPTY") == "EMPTY answer"
    assert without_key("no key here", None) == "no key here"


def test_tests_reach_loopback_but_no_other_address(blocked_connections: list[str]) -> None:
    import socket

    from tests.fakes.server import FakeServer

    before = len(blocked_connections)
    with pytest.raises(RuntimeError, match="tests may not reach the network"):
        socket.create_connection(("192.0.2.1", 443), timeout=1)
    with socket.socket(socket.AF_INET6) as sock, pytest.raises(RuntimeError, match="connect to"):
        sock.connect(("2001:db8::1", 443, 0, 0))
    with socket.socket() as sock, pytest.raises(RuntimeError, match="connect to"):
        sock.connect_ex(("10.255.255.1", 80))
    with pytest.raises(RuntimeError, match="DNS lookup of 'example.com'"):
        socket.getaddrinfo("example.com", 443)
    assert len(blocked_connections) == before + 4
    del blocked_connections[before:]  # refused on purpose: not a failure of this test
    with FakeServer() as server:
        port = server.httpd.server_address[1]
        for host in ("127.0.0.1", "localhost"):
            socket.create_connection((host, port), timeout=2).close()
    with socket.socket(socket.AF_UNIX) as a, socket.socket(socket.AF_UNIX) as b:
        a.bind("\0contested-guard-test")  # abstract namespace: no file left behind
        a.listen(1)
        b.connect("\0contested-guard-test")
    assert len(blocked_connections) == before


def test_hugging_face_libraries_are_offline_in_tests() -> None:
    import os

    from huggingface_hub import constants

    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert constants.HF_HUB_OFFLINE is True
