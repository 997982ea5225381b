"""Google Gemini through google-genai (`genai.Client(...).aio.models.generate_content`).

A safety block is an answer, not a failure: the study counted blocked prompts as
'No Response', so a blocked prompt gives an empty text and a finish reason naming the
block. Log-probabilities are asked for with `response_logprobs`/`logprobs`; a model that
refuses them (400 'not enabled') raises LogprobsUnavailable, naming the sampling fallback.
"""

from __future__ import annotations

import re
from typing import Any

from backends.base import (
    Completion,
    GenerationParams,
    Message,
    QuotaExhausted,
)
from backends.hosted import HostedBackend
from backends.openai_chat import merge_logprobs
from backends.provider_http import (
    LogprobsUnavailable,
    MalformedResponse,
    aiohttp_transient_errors,
    is_retryable_status,
    parse_duration,
    parse_retry_after,
)

#: Gemini returns at most 20 alternatives per token
MAX_LOGPROBS = 20
_LOGPROBS_REFUSED = re.compile(r"logprob\w*.*\bnot\b.*\b(enabled|supported)\b", re.I | re.S)
#: quotas that only come back tomorrow: retrying them is waiting for hours
_DAILY_QUOTA = re.compile(r"per\s*day", re.I)
#: where the key may come from, first set wins; the stop message on a refused key names it
KEY_ENVS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
#: finish reasons that mean Google's safety system stopped the answer
BLOCKING_FINISH_REASONS = frozenset({"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII",
                                     "RECITATION"})
#: a bad key is a 400 INVALID_ARGUMENT, told apart from other 400s by this wording
_KEY_INVALID = re.compile(r"\bAPI key (not valid|expired|invalid)", re.I)


