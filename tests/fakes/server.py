"""A fake model provider on 127.0.0.1 that speaks the OpenAI, Anthropic and Gemini protocols.

Close enough for the real SDK clients: OpenAI POST /v1/chat/completions and /v1/completions,
Anthropic POST /v1/messages, Gemini POST /v1/models/{model}:generateContent (google-genai
3.x default; /v1beta too). Behaviour
is scripted: a queue of faults (each answers one request, then the normal answer resumes),
a fixed latency, and an optional requests-per-minute limit enforced over a sliding window.
Every request is recorded (path, headers, JSON body) for tests to inspect.

Run it as a separate process for benchmarks (so the server does not share the client's
interpreter lock):  python -m tests.fakes.server --latency 0.05 --rpm 1200
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.limits import limit_headers

#: fault kinds a test can queue
FAULT_KINDS = (
    "rate_limit",        # 429 with Retry-After (seconds) and/or retry-after-ms
    "quota",             # 429: the account's quota is used up (OpenAI insufficient_quota ...)
    "bad_key",           # the key is wrong or revoked (401; Gemini: 400 API_KEY_INVALID)
    "forbidden",         # 403: the key may not do this (restricted key, suspended project)
    "server_error",      # 500
    "overloaded",        # 529 (Anthropic) / 503
    "slow",              # answer normally, after `seconds`
    "bad_request",       # 400 with the provider's error body, `message` and `code`
    "refusal",           # 200 refused by the safety system (OpenAI `refusal`, Anthropic
                         # stop_reason refusal, OpenAI finish_reason content_filter with
                         # `code="content_filter"`)
    "malformed",         # 200 with a body that is not JSON
    "disconnect",        # hang up without answering (a dropped keep-alive connection)
    "safety_block",      # Gemini: the prompt blocked (promptFeedback.blockReason)
    "safety_finish",     # Gemini: the answer stopped by safety (finishReason SAFETY)
    "logprobs_disabled", # Gemini: 400 'Logprobs is not enabled for models/...'
    "headers",           # answer normally with extra `headers` (rate-limit headers)
    "status",            # any status with a raw `body` and `headers`
    "trickle",           # a normal answer sent one byte every `seconds` (a stalled server)
    "truncated",         # status, headers and half of a normal answer, then the socket closes
)


@dataclass
class Fault:
    kind: str
    retry_after: float | None = None
    retry_after_ms: float | None = None
    seconds: float = 0.0
    message: str = "fake provider error"
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 500
    body: str = ""
    block_reason: str = "SAFETY"
    daily: bool = False  # Gemini quota: a per-day quota rather than per-minute
    #: bad_request: OpenAI's error code / Anthropic's error type (e.g. context_length_exceeded)
    code: str | None = None


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float


def default_reply(provider: str, prompt: str) -> str:
    return f"echo: {prompt}"


class FakeProvider:
    """The scripted state behind the HTTP server; thread-safe."""

    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        rpm: float | None = None,
        window_s: float = 60.0,
        model_version: str | None = None,
        logprobs: dict[str, float] | None = None,
        record: bool = True,
        announce: bool = False,
        announce_tpm: int | None = None,
        drop_after: int | None = None,
        drop_to: float | None = None,
    ) -> None:
        self.latency_s = latency_s
        self.rpm = rpm
        #: state the rpm limit in each answer's headers (OpenAI's or Anthropic's format)
        self.announce = announce
        self.announce_tpm = announce_tpm  # a token limit to state too (OpenAI; not enforced)
        #: after this many admitted requests the limit becomes `drop_to` (a mid-run drop)
        self.drop_after = drop_after
        self.drop_to = drop_to
        self.window_s = window_s
        self.model_version = model_version
        self.logprobs = logprobs or {"A": -0.25, "B": -1.75, "C": -3.0}
        self.reply: Callable[[str, str], str] = default_reply
        self.record = record
        self.requests: list[Recorded] = []
        self.faults: collections.deque[Fault] = collections.deque()
        self.accepted: collections.deque[float] = collections.deque()  # for the rpm window
        self.served = 0
        self.admitted = 0
        self.rejected_429 = 0
        self._lock = threading.Lock()
        self.stopping = threading.Event()

    def push(self, kind: str, times: int = 1, **kw: Any) -> None:
        """Queue a fault for the next `times` requests (FIFO)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; use one of {FAULT_KINDS}")
        for _ in range(times):
            self.faults.append(Fault(kind, **kw))

    def next_fault(self) -> Fault | None:
        with self._lock:
            return self.faults.popleft() if self.faults else None

    def admit(self) -> bool:
        """Count a request against the rpm window; False means answer 429."""
        with self._lock:
            self.served += 1
            if self.rpm is None:
                return True
            now = time.monotonic()
            while self.accepted and self.accepted[0] <= now - self.window_s:
                self.accepted.popleft()
            if len(self.accepted) >= self.rpm * self.window_s / 60.0:
                self.rejected_429 += 1
                return False
            self.accepted.append(now)
            self.admitted += 1
            if self.drop_after is not None and self.admitted == self.drop_after:
                self.rpm = self.drop_to
            return True

    def announced(self, protocol: str) -> dict[str, str]:
        """The rate-limit headers of an answer now: the limit, what is left of it in the
        window, and the seconds until a slot frees (the oldest entry leaving the window)."""
        with self._lock:
            if not self.announce or self.rpm is None:
                return {}
            limit = int(self.rpm * self.window_s / 60.0)
            now = time.monotonic()
            used = len(self.accepted)
            # full: until enough entries leave to admit one more; else until the oldest leaves
            i = max(0, used - limit) if used >= limit else 0
            reset = (self.accepted[i] + self.window_s - now) if used > i else 0.0
            return limit_headers(protocol, int(self.rpm), max(0, limit - used), max(0.0, reset),
                                 self.announce_tpm)

    def log(self, rec: Recorded) -> None:
        if self.record:
            with self._lock:
                self.requests.append(rec)

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]


