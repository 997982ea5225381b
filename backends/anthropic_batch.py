"""Anthropic's Message Batches API: up to 100,000 requests (256 MB) per batch.

The entries' params are `anthropic_messages.request_body`, the answers go through
`anthropic_messages.completion_from_body`: the same mapping as the online path.
"""

from __future__ import annotations

from typing import Any

from backends.anthropic_messages import AnthropicBackend, completion_from_body, request_body
from backends.base import GenerationParams, Message
from backends.batch_base import BatchAdapter, BatchInfo, BatchQueue, ItemResult
from backends.provider_http import MalformedResponse

#: errors that reject the request itself: error rows at once, as the online path writes them
REJECTED = {"invalid_request_error", "not_found_error", "request_too_large"}


#: a tier-1 account's Anthropic Message Batches queue, requests in processing
TIER1_QUEUE_REQUESTS = 100_000


class AnthropicBatch(BatchAdapter[AnthropicBackend]):
    provider = "anthropic"
    max_requests = 100_000
    max_bytes = 256 * 1000 * 1000

    @classmethod
    def queue(cls, model_id: str) -> BatchQueue:
        """Anthropic counts the requests in processing, whatever the model."""
        return BatchQueue(TIER1_QUEUE_REQUESTS, "requests")


    def entry(self, cid: str, messages: list[Message], params: GenerationParams) -> dict[str, Any]:
        return {"custom_id": cid,
                "params": request_body(self.backend.model_id, messages, params)}

    async def submit(self, entries: list[dict[str, Any]]) -> str:
        batch = await self.backend._clients.get().messages.batches.create(requests=entries)
        return batch.id

    def _info(self, batch: Any) -> BatchInfo:
        c = batch.request_counts
        counts = {} if c is None else {
            "processing": c.processing, "succeeded": c.succeeded, "errored": c.errored,
            "canceled": c.canceled, "expired": c.expired}
        return BatchInfo(id=batch.id, status=batch.processing_status,
                         ended=batch.processing_status == "ended", counts=counts,
                         extra={"results_url": batch.results_url})

    async def retrieve(self, batch_id: str) -> BatchInfo:
        return self._info(await self.backend._clients.get().messages.batches.retrieve(batch_id))

    async def cancel(self, batch_id: str) -> BatchInfo:
        return self._info(await self.backend._clients.get().messages.batches.cancel(batch_id))

    async def results(self, info: BatchInfo) -> list[ItemResult]:
        stream = await self.backend._clients.get().messages.batches.results(info.id)
        return [item_result(item.model_dump(mode="json")) async for item in stream]


def item_result(line: dict[str, Any]) -> ItemResult:
    """One line of a batch's results -> ItemResult."""
    cid = str(line.get("custom_id"))
    result = line.get("result") or {}
    kind = result.get("type")
    if kind == "succeeded":
        try:
            return ItemResult(cid, completion=completion_from_body(result.get("message") or {}))
        except MalformedResponse as exc:
            return ItemResult(cid, failure="malformed", message=str(exc))
    if kind == "errored":
        err = (result.get("error") or {}).get("error") or {}
        etype = str(err.get("type") or "error")
        message = str(err.get("message") or etype)
        if etype in REJECTED:
            return ItemResult(cid, rejected=(etype, message))
        return ItemResult(cid, failure=etype, message=message)
    return ItemResult(cid, failure=str(kind or "missing"), message=f"request {kind}")
