"""What hosted providers' HTTP answers say, read the same way for every adapter.

Retry-After headers, rate-limit headers, retryable status codes, the API key lookup, the
HTTP transport choice and the SDK client held per event loop. Pure functions, no SDK
imports: each adapter maps its SDK's exceptions onto these.
"""

from __future__ import annotations

import asyncio
import email.utils
import importlib.util
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar

from backends.base import ProviderRefusal
from core.errors import UserError
from core.text import text_of_parts

#: 408 request timeout, 409 conflict (e.g. a lock at the provider), 429 rate limited
RETRYABLE_STATUS = frozenset({408, 409, 429})


class MalformedResponse(Exception):
    """A 2xx answer whose body is not the JSON the protocol promises.

    Treated as transient (a truncated body or a proxy's error page): the shared retry loop
    tries again, and after the last attempt the row carries this message as its error.
    """


def _kind_of(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(value),
                                                                        type(value).__name__)


def answer_object(value: object, where: str) -> dict[str, Any]:
    """`value` if it is a JSON object (None: an empty one), else MalformedResponse naming
    `where` in the answer and what was there instead."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedResponse(f"malformed response: {where} is {_kind_of(value)}, not an "
                                "object")
    return value


def answer_text(value: object, where: str) -> str | None:
    """A text field of an answer: a string, None, or a list of content parts
    ([{"type": "text", "text": ...}], as some OpenAI-compatible servers send) joined into
    one string; anything else is MalformedResponse naming `where`."""
    if value is None or isinstance(value, str):
        return value
    joined = text_of_parts(value)
    if joined is not None:
        return joined
    raise MalformedResponse(f"malformed response: {where} is {_kind_of(value)}, not text")


def answer_count(value: object, where: str) -> int | None:
    """A token count of an answer: a whole number or None, else MalformedResponse."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise MalformedResponse(f"malformed response: {where} is {_kind_of(value)}, not a "
                            "whole number")


class LogprobsUnavailable(ProviderRefusal, UserError):
    """The model refuses to return log-probabilities (e.g. Gemini's 400 'not enabled').

    A ProviderRefusal, so the runner writes it as a row and never retries it; a UserError,
    so a caller that needs log-probabilities stops with this one line.
    """

    def __init__(self, model_id: str, provider_message: str) -> None:
        super().__init__(
            f"{model_id} returns no log-probabilities ({provider_message}); use the sampling "
            "estimate instead (--samples-per-item N)",
            finish_reason="logprobs_unavailable",
        )


def is_retryable_status(status: int) -> bool:
    """429 (rate limit), 408, 409 and every 5xx are worth another try."""
    return status in RETRYABLE_STATUS or status >= 500


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `retry-after` (seconds or an HTTP date)."""
    if not headers:
        return None
    ms = _header(headers, "retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
            return value if math.isfinite(value) and value >= 0 else None
        except ValueError:
            pass
    raw = _header(headers, "retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
        return value if math.isfinite(value) and value >= 0 else None
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(raw)
    if parsed is None:
        return None
    return max(0.0, email.utils.mktime_tz(parsed) - time.time())


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)")
_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6,
                   "ns": 1e-9}


def parse_duration(text: str | None) -> float | None:
    """Seconds in a Go-style duration as OpenAI sends it ("1s", "6m0s", "20ms", "1h2m3.5s")."""
    if text is None:
        return None
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)


def seconds_until(timestamp: str | None, now: datetime | None = None) -> float | None:
    """Seconds from `now` to an RFC 3339 time (Anthropic's *-reset headers); never negative."""
    if not timestamp:
        return None
    try:
        when = datetime.fromisoformat(timestamp.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def header_int(headers: Mapping[str, str] | None, name: str) -> int | None:
    """An integer header, or None when absent or unreadable."""
    raw = _header(headers, name) if headers else None
    if raw is None:
        return None
    try:
        return int(float(raw))
    except ValueError:
        return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # SDK header objects are case-insensitive; a plain dict (tests, batch files) may not be
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def api_key_env(*names: str) -> str | None:
    """The first of the env vars `names` that is set (the one an adapter reads its key from)."""
    return next((name for name in names if os.environ.get(name, "").strip()), None)


def api_key_from_env(*names: str, provider: str) -> str:
    """The first of the env vars `names` that is set, or a UserError naming them."""
    name = api_key_env(*names)
    if name is not None:
        return os.environ[name].strip()
    wanted = " or ".join(names)
    raise UserError(f"{provider} needs an API key: set {wanted} (export {names[0]}=...)")


def without_key(text: str, key: str | None) -> str:
    """`text` with the API key cut out: some providers quote the key in their error message."""
    # a key this short is a placeholder such as EMPTY, and would cut ordinary words
    if key and len(key) >= 8:
        return text.replace(key, "<API key>")
    return text


#: set to "httpx" to send through the SDKs' default httpx transport instead of aiohttp
HTTP_TRANSPORT_ENV = "CONTESTED_HTTP_TRANSPORT"
HTTP_TRANSPORTS = ("aiohttp", "httpx")


def http_transport() -> str:
    """"aiohttp" (the default, when installed) or "httpx".

    Each SDK documents aiohttp as its transport for high concurrency; here it costs about
    two thirds of httpx's CPU per request, which is what bounds a run at concurrency 32 on
    a small machine (benchmarks/bench_api_concurrency.py). google-genai picks aiohttp by
    itself whenever it is importable, so the Gemini adapter must read aiohttp's errors
    either way.
    """
    wanted = os.environ.get(HTTP_TRANSPORT_ENV, "").strip().lower() or "aiohttp"
    if wanted not in HTTP_TRANSPORTS:
        raise UserError(f"{HTTP_TRANSPORT_ENV}={wanted!r} is not a transport; use one of "
                        f"{', '.join(HTTP_TRANSPORTS)}")
    if wanted == "aiohttp" and importlib.util.find_spec("aiohttp") is None:
        return "httpx"
    return wanted


def aiohttp_transient_errors() -> tuple[type[BaseException], ...]:
    """aiohttp's connection and truncated-body errors (worth another try), if installed.

    A transport that maps them onto httpx errors (the OpenAI and Anthropic SDKs') never lets
    them out; google-genai does.
    """
    try:
        import aiohttp
    except ImportError:
        return ()
    return (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError)


T = TypeVar("T")


class ClientPerLoop(Generic[T]):
    """One SDK client per running event loop.

    An async SDK client keeps pooled connections bound to the loop that opened them; a
    second `asyncio.run` (a resumed run in the same process) gets a fresh client.
    """

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: T | None = None

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = self._factory()
            self._loop = loop
        return self._client

    def take(self) -> T | None:
        """The client made in the running loop (for closing it), forgetting it."""
        client, self._client = self._client, None
        try:
            same_loop = self._loop is asyncio.get_running_loop()
        except RuntimeError:
            same_loop = False
        self._loop = None
        return client if same_loop else None