def contents_and_system(messages: list[Message]) -> tuple[list[dict[str, Any]], str | None]:
    """Gemini's `contents` (roles user/model) and the system instruction, if any."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system") or None
    contents = [
        {"role": "model" if m["role"] == "assistant" else "user", "parts": [{"text": m["content"]}]}
        for m in messages
        if m["role"] != "system"
    ]
    return contents, system


def completion_from_response(response: Any) -> Completion:
    """A GenerateContentResponse -> Completion; a blocked prompt -> empty text."""
    usage = response.usage_metadata
    prompt_tokens = getattr(usage, "prompt_token_count", None)
    thoughts = getattr(usage, "thoughts_token_count", None)
    completion_tokens = getattr(usage, "candidates_token_count", None)
    if thoughts:  # thinking tokens are billed as output
        completion_tokens = (completion_tokens or 0) + thoughts
    extras: dict[str, Any] = {"thoughts_tokens": thoughts} if thoughts else {}
    feedback = response.prompt_feedback
    if not response.candidates:
        reason = getattr(feedback, "block_reason", None)
        if reason is None:
            raise MalformedResponse("Gemini answered with neither a candidate nor a block reason")
        if feedback.block_reason_message:
            extras["block_reason_message"] = feedback.block_reason_message
        return Completion(
            text="",
            finish_reason=f"prompt_blocked:{_enum_name(reason)}",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            model_version=response.model_version,
            extras=extras,
            blocked=feedback.block_reason_message or f"prompt blocked: {_enum_name(reason)}",
        )
    cand = response.candidates[0]
    parts = (cand.content.parts if cand.content else None) or []
    text = "".join(p.text for p in parts if p.text and not p.thought)
    thinking = "".join(p.text for p in parts if p.text and p.thought)
    if cand.finish_message:
        extras["finish_message"] = cand.finish_message
    finish = _enum_name(cand.finish_reason) if cand.finish_reason else None
    blocked = None
    if finish in BLOCKING_FINISH_REASONS:
        blocked = cand.finish_message or f"finish reason {finish}"
    return Completion(
        text=text,
        finish_reason=finish,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        model_version=response.model_version,
        reasoning=thinking or None,
        first_token_logprobs=_first_token_logprobs(cand.logprobs_result),
        extras=extras,
        blocked=blocked,
    )


def _body_problem(exc: ValueError) -> str:
    """What was wrong with a body the SDK could not read: not JSON, or (a pydantic
    ValidationError) JSON whose field named here has the wrong type."""
    errors = getattr(exc, "errors", None)
    problems = errors() if callable(errors) else []
    if not problems:
        return f"Gemini answered with a body that is not JSON: {exc}"
    first = problems[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "the body"
    return (f"malformed response: {where} is {type(first.get('input')).__name__} "
            f"({first.get('msg', 'of the wrong type')})")


def _enum_name(value: Any) -> str:
    return str(getattr(value, "value", value))


def _first_token_logprobs(result: Any) -> dict[str, float] | None:
    if result is None or not result.top_candidates:
        return None
    first = result.top_candidates[0].candidates or []
    return merge_logprobs((c.token or "", c.log_probability) for c in first)


def _retry_info_delay(details: Any) -> float | None:
    """Seconds from a google.rpc.RetryInfo detail ("retryDelay": "30s")."""
    for d in _error_details(details):
        if str(d.get("@type", "")).endswith("RetryInfo"):
            return parse_duration(str(d.get("retryDelay", "")))
    return None


def _error_details(details: Any) -> list[dict[str, Any]]:
    error = details.get("error", details) if isinstance(details, dict) else {}
    items = error.get("details") if isinstance(error, dict) else None
    return [d for d in items or [] if isinstance(d, dict)]


def _key_refused(code: Any, message: str, details: Any) -> bool:
    """401/403 (UNAUTHENTICATED, PERMISSION_DENIED), or the 400 Google sends for a key that is
    not valid or expired (ErrorInfo reason API_KEY_INVALID, API_KEY_EXPIRED ...)."""
    if code in (401, 403):
        return True
    reasons = [str(d.get("reason", "")) for d in _error_details(details)
               if str(d.get("@type", "")).endswith("ErrorInfo")]
    return code == 400 and (any(r.startswith("API_KEY_") for r in reasons)
                            or bool(_KEY_INVALID.search(message)))


def _error_reason(details: Any) -> str | None:
    """The ErrorInfo reason of an error body, when Google sends one (e.g. API_KEY_INVALID)."""
    for d in _error_details(details):
        if str(d.get("@type", "")).endswith("ErrorInfo") and d.get("reason"):
            return str(d["reason"])
    return None


def _daily_quota(details: Any) -> bool:
    for d in _error_details(details):
        for v in d.get("violations") or []:
            if isinstance(v, dict) and _DAILY_QUOTA.search(str(v.get("quotaId", ""))):
                return True
    return False


class GeminiBackend(HostedBackend):
    """One Gemini model behind the Gemini Developer API."""

    provider = "gemini"
    provider_label = "Gemini"
    key_envs = KEY_ENVS
    # the SDK itself reads GOOGLE_GEMINI_BASE_URL when no base_url is given
    base_url_env = "GOOGLE_GEMINI_BASE_URL"
    max_top_logprobs = MAX_LOGPROBS

    def _new_client(self) -> Any:
        import httpx2
        from google import genai
        from google.genai import types

        # google-genai sends through aiohttp whenever it is installed; a transport of its
        # own makes it keep to httpx
        async_client_args = (None if self._transport == "aiohttp"
                             else {"transport": httpx2.AsyncHTTPTransport()})
        http_options = types.HttpOptions(
            base_url=self.base_url,
            timeout=int(self.timeout_s * 1000),  # milliseconds
            # one attempt: the shared retry loop in harness.runner rules
            retry_options=types.HttpRetryOptions(attempts=1),
            async_client_args=async_client_args,
        )
        return genai.Client(api_key=self._api_key, vertexai=False, http_options=http_options)

    def generation_config(self, system: str | None, params: GenerationParams) -> Any:
        from google.genai import types

        config: dict[str, Any] = {
            "temperature": params.temperature,
            "max_output_tokens": params.max_tokens,
            "candidate_count": 1,
        }
        if system:
            config["system_instruction"] = system
        config.update(params.optional_fields())
        if params.top_logprobs > 0:
            config["response_logprobs"] = True
            config["logprobs"] = min(params.top_logprobs, MAX_LOGPROBS)
        return types.GenerateContentConfig(**config)

    async def complete(self, messages: list[Message], params: GenerationParams) -> Completion:
        from google.genai import errors

        contents, system = contents_and_system(messages)
        config = self.generation_config(system, params)  # outside the try: a bad value is ours
        client = self._clients.get()
        try:
            response = await client.aio.models.generate_content(
                model=self.model_id, contents=contents, config=config
            )
        except errors.ClientError as exc:
            raise self._classify(exc, params) from exc
        except ValueError as exc:  # the SDK's json.loads of a broken body, or its model of it
            raise MalformedResponse(_body_problem(exc)) from exc
        return completion_from_response(response)

    def _classify(self, exc: Any, params: GenerationParams) -> BaseException:
        message = exc.message or str(exc)
        if _key_refused(exc.code, message, exc.details):
            return self._key_rejected(message, exc.code)
        if exc.code == 400 and params.top_logprobs > 0 and _LOGPROBS_REFUSED.search(message):
            return LogprobsUnavailable(self.model_id, message)
        if exc.code == 429 and _daily_quota(exc.details):
            return QuotaExhausted(message)
        code = exc.code if isinstance(exc.code, int) else 0
        # Gemini has no refusal status: its blocks are 200s (promptFeedback, finishReason)
        kind = _error_reason(exc.details) or str(exc.status or f"http_{code}")
        return self._rejected(message, code, kind) or exc

    def is_retryable(self, exc: BaseException) -> bool:
        import httpx2
        from google.genai import errors

        if isinstance(exc, errors.APIError):
            # Google calls per-minute limits "quota" too: a 429 is a rate limit unless daily
            return isinstance(exc.code, int) and is_retryable_status(exc.code)
        return isinstance(
            exc, (httpx2.TransportError, MalformedResponse, TimeoutError, ConnectionError,
                  *aiohttp_transient_errors())
        )

    def retry_after(self, exc: BaseException) -> float | None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
        asked = parse_retry_after(headers) if headers is not None else None
        if asked is None:
            asked = _retry_info_delay(getattr(exc, "details", None))
        return asked

    async def _close_client(self, client: Any) -> None:
        await client.aio.aclose()
