"""Which limit binds a --batch-api run: the provider's batch queue, not its rate limits.

Requests sent through a batch API do not count against the per-minute limits. What bounds
them is how much an account may hold in the batch queue at once: OpenAI counts the input
tokens enqueued per model (and fails a batch past it with token_limit_exceeded), Anthropic
the requests in processing. The providers state neither in headers, so the figures here are
a tier-1 account's, from their rate-limit pages (higher tiers hold far more).
"""

from __future__ import annotations

#: a tier-1 account's OpenAI batch queue, input tokens enqueued per model (longest prefix wins)
OPENAI_TIER1_QUEUE_TOKENS = {
    "gpt-4o-mini": 2_000_000,
    "gpt-4o": 90_000,
    "gpt-4-turbo": 90_000,
    "gpt-4": 100_000,
    "gpt-3.5-turbo": 2_000_000,
}
#: a tier-1 account's Anthropic Message Batches queue, requests in processing
ANTHROPIC_TIER1_QUEUE_REQUESTS = 100_000
#: what OpenAI's failed batch says when the queue was full
QUEUE_FULL_MARKERS = ("token_limit_exceeded", "enqueued token limit")


def openai_queue_tokens(model_id: str) -> int | None:
    """The tier-1 queue for `model_id` (None: a model we have no figure for)."""
    known = [k for k in OPENAI_TIER1_QUEUE_TOKENS if model_id.startswith(k)]
    return OPENAI_TIER1_QUEUE_TOKENS[max(known, key=len)] if known else None


def queue_note(provider: str, model_id: str, requests: int, input_tokens: int) -> str | None:
    """One line on what binds this batch run: the queue, or (when the run fits) neither."""
    if requests <= 0:
        return None
    if provider == "openai":
        queue, unit, need = openai_queue_tokens(model_id), "input tokens", input_tokens
    elif provider == "anthropic":
        queue, unit, need = ANTHROPIC_TIER1_QUEUE_REQUESTS, "requests", requests
    else:
        return None
    head = (f"batch API: the per-minute rate limits do not apply here; {requests:,} requests, "
            f"~{input_tokens:,} input tokens")
    if queue is None:
        return f"{head}; what binds is the account's batch queue for {model_id}"
    if need <= queue:
        return (f"{head}: within the {queue:,} {unit} a tier-1 account may hold in the batch "
                "queue, so neither limit binds")
    per_part = max(1, int(queue / (need / requests)))
    refused = " (token_limit_exceeded)" if provider == "openai" else ""
    return (f"{head}: the batch queue, not the rate limit, binds: a tier-1 account may hold "
            f"{queue:,} {unit} for {model_id} in it, and a batch past that is refused{refused}; "
            f"on such an account send about {per_part:,} requests at a time (--limit, raised "
            "on each rerun once the last batch is done) or run online; higher tiers hold more")


def queue_was_full(message: str) -> bool:
    """True when a failed batch says the account's batch queue was full."""
    text = message.lower()
    return any(marker in text for marker in QUEUE_FULL_MARKERS)
