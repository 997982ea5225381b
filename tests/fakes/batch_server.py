"""A fake OpenAI Batch API and Anthropic Message Batches API on 127.0.0.1.

Enough of both protocols for the real SDK clients: OpenAI file upload (multipart), batch
creation, retrieval, cancellation and file content; Anthropic batch creation, retrieval,
cancellation and the results stream. Each request in a batch is answered with the online
fake's body (`server.success_body`), so batch rows can be compared with online rows.
The online endpoints answer too (for failed requests sent online).
A batch ends after `polls_to_end` retrievals (never while `hold` is set); `fail` scripts
per-request failures (each custom_id fails once).
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.server import FakeProvider, success_body

#: per-request failure kinds a test can script
FAIL_KINDS = ("server_error", "expired", "invalid")


class FakeBatches:
    """The state behind the server; thread-safe."""

    def __init__(self) -> None:
        self.answers = FakeProvider()  # reply text and model version, as the online fake
        self.polls_to_end = 1
        self.hold = False
        self.invalid = False  # OpenAI batches fail validation as a whole
        self.invalid_error = ("invalid_json_line", "line 1 is not valid")  # (code, message)
        self.fail: dict[str, str] = {}
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.created: list[str] = []  # batch ids in creation order
        self.calls: list[tuple[str, str]] = []  # (method, path)
        self.online: list[dict[str, Any]] = []  # bodies sent to the online endpoints
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):04d}"

    def entries(self, batch_id: str) -> list[dict[str, Any]]:
        return self.batches[batch_id]["entries"]


# ---- answering one request ------------------------------------------------------------------
def _openai_line(state: FakeBatches, entry: dict[str, Any], kind: str | None) -> dict[str, Any]:
    cid = entry["custom_id"]
    line: dict[str, Any] = {"id": f"batch_req_{cid}", "custom_id": cid, "response": None,
                            "error": None}
    if kind == "expired":
        line["error"] = {"code": "batch_expired", "message": "This request could not be "
                         "executed before the completion window expired."}
    elif kind == "canceled":
        line["error"] = {"code": "batch_cancelled", "message": "The batch was cancelled."}
    elif kind == "server_error":
        line["response"] = {"status_code": 500, "request_id": "req_x", "body": {"error": {
            "message": "The server had an error", "type": "server_error", "code": None}}}
    elif kind == "invalid":
        line["response"] = {"status_code": 400, "request_id": "req_x", "body": {"error": {
            "message": "Invalid prompt: flagged", "type": "invalid_request_error",
            "code": "content_policy_violation"}}}
    else:
        body = success_body("openai", entry["body"], state.answers, None)
        line["response"] = {"status_code": 200, "request_id": "req_x", "body": body}
    return line


def _anthropic_line(state: FakeBatches, entry: dict[str, Any], kind: str | None
                    ) -> dict[str, Any]:
    cid = entry["custom_id"]
    if kind in ("expired", "canceled"):
        return {"custom_id": cid, "result": {"type": kind}}
    if kind in ("server_error", "invalid"):
        etype = "api_error" if kind == "server_error" else "invalid_request_error"
        return {"custom_id": cid, "result": {"type": "errored", "error": {
            "type": "error", "error": {"type": etype, "message": f"fake {etype}"}}}}
    message = success_body("anthropic", entry["params"], state.answers, None)
    return {"custom_id": cid, "result": {"type": "succeeded", "message": message}}


def _finish(state: FakeBatches, batch: dict[str, Any]) -> None:
    """Answer every request of the batch (canceled ones if it was cancelled)."""
    lines = []
    for entry in batch["entries"]:
        kind = "canceled" if batch["cancelled"] else state.fail.pop(entry["custom_id"], None)
        line = (_openai_line if batch["provider"] == "openai" else _anthropic_line)(
            state, entry, kind)
        lines.append((kind, line))
    batch["lines"] = lines
    batch["ended"] = True


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def openai_batch(batch: dict[str, Any]) -> dict[str, Any]:
    ended = batch["ended"]
    status = "in_progress"
    if batch.get("invalid"):
        return {"id": batch["id"], "object": "batch", "endpoint": batch["endpoint"],
                "input_file_id": batch["input_file_id"], "completion_window": "24h",
                "status": "failed", "created_at": int(batch["created"]),
                "errors": {"object": "list", "data": [
                    {"code": batch["invalid"][0], "message": batch["invalid"][1],
                     "line": 1, "param": None}]},
                "request_counts": {"total": 0, "completed": 0, "failed": 0}}
    if batch["cancelled"]:
        status = "cancelled" if ended else "cancelling"
    elif ended:
        status = "completed"
    lines = batch.get("lines") or []
    failed = sum(1 for k, ln in lines if ln["error"] or ln["response"]["status_code"] != 200)
    return {
        "id": batch["id"], "object": "batch", "endpoint": batch["endpoint"], "errors": None,
        "input_file_id": batch["input_file_id"], "completion_window": "24h", "status": status,
        "output_file_id": batch.get("output_file_id"), "error_file_id": batch.get("error_file_id"),
        "created_at": int(batch["created"]), "metadata": None,
        "request_counts": {"total": len(batch["entries"]),
                           "completed": len(lines) - failed if ended else 0,
                           "failed": failed if ended else 0},
    }


def anthropic_batch(batch: dict[str, Any], base: str) -> dict[str, Any]:
    ended = batch["ended"]
    counts = {"processing": 0 if ended else len(batch["entries"]), "succeeded": 0, "errored": 0,
              "canceled": 0, "expired": 0}
    for _, line in batch.get("lines") or []:
        counts[line["result"]["type"]] += 1
    status = "ended" if ended else ("canceling" if batch["cancelled"] else "in_progress")
    return {
        "id": batch["id"], "type": "message_batch", "processing_status": status,
        "request_counts": counts, "created_at": _iso(batch["created"]),
        "expires_at": _iso(batch["created"] + 86400), "archived_at": None,
        "ended_at": _iso(time.time()) if ended else None,
        "cancel_initiated_at": _iso(time.time()) if batch["cancelled"] else None,
        "results_url": f"{base}/v1/messages/batches/{batch['id']}/results" if ended else None,
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: FakeBatches

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, payload: Any, content_type: str = "application/json") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _poll(self, batch_id: str) -> dict[str, Any] | None:
        s = self.state
        with s._lock:
            batch = s.batches.get(batch_id)
            if batch is None:
                return None
            batch["polls"] += 1
            if not batch["ended"] and (batch["cancelled"] or (
                    not s.hold and batch["polls"] >= s.polls_to_end)):
                _finish(s, batch)
                if batch["provider"] == "openai":
                    self._write_files(batch)
            return batch

    def _write_files(self, batch: dict[str, Any]) -> None:
        s = self.state
        ok = [ln for k, ln in batch["lines"] if not ln["error"]
              and ln["response"]["status_code"] == 200]
        bad = [ln for k, ln in batch["lines"] if ln not in ok]
        for name, lines in (("output_file_id", ok), ("error_file_id", bad)):
            if lines:
                fid = s.new_id("file-out")
                s.files[fid] = "".join(json.dumps(ln) + "\n" for ln in lines).encode()
                batch[name] = fid

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        s = self.state
        path = self.path.split("?", 1)[0]
        s.calls.append(("GET", path))
        if m := re.fullmatch(r"/v1/batches/([\w-]+)", path):
            batch = self._poll(m.group(1))
            return self._send(200, openai_batch(batch)) if batch else self._404()
        if m := re.fullmatch(r"/v1/files/([\w-]+)/content", path):
            data = s.files.get(m.group(1))
            return self._send(200, data, "application/octet-stream") if data else self._404()
        if m := re.fullmatch(r"/v1/messages/batches/([\w-]+)", path):
            batch = self._poll(m.group(1))
            return self._send(200, anthropic_batch(batch, self.base)) if batch else self._404()
        if m := re.fullmatch(r"/v1/messages/batches/([\w-]+)/results", path):
            batch = s.batches.get(m.group(1))
            if not batch or not batch["ended"]:
                return self._404()
            data = "".join(json.dumps(ln) + "\n" for _, ln in batch["lines"]).encode()
            return self._send(200, data, "application/binary")
        return self._404()

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        s = self.state
        path = self.path.split("?", 1)[0]
        s.calls.append(("POST", path))
        raw = self._body()
        if path in ("/v1/chat/completions", "/v1/messages"):  # the online path, for fallbacks
            s.online.append(json.loads(raw))
            protocol = "openai" if path.endswith("completions") else "anthropic"
            return self._send(200, success_body(protocol, json.loads(raw), s.answers, None))
        if path == "/v1/files":
            ctype = self.headers.get("Content-Type", "")
            msg = email.parser.BytesParser(policy=email.policy.default).parsebytes(
                b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)
            parts = {p.get_param("name", header="content-disposition"): p.get_payload(decode=True)
                     for p in msg.iter_parts()}
            if parts.get("purpose") != b"batch" or not parts.get("file"):
                return self._send(400, {"error": {"message": "bad upload", "type": "x"}})
            fid = s.new_id("file-in")
            s.files[fid] = parts["file"]
            return self._send(200, {"id": fid, "object": "file", "bytes": len(parts["file"]),
                                    "created_at": int(time.time()), "filename": "requests.jsonl",
                                    "purpose": "batch", "status": "processed"})
        if path == "/v1/batches":
            body = json.loads(raw)
            data = s.files.get(body.get("input_file_id"))
            if data is None:
                return self._404()
            entries = [json.loads(ln) for ln in data.decode().splitlines() if ln.strip()]
            batch = self._new("openai", entries, endpoint=body["endpoint"],
                              input_file_id=body["input_file_id"],
                              invalid=s.invalid and s.invalid_error)
            return self._send(200, openai_batch(batch))
        if path == "/v1/messages/batches":
            batch = self._new("anthropic", json.loads(raw)["requests"])
            return self._send(200, anthropic_batch(batch, self.base))
        if m := re.fullmatch(r"/v1(/messages)?/batches/([\w-]+)/cancel", path):
            batch = s.batches.get(m.group(2))
            if batch is None:
                return self._404()
            batch["cancelled"] = True
            return self._send(200, anthropic_batch(batch, self.base) if m.group(1)
                              else openai_batch(batch))
        return self._404()

    def _new(self, provider: str, entries: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        s = self.state
        with s._lock:
            bid = s.new_id("batch_" if provider == "openai" else "msgbatch_")
            s.batches[bid] = {"id": bid, "provider": provider, "entries": entries,
                              "polls": 0, "ended": False, "cancelled": False,
                              "created": time.time(), **extra}
            s.created.append(bid)
        return s.batches[bid]

    def _404(self) -> None:
        self._send(404, {"error": {"message": "no such route", "type": "not_found_error"}})


class FakeBatchServer:
    """FakeBatches behind a threaded HTTP server on 127.0.0.1 (port chosen by the OS)."""

    def __init__(self) -> None:
        self.state = FakeBatches()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,),
                                       daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeBatchServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
