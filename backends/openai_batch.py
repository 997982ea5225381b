"""OpenAI's Batch API for chat completions: a JSONL file of requests, one batch per file.

The entries' bodies are `openai_chat.request_body`, the answers go through
`openai_chat.completion_from_body`: the same mapping as the online path.
"""

from __future__ import annotations

import json
from typing import Any

from backends.base import GenerationParams, Message
from backends.batch_base import BatchAdapter, BatchInfo, BatchQueue, ItemResult
from backends.openai_chat import (
    CONTENT_POLICY_CODES,
    OpenAIChatBackend,
    completion_from_body,
    rejection_kind,
    request_body,
)
from backends.provider_http import MalformedResponse, is_retryable_status

ENDPOINT = "/v1/chat/completions"
#: a batch's status once it will change no more
ENDED = {"completed", "failed", "expired", "cancelled"}
#: per-request error codes in the error file -> our failure kinds
FAILURE_KINDS = {"batch_expired": "expired", "batch_cancelled": "canceled"}


#: a tier-1 account's OpenAI batch queue, input tokens enqueued per model (longest prefix wins)
TIER1_QUEUE_TOKENS = {
    "gpt-4o-mini": 2_000_000,
    "gpt-4o": 90_000,
    "gpt-4-turbo": 90_000,
    "gpt-4": 100_000,
    "gpt-3.5-turbo": 2_000_000,
}


class OpenAIBatch(BatchAdapter[OpenAIChatBackend]):
    provider = "openai"
    max_requests = 50_000
    max_bytes = 200 * 1024 * 1024

    @classmethod
    def queue(cls, model_id: str) -> BatchQueue:
        """OpenAI counts the input tokens enqueued per model and fails a batch past them."""
        known = [k for k in TIER1_QUEUE_TOKENS if model_id.startswith(k)]
        size = TIER1_QUEUE_TOKENS[max(known, key=len)] if known else None
        return BatchQueue(size, "input tokens", full_code="token_limit_exceeded",
                          full_markers=("token_limit_exceeded", "enqueued token limit"))


    def entry(self, cid: str, messages: list[Message], params: GenerationParams) -> dict[str, Any]:
        body = request_body(self.backend.model_id, messages, params,
                            max_tokens_field=self.backend.options.get("max_tokens_field",
                                                                   "max_tokens"))
        return {"custom_id": cid, "method": "POST", "url": ENDPOINT, "body": body}

    async def submit(self, entries: list[dict[str, Any]]) -> str:
        client = self.backend._clients.get()
        data = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries).encode("utf-8")
        upload = await client.files.create(file=("requests.jsonl", data, "application/jsonl"),
                                           purpose="batch")
        batch = await client.batches.create(input_file_id=upload.id, endpoint=ENDPOINT,
                                            completion_window="24h")
        return batch.id

    def _info(self, batch: Any) -> BatchInfo:
        counts = batch.request_counts
        return BatchInfo(
            id=batch.id, status=batch.status, ended=batch.status in ENDED,
            counts={} if counts is None else {"total": counts.total,
                                              "completed": counts.completed,
                                              "failed": counts.failed},
            extra={"output_file_id": batch.output_file_id,
                   "error_file_id": batch.error_file_id},
            message=_errors(batch),
        )

    async def retrieve(self, batch_id: str) -> BatchInfo:
        return self._info(await self.backend._clients.get().batches.retrieve(batch_id))

    async def cancel(self, batch_id: str) -> BatchInfo:
        return self._info(await self.backend._clients.get().batches.cancel(batch_id))

    async def results(self, info: BatchInfo) -> list[ItemResult]:
        client = self.backend._clients.get()
        out: list[ItemResult] = []
        for name in ("output_file_id", "error_file_id"):
            file_id = info.extra.get(name)
            if not file_id:
                continue
            content = await client.files.content(file_id)
            for line in content.content.decode("utf-8").splitlines():
                if line.strip():
                    out.append(item_result(json.loads(line)))
        return out


def _errors(batch: Any) -> str:
    """Why a batch failed as a whole (e.g. its input file did not validate)."""
    data = getattr(getattr(batch, "errors", None), "data", None) or []
    return "; ".join(f"{e.code}: {e.message}" for e in data[:3])


def item_result(line: dict[str, Any]) -> ItemResult:
    """One line of an output or error file -> ItemResult."""
    cid = str(line.get("custom_id"))
    error = line.get("error")
    response = line.get("response") or {}
    if error:
        code = str(error.get("code") or "failed")
        return ItemResult(cid, failure=FAILURE_KINDS.get(code, code),
                          message=str(error.get("message") or code))
    status = response.get("status_code")
    body = response.get("body") or {}
    if status == 200:
        try:
            return ItemResult(cid, completion=completion_from_body(body))
        except MalformedResponse as exc:
            return ItemResult(cid, failure="malformed", message=str(exc))
    err = body.get("error") if isinstance(body, dict) else None
    err = err if isinstance(err, dict) else {}
    message = str(err.get("message") or f"HTTP {status}")
    # as the online path: a content-policy 400 is a refusal row, any other 4xx an error row
    code = str(err.get("code") or "")
    if status == 400 and code in CONTENT_POLICY_CODES:
        return ItemResult(cid, refusal=(message, code))
    if isinstance(status, int) and 400 <= status < 500 and not is_retryable_status(status):
        return ItemResult(cid, rejected=(rejection_kind(status, err), f"HTTP {status}: {message}"))
    return ItemResult(cid, failure=f"http_{status}", message=message)
