"""OpenAI chat completions, and any OpenAI-compatible server (vLLM, TGI, Ollama, llama.cpp).

`request_body` and `completion_from_body` are the whole protocol mapping; the online path
and the batch-API code share them, so a row looks the same whichever way it was made.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from typing import Any

from backends.base import (
    Completion,
    GenerationParams,
    Message,
    ProviderRefusal,
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
    parse_duration,
)
from core.errors import UserError

#: the chat API returns at most 20 alternatives per token
MAX_TOP_LOGPROBS = 20
#: sent to OpenAI-compatible servers that take no key (vLLM's convention)
NO_KEY = "EMPTY"
#: OpenAI's own key; sent only by the OpenAI backends, never to an OpenAI-compatible server
OPENAI_KEY_ENV = "OPENAI_API_KEY"
#: the key for an OpenAI-compatible server (a third party's or your own), when it wants one
COMPATIBLE_KEY_ENV = "OPENAI_COMPATIBLE_API_KEY"


def request_body(
    model_id: str,
    messages: list[Message],
    params: GenerationParams,
    *,
    max_tokens_field: str = "max_tokens",
) -> dict[str, Any]:
    """The JSON body of one /v1/chat/completions request.

    `max_tokens_field="max_completion_tokens"` is for OpenAI's reasoning models, which
    reject `max_tokens`; compatible servers know only `max_tokens`.
    """
    body: dict[str, Any] = {
        "model": model_id,
        "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
        "temperature": params.temperature,
        max_tokens_field: params.max_tokens,
    }
    body.update(params.optional_fields())
    if params.top_logprobs > 0:
        body["logprobs"] = True
        body["top_logprobs"] = min(params.top_logprobs, MAX_TOP_LOGPROBS)
    return body


def first_choice(body: dict[str, Any], what: str) -> dict[str, Any]:
    """The first of an answer's choices (chat and legacy completions alike)."""
    choices = body.get("choices") if isinstance(body, dict) else None
    if not choices or not isinstance(choices[0], dict):
        raise MalformedResponse(f"{what} without choices: {str(body)[:200]}")
    return choices[0]


def completion_from_body(body: dict[str, Any]) -> Completion:
    """A chat.completion JSON body -> Completion (first choice); a field of the wrong type is
    MalformedResponse naming it."""
    choice = first_choice(body, "chat completion")
    message = answer_object(choice.get("message"), "choices[0].message")
    usage = answer_object(body.get("usage"), "usage")
    extras: dict[str, Any] = {}
    refusal = answer_text(message.get("refusal"), "choices[0].message.refusal")
    if refusal:
        extras["refusal"] = refusal
    finish_reason = answer_text(choice.get("finish_reason"), "choices[0].finish_reason")
    if body.get("system_fingerprint"):
        extras["system_fingerprint"] = body["system_fingerprint"]
    # vLLM and DeepSeek-style servers return a reasoning model's thinking separately
    reasoning = (answer_text(message.get("reasoning_content"),
                             "choices[0].message.reasoning_content")
                 or answer_text(message.get("reasoning"), "choices[0].message.reasoning")
                 or None)
    return Completion(
        text=answer_text(message.get("content"), "choices[0].message.content") or "",
        finish_reason=finish_reason,
        prompt_tokens=answer_count(usage.get("prompt_tokens"), "usage.prompt_tokens"),
        completion_tokens=answer_count(usage.get("completion_tokens"),
                                       "usage.completion_tokens"),
        model_version=answer_text(body.get("model"), "model"),
        reasoning=reasoning,
        first_token_logprobs=_first_token_logprobs(choice.get("logprobs")),
        extras=extras,
        blocked=refusal or (
            "finish_reason content_filter" if finish_reason == "content_filter" else None),
    )


#: error codes of a 400 that name a content policy: the provider's safety system refused
CONTENT_POLICY_CODES = frozenset({"content_policy_violation", "content_filter"})


def rejection_kind(status: int, error: dict[str, Any]) -> str:
    """What a 4xx error body names as its cause: its code (context_length_exceeded,
    unsupported_parameter, model_not_found), else its type, else the status."""
    return str(error.get("code") or error.get("type") or f"http_{status}")


def _first_token_logprobs(logprobs: Any) -> dict[str, float] | None:
    if not isinstance(logprobs, dict) or not logprobs.get("content"):
        return None
    top = logprobs["content"][0].get("top_logprobs") or []
    return merge_logprobs((t.get("token", ""), t.get("logprob")) for t in top)


def merge_logprobs(pairs: Any) -> dict[str, float] | None:
    """{token text: logprob}; two token ids decoding to one text share it (log-sum-exp)."""
    out: dict[str, float] = {}
    for token, lp in pairs:
        if lp is None:
            continue
        lp = float(lp)
        out[token] = lp if token not in out else _logaddexp(out[token], lp)
    return out or None


def _logaddexp(a: float, b: float) -> float:
    hi, lo = max(a, b), min(a, b)
    return hi + math.log1p(math.exp(lo - hi))


