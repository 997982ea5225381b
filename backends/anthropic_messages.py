"""Anthropic messages (claude-3.5-sonnet and successors).

`request_body` and `completion_from_body` are the whole protocol mapping, shared with the
Message Batches code. System messages go to the top-level `system` field. The SDK (1.0 on)
no longer takes sampling parameters as arguments, so they travel in `extra_body`, which
the SDK merges into the same JSON.
"""

from __future__ import annotations

from typing import Any

from backends.base import (
    Completion,
    GenerationParams,
    Message,
    QuotaExhausted,
    RateLimitState,
)
from backends.hosted import HostedBackend
from backends.provider_http import (
    MalformedResponse,
    answer_count,
    answer_object,
    answer_text,
    header_int,
    seconds_until,
)

#: where the key comes from; the stop message on a refused key names it
KEY_ENV = "ANTHROPIC_API_KEY"

#: keys the SDK's messages.create takes as arguments; the rest go in extra_body
_SDK_ARGS = ("model", "max_tokens", "messages", "system")


def request_body(
    model_id: str, messages: list[Message], params: GenerationParams
) -> dict[str, Any]:
    """The JSON body of one /v1/messages request (Anthropic has no seed or log-probabilities)."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    body: dict[str, Any] = {
        "model": model_id,
        "max_tokens": params.max_tokens,
        "messages": [
            {"role": m["role"], "content": m["content"]} for m in messages if m["role"] != "system"
        ],
        "temperature": params.temperature,
    }
    if system:
        body["system"] = system
    body.update(params.optional_fields(seed=False))
    return body


def completion_from_body(body: dict[str, Any]) -> Completion:
    """A message JSON body -> Completion; thinking blocks go to `reasoning`; a field of the
    wrong type is MalformedResponse naming it."""
    content = body.get("content") if isinstance(body, dict) else None
    if not isinstance(content, list):
        raise MalformedResponse(f"message without content: {str(body)[:200]}")
    blocks = [answer_object(b, f"content[{i}]") for i, b in enumerate(content)]
    text = "".join(answer_text(b.get("text"), f"content[{i}].text") or ""
                   for i, b in enumerate(blocks) if b.get("type") == "text")
    thinking = "".join(answer_text(b.get("thinking"), f"content[{i}].thinking") or ""
                       for i, b in enumerate(blocks) if b.get("type") == "thinking")
    usage = answer_object(body.get("usage"), "usage")
    stop_sequence = answer_text(body.get("stop_sequence"), "stop_sequence")
    extras = {"stop_sequence": stop_sequence} if stop_sequence else {}
    stop_reason = answer_text(body.get("stop_reason"), "stop_reason")
    return Completion(
        text=text,
        finish_reason=stop_reason,
        prompt_tokens=answer_count(usage.get("input_tokens"), "usage.input_tokens"),
        completion_tokens=answer_count(usage.get("output_tokens"), "usage.output_tokens"),
        model_version=answer_text(body.get("model"), "model"),
        reasoning=thinking or None,
        extras=extras,
        # the streaming classifiers' refusal: the only refusal Anthropic's API announces
        blocked="stop_reason refusal" if stop_reason == "refusal" else None,
    )


def anthropic_rate_limit_state(headers: Any) -> RateLimitState | None:
    """anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset} (reset: an RFC 3339
    time), with input and output tokens limited apart."""
    if headers is None:
        return None
    tokens = header_int(headers, "anthropic-ratelimit-tokens-remaining")
    tokens_reset = headers.get("anthropic-ratelimit-tokens-reset")
    if tokens is None:  # input and output tokens are limited apart: the tighter one
        pairs = [
            (header_int(headers, f"anthropic-ratelimit-{k}-tokens-remaining"),
             headers.get(f"anthropic-ratelimit-{k}-tokens-reset"))
            for k in ("input", "output")
        ]
        pairs = [p for p in pairs if p[0] is not None]
        if pairs:
            tokens, tokens_reset = min(pairs, key=lambda p: p[0])
    state = RateLimitState(
        remaining_requests=header_int(headers, "anthropic-ratelimit-requests-remaining"),
        remaining_tokens=tokens,
        reset_requests_s=seconds_until(headers.get("anthropic-ratelimit-requests-reset")),
        reset_tokens_s=seconds_until(tokens_reset),
        limit_requests=header_int(headers, "anthropic-ratelimit-requests-limit"),
        limit_tokens=header_int(headers, "anthropic-ratelimit-tokens-limit"),
        limit_input_tokens=header_int(headers, "anthropic-ratelimit-input-tokens-limit"),
        limit_output_tokens=header_int(headers, "anthropic-ratelimit-output-tokens-limit"),
    )
    return None if state == RateLimitState() else state


class AnthropicBackend(HostedBackend):
    """One model behind Anthropic's messages API (no seed, no log-probabilities)."""

    provider = "anthropic"
    provider_label = "Anthropic"
    key_envs = (KEY_ENV,)
    base_url_env = "ANTHROPIC_BASE_URL"
    sdk_module, sdk_client = "anthropic", "AsyncAnthropic"
    batch_adapter = "backends.anthropic_batch:AnthropicBatch"
    takes_seed = False

    async def complete(self, messages: list[Message], params: GenerationParams) -> Completion:
        import anthropic

        body = request_body(self.model_id, messages, params)
        args = {k: body[k] for k in _SDK_ARGS if k in body}
        extra = {k: v for k, v in body.items() if k not in _SDK_ARGS}
        client = self._clients.get()
        try:
            raw = await client.messages.with_raw_response.create(**args, extra_body=extra)
        except anthropic.APIStatusError as exc:
            self._observe(exc.response.headers)
            raise self._classify(exc) from exc
        self._observe(raw.headers)
        http = raw.http_response
        try:
            data = http.json()
        except ValueError as exc:
            raise MalformedResponse(
                f"HTTP {http.status_code} with a body that is not JSON: {http.text[:200]!r}"
            ) from exc
        return completion_from_body(data)

    def _observe(self, headers: Any) -> None:
        # the latest answer speaks for the account: no headers there means no known limit
        self._limits = anthropic_rate_limit_state(headers)

    def _classify(self, exc: Any) -> BaseException:
        """No credit -> QuotaExhausted; 401 authentication_error / 403 permission_error ->
        KeyRejected; any other 4xx but 408/409/429 -> RequestRejected (Anthropic's API has
        no refusal status: its refusals are 200s with stop_reason refusal); the rest as is."""
        status = exc.status_code
        message = getattr(exc, "api_message", None) or exc.message
        kind = getattr(exc, "type", None)
        if status in (401, 403) or kind in ("authentication_error", "permission_error"):
            return self._key_rejected(message, status)
        if status == 402 or kind == "billing_error" or "credit balance" in message.lower():
            return QuotaExhausted(message)
        return self._rejected(message, status, str(kind or f"http_{status}")) or exc
