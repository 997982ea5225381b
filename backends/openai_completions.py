"""OpenAI's legacy /v1/completions endpoint, for base models (davinci-002, babbage-002).

A base model continues text: the messages' contents, joined by blank lines, are the prompt.
With `top_logprobs` the endpoint's `logprobs` parameter fills `first_token_logprobs`,
which the distribution experiments read.
"""

from __future__ import annotations

from typing import Any

from backends.base import Completion, GenerationParams, Message
from backends.openai_chat import OpenAIBackendBase, first_choice, merge_logprobs
from backends.provider_http import answer_count, answer_object, answer_text

#: the legacy endpoint returns at most 5 alternatives per token (compatible servers: more)
MAX_LOGPROBS = 5


def prompt_text(messages: list[Message]) -> str:
    """The text a base model continues: every message's content, in order."""
    return "\n\n".join(m["content"] for m in messages if m.get("content"))


def request_body(
    model_id: str,
    messages: list[Message],
    params: GenerationParams,
    *,
    max_logprobs: int = MAX_LOGPROBS,
) -> dict[str, Any]:
    """The JSON body of one /v1/completions request."""
    body: dict[str, Any] = {
        "model": model_id,
        "prompt": prompt_text(messages),
        "temperature": params.temperature,
        "max_tokens": params.max_tokens,
    }
    body.update(params.optional_fields())
    if params.top_logprobs > 0:
        body["logprobs"] = min(params.top_logprobs, max_logprobs)
    return body


def completion_from_body(body: dict[str, Any]) -> Completion:
    """A text_completion JSON body -> Completion (first choice)."""
    choice = first_choice(body, "completion")
    usage = answer_object(body.get("usage"), "usage")
    first: dict[str, float] | None = None
    logprobs = choice.get("logprobs")
    if isinstance(logprobs, dict) and logprobs.get("top_logprobs"):
        top = logprobs["top_logprobs"][0] or {}
        first = merge_logprobs(top.items())
    extras = {"system_fingerprint": body["system_fingerprint"]} if body.get(
        "system_fingerprint") else {}
    return Completion(
        text=answer_text(choice.get("text"), "choices[0].text") or "",
        finish_reason=answer_text(choice.get("finish_reason"), "choices[0].finish_reason"),
        prompt_tokens=answer_count(usage.get("prompt_tokens"), "usage.prompt_tokens"),
        completion_tokens=answer_count(usage.get("completion_tokens"),
                                       "usage.completion_tokens"),
        model_version=answer_text(body.get("model"), "model"),
        first_token_logprobs=first,
        extras=extras,
        blocked=("finish_reason content_filter"
                 if choice.get("finish_reason") == "content_filter" else None),
    )


class OpenAICompletionsBackend(OpenAIBackendBase):
    """A base model behind /v1/completions (OpenAI's, or a compatible server's)."""

    provider = "openai-completions"
    max_top_logprobs = MAX_LOGPROBS

    async def complete(self, messages: list[Message], params: GenerationParams) -> Completion:
        body = request_body(
            self.model_id, messages, params,
            max_logprobs=int(self.options.get("max_logprobs", MAX_LOGPROBS)),
        )
        data = await self._post("/completions", body)
        return completion_from_body(data)