def openai_rate_limit_state(headers: Any) -> RateLimitState | None:
    """x-ratelimit-{limit,remaining}-{requests,tokens} and x-ratelimit-reset-* ("6m0s")."""
    if headers is None:
        return None
    state = RateLimitState(
        remaining_requests=header_int(headers, "x-ratelimit-remaining-requests"),
        remaining_tokens=header_int(headers, "x-ratelimit-remaining-tokens"),
        reset_requests_s=parse_duration(headers.get("x-ratelimit-reset-requests")),
        reset_tokens_s=parse_duration(headers.get("x-ratelimit-reset-tokens")),
        limit_requests=header_int(headers, "x-ratelimit-limit-requests"),
        limit_tokens=header_int(headers, "x-ratelimit-limit-tokens"),
    )
    return None if state == RateLimitState() else state


class OpenAIBackendBase(HostedBackend):
    """What the chat and legacy-completions adapters share: client, keys, error mapping."""

    provider = "openai"
    provider_label = "OpenAI"
    key_envs = (OPENAI_KEY_ENV,)
    base_url_env = "OPENAI_BASE_URL"
    sdk_module, sdk_client = "openai", "AsyncOpenAI"
    max_top_logprobs = MAX_TOP_LOGPROBS

    def __init__(
        self,
        model_id: str,
        *,
        base_url: str | None = None,
        timeout_s: float = 120.0,
        api_key_optional: bool = False,
        **options: Any,
    ) -> None:
        # an OpenAI-compatible server: the URL is the point, the key often unused
        self._compatible = api_key_optional or self.key_optional
        super().__init__(model_id, base_url=base_url, timeout_s=timeout_s, **options)
        if self._compatible:
            if not self.provider.endswith("-compatible"):  # rows and cache keys say so
                self.provider = "openai-compatible" if self.provider == "openai" else (
                    f"{self.provider}-compatible")
            if not self.base_url:
                raise UserError(
                    f"backend for {model_id!r} is an OpenAI-compatible server: give --base-url "
                    "URL (e.g. http://localhost:8000/v1)"
                )

    def _read_key(self) -> tuple[str, str]:
        if self._compatible:
            # the user's OpenAI key must not travel to whatever server the URL names
            return os.environ.get(COMPATIBLE_KEY_ENV, "").strip() or NO_KEY, COMPATIBLE_KEY_ENV
        return super()._read_key()

    @classmethod
    def check_credentials(cls, *, api_key_optional: bool = False, **options: Any) -> None:
        if not api_key_optional:  # a compatible server's key is optional
            super().check_credentials(**options)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST `body` as is through the SDK client (its auth, timeout and error types).

        `client.post` sends exactly `request_body`'s JSON (what the batch files hold too) and
        skips the typed `create` wrapper's per-call transform, about a third of the SDK's CPU
        time per request: on a small machine that CPU bounds throughput at high concurrency.
        """
        import httpx2
        import openai

        client = self._clients.get()
        try:
            response = await client.post(path, cast_to=httpx2.Response, body=body)
        except openai.APIStatusError as exc:
            self._observe(exc.response.headers)
            raise self._classify(exc) from exc
        self._observe(response.headers)
        if not response.is_stream_consumed:
            await response.aread()
        try:
            data = response.json()
        except ValueError as exc:
            raise MalformedResponse(
                f"HTTP {response.status_code} with a body that is not JSON: "
                f"{response.text[:200]!r}"
            ) from exc
        if not isinstance(data, dict):
            raise MalformedResponse(f"HTTP {response.status_code} with a non-object JSON body")
        return data

    def _observe(self, headers: Any) -> None:
        # the latest answer speaks for the account: no headers there means no known limit
        state = openai_rate_limit_state(headers)
        if state is not None and self.provider.endswith("-compatible"):
            # a compatible server's limit headers need not mean a minute (Groq's request
            # limit counts a day): its remaining budget is read, its limits are not adopted
            state = replace(state, limit_requests=None, limit_tokens=None)
        self._limits = state

    def _classify(self, exc: Any) -> BaseException:
        """Quota -> QuotaExhausted; 401/403 (invalid_api_key, a revoked or restricted key) ->
        KeyRejected; a 400 naming a content policy -> ProviderRefusal; any other 4xx but
        408/409/429 -> RequestRejected; the rest stays the SDK's (retried if transient)."""
        status = exc.status_code
        error = exc.body if isinstance(exc.body, dict) else {}
        message = error.get("message") or exc.message
        if status in (401, 403):
            return self._key_rejected(message, status)
        if status == 429 and (error.get("code") == "insufficient_quota"
                              or error.get("type") == "insufficient_quota"):
            return QuotaExhausted(message)
        code = str(error.get("code") or "")
        if status == 400 and code in CONTENT_POLICY_CODES:
            return ProviderRefusal(message, finish_reason=code)
        return self._rejected(message, status, rejection_kind(status, error)) or exc


class OpenAIChatBackend(OpenAIBackendBase):
    """gpt-4o and friends, or an OpenAI-compatible server given by base_url."""

    batch_adapter = "backends.openai_batch:OpenAIBatch"

    async def complete(self, messages: list[Message], params: GenerationParams) -> Completion:
        body = request_body(
            self.model_id, messages, params,
            max_tokens_field=self.options.get("max_tokens_field", "max_tokens"),
        )
        data = await self._post("/chat/completions", body)
        return completion_from_body(data)


class OpenAICompatibleBackend(OpenAIChatBackend):
    """A server that speaks OpenAI's chat API (vLLM, TGI, Ollama, llama.cpp, a third party):
    --base-url is required, its key optional and never OpenAI's, no batch API."""

    provider = "openai-compatible"
    key_envs = (COMPATIBLE_KEY_ENV,)
    key_optional = True
    batch_adapter = None