# ---- protocol bodies -----------------------------------------------------------------------
def _openai_error(status: int, message: str, type_: str, code: str | None) -> tuple[int, dict]:
    return status, {"error": {"message": message, "type": type_, "param": None, "code": code}}


def _anthropic_error(status: int, message: str, type_: str) -> tuple[int, dict]:
    return status, {"type": "error", "error": {"type": type_, "message": message}}


def _gemini_error(status: int, message: str, grpc: str, details: list | None = None
                  ) -> tuple[int, dict]:
    err: dict[str, Any] = {"code": status, "message": message, "status": grpc}
    if details:
        err["details"] = details
    return status, {"error": err}


def _masked(key: str) -> str:
    # OpenAI quotes a wrong key in its message, masked like this
    return f"{key[:8]}****{key[-4:]}" if len(key) > 12 else "****"


def error_body(provider: str, fault: Fault, api_key: str = "") -> tuple[int, dict]:
    """The status and JSON error body each provider sends for a fault.

    `api_key` is the key the request carried: providers quote it in some messages (OpenAI
    masked, Gemini whole), so tests can check it never reaches an output.
    """
    k = fault.kind
    if provider == "openai":
        if k == "bad_key":
            return _openai_error(401, f"Incorrect API key provided: {_masked(api_key)}. You can "
                                 "find your API key at https://platform.openai.com/account/"
                                 "api-keys.", "invalid_request_error", "invalid_api_key")
        if k == "forbidden":
            return _openai_error(403, "You have insufficient permissions for this operation. "
                                 "Missing scopes: model.request.", "invalid_request_error",
                                 None)
        if k == "rate_limit":
            return _openai_error(429, "Rate limit reached for requests", "requests",
                                 "rate_limit_exceeded")
        if k == "quota":
            return _openai_error(429, "You exceeded your current quota, please check your plan "
                                 "and billing details.", "insufficient_quota", "insufficient_quota")
        if k == "server_error":
            return _openai_error(500, "The server had an error", "server_error", None)
        if k == "overloaded":
            return _openai_error(503, "The engine is currently overloaded", "server_error", None)
        return _openai_error(400, fault.message, "invalid_request_error", fault.code)
    if provider == "anthropic":
        if k == "bad_key":
            return _anthropic_error(401, "invalid x-api-key", "authentication_error")
        if k == "forbidden":
            return _anthropic_error(403, "Your API key does not have permission to use the "
                                    "specified resource.", "permission_error")
        if k == "rate_limit":
            return _anthropic_error(429, "Number of requests has exceeded your rate limit",
                                    "rate_limit_error")
        if k == "quota":
            return _anthropic_error(400, "Your credit balance is too low to access the "
                                    "Anthropic API.", "invalid_request_error")
        if k == "server_error":
            return _anthropic_error(500, "Internal server error", "api_error")
        if k == "overloaded":
            return _anthropic_error(529, "Overloaded", "overloaded_error")
        return _anthropic_error(400, fault.message, fault.code or "invalid_request_error")
    # gemini
    if k == "bad_key":
        return _gemini_error(400, "API key not valid. Please pass a valid API key.",
                             "INVALID_ARGUMENT", [
                                 {"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                  "reason": "API_KEY_INVALID", "domain": "googleapis.com",
                                  "metadata": {"service": "generativelanguage.googleapis.com"}}])
    if k == "forbidden":
        return _gemini_error(403, f"Permission denied: Consumer 'api_key:{api_key}' has been "
                             "suspended.", "PERMISSION_DENIED", [
                                 {"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                  "reason": "CONSUMER_SUSPENDED", "domain": "googleapis.com"}])
    if k in ("rate_limit", "quota"):
        quota_id = ("GenerateRequestsPerDayPerProjectPerModel-FreeTier" if fault.daily or
                    k == "quota" else "GenerateRequestsPerMinutePerProjectPerModel")
        details = [{"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [{"quotaMetric": "generate_content_requests",
                                    "quotaId": quota_id}]}]
        if fault.retry_after is not None:
            details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo",
                            "retryDelay": f"{fault.retry_after:g}s"})
        return _gemini_error(429, "You exceeded your current quota, please check your plan and "
                             "billing details.", "RESOURCE_EXHAUSTED", details)
    if k == "server_error":
        return _gemini_error(500, "An internal error has occurred.", "INTERNAL")
    if k == "overloaded":
        return _gemini_error(503, "The model is overloaded. Please try again later.",
                             "UNAVAILABLE")
    return _gemini_error(400, fault.message, "INVALID_ARGUMENT")


