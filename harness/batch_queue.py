"""Which limit binds a --batch-api run: the provider's batch queue, not its rate limits.

Requests sent through a batch API do not count against the per-minute limits. What bounds
them is how much an account may hold in the batch queue at once: OpenAI counts the input
tokens enqueued per model (and fails a batch past it with token_limit_exceeded), Anthropic
the requests in processing. Each batch adapter gives its provider's figures
(`BatchAdapter.queue`: a tier-1 account's, as the providers state neither in headers).
"""

from __future__ import annotations

from backends.batch_base import BatchQueue


def queue_note(batch_queue: BatchQueue | None, model_id: str, requests: int,
               input_tokens: int) -> str | None:
    """One line on what binds this batch run: the queue (the adapter's `BatchAdapter.queue`),
    or (when the run fits) neither."""
    if requests <= 0 or batch_queue is None:
        return None
    queue, unit = batch_queue.size, batch_queue.unit
    need = input_tokens if unit == "input tokens" else requests
    head = (f"batch API: the per-minute rate limits do not apply here; {requests:,} requests, "
            f"~{input_tokens:,} input tokens")
    if queue is None:
        return f"{head}; what binds is the account's batch queue for {model_id}"
    if need <= queue:
        return (f"{head}: within the {queue:,} {unit} a tier-1 account may hold in the batch "
                "queue, so neither limit binds")
    per_part = max(1, int(queue / (need / requests)))
    refused = f" ({batch_queue.full_code})" if batch_queue.full_code else ""
    return (f"{head}: the batch queue, not the rate limit, binds: a tier-1 account may hold "
            f"{queue:,} {unit} for {model_id} in it, and a batch past that is refused{refused}; "
            f"on such an account send about {per_part:,} requests at a time (--limit, raised "
            "on each rerun once the last batch is done) or run online; higher tiers hold more")


def queue_was_full(message: str, batch_queue: BatchQueue | None) -> bool:
    """True when a failed batch says the account's batch queue was full (in the words the
    adapter's `BatchQueue.full_markers` name)."""
    text = message.lower()
    return batch_queue is not None and any(m in text for m in batch_queue.full_markers)
