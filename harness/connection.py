"""Telling "the server cannot be reached" apart from every other failure, and stopping a run
that only ever meets it.

A wrong --base-url or a server that is down fails every request the same way; retried six
times each, the study's 10,314 prompts would take hours to become error rows. A run of
consecutive connection failures with no answer in between (any answer, even a 500, shows the
server is there) stops the run with one line naming the URL and the cause, as a refused key
does; a rerun resumes. The SDKs wrap the cause (OpenAI's aiohttp transport even calls a
refused connection "Request timed out"), so the whole exception chain is read.
"""

from __future__ import annotations

import socket
import ssl
import time

from backends.base import RunStopped

#: consecutive connection failures that stop a run at once ...
MAX_CONSECUTIVE = 24
#: ... or fewer, when the first of them is this many seconds old
MAX_STREAK_S = 60.0

#: connect-phase errors of the HTTP libraries, by class name (no SDK import here)
_CONNECT_ERRORS = {"ConnectError", "ConnectTimeout", "ClientConnectorError",
                   "ClientConnectorDNSError", "ClientConnectorSSLError",
                   "ClientConnectorCertificateError", "ClientProxyConnectionError"}


class ServerUnreachable(RunStopped):
    """Every recent request failed to connect: nothing later would get through either."""


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or any(e is seen for seen in out) or len(out) > 20:
            continue
        out.append(e)
        todo += [e.__cause__, e.__context__, getattr(e, "os_error", None)]
    return out


def connection_failure(exc: BaseException) -> str | None:
    """What kept the request from connecting ("connection refused", "DNS lookup failed ...",
    "TLS handshake failed ..."), or None when it is another failure."""
    named = getattr(exc, "connection_failure", None)  # a worker process's verdict
    if named:
        return str(named)
    chain = _chain(exc)
    for e in chain:
        if isinstance(e, socket.gaierror):
            return f"DNS lookup failed ({e.strerror or e})"
        if type(e).__name__ == "ClientConnectorDNSError":
            return f"DNS lookup failed ({e})"
    for e in chain:
        if isinstance(e, ssl.SSLError | ssl.CertificateError) or "SSL" in type(e).__name__ \
                or "Certificate" in type(e).__name__:
            return f"TLS handshake failed ({e})"
    for e in chain:
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
    for e in chain:
        if "Name or service not known" in str(e) or "nodename nor servname" in str(e):
            return f"DNS lookup failed ({e})"
    for e in chain:
        if type(e).__name__ in _CONNECT_ERRORS:
            return f"cannot connect ({e})" if str(e) else "cannot connect"
    return None


class ConnectionBreaker:
    """Counts connection failures in a row; `failed` raises ServerUnreachable at the bound."""

    def __init__(self, url: str | None, max_consecutive: int = MAX_CONSECUTIVE,
                 max_streak_s: float = MAX_STREAK_S) -> None:
        self.url = url or "the provider's API"
        self.max_consecutive = max_consecutive
        self.max_streak_s = max_streak_s
        self.streak = 0
        self.since = 0.0

    def answered(self) -> None:
        """Any answer from the server, good or bad, ends a streak."""
        self.streak = 0

    def observe(self, exc: Exception) -> None:
        """A failed try: a connection failure counts toward stopping the run (raising
        ServerUnreachable, caused by `exc`); any other failure but a timeout is an answer
        from the server (an error status, a refusal), which shows it is there."""
        cause = connection_failure(exc)
        if cause is not None:
            try:
                self.failed(cause)
            except ServerUnreachable as stop:
                raise stop from exc
        elif not isinstance(exc, TimeoutError):
            self.answered()

    def failed(self, cause: str) -> None:
        if self.streak == 0:
            self.since = time.monotonic()
        self.streak += 1
        waited = time.monotonic() - self.since
        if self.streak >= self.max_consecutive or (self.streak > 1 and waited >=
                                                   self.max_streak_s):
            raise ServerUnreachable(
                f"cannot reach {self.url}: {cause} ({self.streak} tries in a row over "
                f"{waited:.0f} s, none answered); check --base-url and that the server is up, "
                "then rerun the same command to resume")


#: an answer cut off mid-body: aiohttp's errors by class name, httpx's (h11's) by its words
_CUT_OFF_ERRORS = {"ClientPayloadError", "ContentLengthError", "TransferEncodingError",
                   "IncompleteRead"}
_CUT_OFF_WORDS = "without sending complete message body"


def closed_mid_answer(exc: BaseException) -> str | None:
    """The transport's words for a connection that closed after the answer began and before
    it was complete (OpenAI's SDK calls it "Connection error."), or None."""
    named = getattr(exc, "closed_mid_answer", None)  # a worker process's verdict
    if named:
        return str(named)
    for e in _chain(exc):
        if type(e).__name__ in _CUT_OFF_ERRORS or _CUT_OFF_WORDS in str(e):
            return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return None


def connection_error_fields(exc: BaseException, url: str | None) -> dict[str, str] | None:
    """An error row's `error` and `error_kind` for a failure to connect, whatever the SDK
    called it (OpenAI's aiohttp transport says "Request timed out"), or for a connection
    that closed before the answer was complete; None for other errors."""
    where = url or "the provider API"
    cause = connection_failure(exc)
    if cause is not None:
        return {"error": f"ConnectionError: cannot connect to {where}: {cause}",
                "error_kind": "ConnectionError"}
    cut = closed_mid_answer(exc)
    if cut is not None:
        return {"error": f"ConnectionClosed: the connection to {where} closed before the "
                         f"answer was complete ({cut})", "error_kind": "ConnectionClosed"}
    return None