def _last_user_text(provider: str, body: dict[str, Any]) -> str:
    if provider == "openai-completions":
        return str(body.get("prompt", ""))
    if provider == "gemini":
        contents = body.get("contents") or []
        for c in reversed(contents):
            if c.get("role", "user") == "user":
                return "".join(p.get("text", "") for p in c.get("parts", []))
        return ""
    for m in reversed(body.get("messages") or []):
        if m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, list):
                return "".join(b.get("text", "") for b in content if isinstance(b, dict))
            return str(content)
    return ""


def success_body(provider: str, body: dict[str, Any], state: FakeProvider, fault: Fault | None
                 ) -> dict[str, Any]:
    """A normal answer in each protocol; a few tokens each way."""
    prompt = _last_user_text(provider, body)
    text = state.reply(provider, prompt)
    n_in, n_out = max(1, len(prompt.split())), max(1, len(text.split()))
    if provider == "openai":
        model = state.model_version or body.get("model")
        logprobs = None
        if body.get("logprobs"):
            k = int(body.get("top_logprobs") or 0)
            top = [{"token": t, "logprob": lp, "bytes": list(t.encode())}
                   for t, lp in list(state.logprobs.items())[:k]]
            first = top[0] if top else {"token": text[:1], "logprob": -0.1}
            logprobs = {"content": [{"token": first["token"], "logprob": first["logprob"],
                                     "bytes": list(first["token"].encode()),
                                     "top_logprobs": top}], "refusal": None}
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
        finish = "stop"
        if fault is not None and fault.kind == "refusal":
            if fault.code == "content_filter":
                message["content"], finish = "", "content_filter"
            else:
                message.update(content=None, refusal=fault.message)
        return {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": model, "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": message,
                         "logprobs": logprobs, "finish_reason": finish}],
            "usage": {"prompt_tokens": n_in, "completion_tokens": n_out,
                      "total_tokens": n_in + n_out},
        }
    if provider == "openai-completions":
        model = state.model_version or body.get("model")
        logprobs = None
        if body.get("logprobs"):
            k = int(body["logprobs"])
            top = dict(list(state.logprobs.items())[:k])
            first = next(iter(top), text[:1])
            logprobs = {"tokens": [first], "token_logprobs": [top.get(first, -0.1)],
                        "top_logprobs": [top], "text_offset": [0]}
        return {
            "id": "cmpl-fake", "object": "text_completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "text": text, "logprobs": logprobs,
                         "finish_reason": "length"}],
            "usage": {"prompt_tokens": n_in, "completion_tokens": n_out,
                      "total_tokens": n_in + n_out},
        }
    if provider == "anthropic":
        refused = fault is not None and fault.kind == "refusal"
        return {
            "id": "msg_fake", "type": "message", "role": "assistant",
            "model": state.model_version or body.get("model"),
            "content": [] if refused else [{"type": "text", "text": text}],
            "stop_reason": "refusal" if refused else "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": n_in, "output_tokens": n_out},
        }
    # gemini
    usage = {"promptTokenCount": n_in, "candidatesTokenCount": n_out,
             "totalTokenCount": n_in + n_out}
    version = state.model_version or body.get("_model", "gemini-fake")
    if fault is not None and fault.kind == "safety_block":
        return {"promptFeedback": {"blockReason": fault.block_reason, "safetyRatings": [
            {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}]},
            "usageMetadata": {"promptTokenCount": n_in, "totalTokenCount": n_in},
            "modelVersion": version, "responseId": "fake"}
    cand: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"},
                            "finishReason": "STOP", "index": 0}
    if fault is not None and fault.kind == "safety_finish":
        cand = {"finishReason": "SAFETY", "index": 0, "safetyRatings": [
            {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH", "blocked": True}]}
    config = body.get("generationConfig") or {}
    if config.get("responseLogprobs"):
        k = int(config.get("logprobs") or 1)
        top = [{"token": t, "logProbability": lp} for t, lp in list(state.logprobs.items())[:k]]
        cand["logprobsResult"] = {"topCandidates": [{"candidates": top}],
                                  "chosenCandidates": top[:1]}
    return {"candidates": [cand], "usageMetadata": usage, "modelVersion": version,
            "responseId": "fake"}


_GEMINI_PATH = re.compile(r"^/v1(?:beta)?/models/(?P<model>[^/:]+):generateContent$")


def provider_of(path: str) -> tuple[str | None, str | None]:
    """(protocol, Gemini model) for a request path."""
    path = path.split("?", 1)[0]
    if path.endswith("/chat/completions"):
        return "openai", None
    if path.endswith("/completions"):
        return "openai-completions", None
    if path.endswith("/messages"):
        return "anthropic", None
    m = _GEMINI_PATH.match(path)
    if m:
        return "gemini", m.group("model")
    return None, None


def _request_key(headers: Any) -> str:
    """The API key a request carried, in whichever header its protocol uses."""
    auth = headers.get("Authorization") or ""
    if auth.startswith("Bearer "):
        return auth[len("Bearer "):]
    return headers.get("x-api-key") or headers.get("x-goog-api-key") or ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect
    # headers and body leave in one write, without Nagle's delay: otherwise each answer
    # waits ~40 ms for the client's delayed ACK, and latency is no longer what we set
    disable_nagle_algorithm = True
    wbufsize = 1 << 16
    state: FakeProvider  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def _trickle(self, payload: bytes, every_s: float) -> None:
        """Status line and headers at once, then the body a byte at a time: each read
        finishes quickly, so only a bound on the whole request ends it early."""
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.flush()
            for i in range(len(payload)):
                if self.state.stopping.wait(every_s):
                    return
                self.wfile.write(payload[i:i + 1])
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up

    def _truncated(self, payload: bytes) -> None:
        """A Content-Length for the whole answer, half of it sent, then the connection
        closed: a server that dies mid-body."""
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[:len(payload) // 2])
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        """GET /_fake/stats: what the server saw, for a benchmark in another process."""
        s = self.state
        stats = {"served": s.served, "rejected_429": s.rejected_429}
        self._send(200, json.dumps(stats).encode())

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        state = self.state
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = raw.decode("utf-8", "replace")
        state.log(Recorded("POST", self.path, {k.lower(): v for k, v in self.headers.items()},
                           body, time.time()))
        provider, model = provider_of(self.path)
        if provider is None or not isinstance(body, dict):
            self._send(404, b'{"error": {"message": "no such route"}}')
            return
        if model is not None:
            body = {**body, "_model": model}  # the recorded body stays as sent
        protocol = "openai" if provider == "openai-completions" else provider
        if not state.admit():
            status, err = error_body(protocol, Fault("rate_limit"))
            self._send(status, json.dumps(err).encode(),
                       {"retry-after": "1", **state.announced(protocol)})
            return
        fault = state.next_fault()
        delay = state.latency_s + (fault.seconds if fault and fault.kind == "slow" else 0.0)
        if delay > 0 and state.stopping.wait(delay):
            return
        if fault is not None and fault.kind == "trickle":
            self._trickle(json.dumps(success_body(provider, body, state, None)).encode(),
                          fault.seconds)
            return
        if fault is not None and fault.kind == "truncated":
            self._truncated(json.dumps(success_body(provider, body, state, None)).encode())
            return
        if fault is not None and fault.kind == "disconnect":
            self.close_connection = True  # the socket closes with no status line sent
            return
        headers = {**state.announced(protocol), **(fault.headers if fault else {})}
        if fault is None or fault.kind in ("slow", "headers", "safety_block", "safety_finish",
                                           "refusal"):
            payload = success_body(provider, body, state, fault)
            self._send(200, json.dumps(payload).encode(), headers)
            return
        if fault.kind == "malformed":
            self._send(200, b'{"id": "chatcmpl-broken", "choices": [{"mess', headers)
            return
        if fault.kind == "status":
            self._send(fault.status, fault.body.encode(), headers)
            return
        if fault.kind == "logprobs_disabled":
            status, err = _gemini_error(400, f"Logprobs is not enabled for models/{model}",
                                        "INVALID_ARGUMENT")
        else:
            status, err = error_body(protocol, fault, _request_key(self.headers))
        if fault.retry_after is not None and protocol != "gemini":
            headers.setdefault("retry-after", f"{fault.retry_after:g}")
        if fault.retry_after_ms is not None:
            headers.setdefault("retry-after-ms", f"{fault.retry_after_ms:g}")
        self._send(status, json.dumps(err).encode(), headers)


class _Server(ThreadingHTTPServer):
    # dozens of clients connect at once; the stdlib's backlog of 5 would drop their SYNs
    request_queue_size = 256


class FakeServer:
    """A FakeProvider behind a threaded HTTP server on 127.0.0.1 (port chosen by the OS)."""

    def __init__(self, state: FakeProvider | None = None, port: int = 0) -> None:
        self.state = state or FakeProvider()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.httpd = _Server(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        # a short poll interval makes stop() quick
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.state.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    p = argparse.ArgumentParser(description="fake model provider on 127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
    p.add_argument("--rpm", type=float, help="requests per minute enforced (429 past it)")
    p.add_argument("--announce", action="store_true", help="state --rpm in rate-limit headers")
    p.add_argument("--announce-tpm", type=int, help="a token limit to state as well")
    p.add_argument("--drop-after", type=int, help="admitted requests before the limit drops")
    p.add_argument("--drop-to", type=float, help="requests per minute after the drop")
    args = p.parse_args()
    server = FakeServer(FakeProvider(latency_s=args.latency, rpm=args.rpm, record=False,
                                     announce=args.announce, announce_tpm=args.announce_tpm,
                                     drop_after=args.drop_after,
                                     drop_to=args.drop_to),
                        port=args.port)
    server.start()
    print(server.url, flush=True)
    try:
        server.thread.join()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()


class FakeServerProcess:
    """The fake provider in a child process (benchmarks: the server must not share the
    client's interpreter lock, or its threads slow the client under test)."""

    def __init__(self, *, latency_s: float = 0.0, rpm: float | None = None,
                 announce: bool = False, announce_tpm: int | None = None,
                 drop_after: int | None = None, drop_to: float | None = None) -> None:
        import os
        import subprocess
        import sys
        from pathlib import Path

        repo = Path(__file__).resolve().parents[2]
        cmd = [sys.executable, "-m", "tests.fakes.server", "--latency", str(latency_s)]
        if rpm is not None:
            cmd += ["--rpm", str(rpm)]
        if announce:
            cmd += ["--announce"]
        if announce_tpm is not None:
            cmd += ["--announce-tpm", str(announce_tpm)]
        if drop_after is not None and drop_to is not None:
            cmd += ["--drop-after", str(drop_after), "--drop-to", str(drop_to)]
        env = {**os.environ, "PYTHONPATH": str(repo)}
        self.proc = subprocess.Popen(cmd, cwd=repo, env=env, stdout=subprocess.PIPE, text=True)
        self.url = (self.proc.stdout.readline() if self.proc.stdout else "").strip()
        if not self.url.startswith("http://"):
            self.stop()
            raise RuntimeError("the fake provider process did not start")

    def stats(self) -> dict[str, int]:
        """{"served": n, "rejected_429": n} as the server counted them."""
        import urllib.request

        with urllib.request.urlopen(self.url + "/_fake/stats", timeout=5) as resp:
            return json.loads(resp.read())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def __enter__(self) -> FakeServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
