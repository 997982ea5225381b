"""The one interface every model provider implements.

An adapter turns a request into one provider call and the provider's answer into a
`Completion`. Everything else (concurrency, rate limits, retries, caching, writing results)
lives in `harness.runner`, shared by all adapters.
"""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field
from typing import Any

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


@dataclass(frozen=True)
class GenerationParams:
    """Sampling parameters, passed through every layer unchanged and recorded in each row."""

    temperature: float = 0.0
    max_tokens: int = 512
    seed: int | None = None
    top_p: float | None = None
    # >0 asks for the log-probabilities of the top-k first tokens (distribution experiments)
    top_logprobs: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Completion:
    """One provider answer in a common shape."""

    text: str
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model_version: str | None = None
    reasoning: str | None = None  # e.g. the <think> part of a reasoning model
    # top-k alternatives for the FIRST generated token: {token_text: logprob}
    first_token_logprobs: dict[str, float] | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    #: set when the provider's safety system blocked the answer (OpenAI's `refusal` field or
    #: finish_reason content_filter, Anthropic's stop_reason refusal, a Gemini block): the
    #: provider's own words, written to the row's provider_message
    blocked: str | None = None


@dataclass(frozen=True)
class RateLimitState:
    """What a provider's rate-limit headers said: the budget left, so the runner slows down
    before a 429, and the account's limits per minute, which the runner adopts in place of
    the registry's (harness.limits)."""

    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    reset_requests_s: float | None = None
    reset_tokens_s: float | None = None
    limit_requests: int | None = None  # requests a minute
    limit_tokens: int | None = None  # tokens a minute, input and output together (OpenAI)
    limit_input_tokens: int | None = None  # Anthropic limits input and output tokens apart
    limit_output_tokens: int | None = None


class ProviderRefusal(Exception):
    """The provider's safety system refused the request outright (OpenAI's 400
    content_policy_violation): a row without error, carrying the provider's message and its
    reason as finish_reason. Never a misconfigured request: that is RequestRejected."""

    def __init__(self, message: str, finish_reason: str = "error") -> None:
        super().__init__(message)
        self.finish_reason = finish_reason


class RequestRejected(Exception):
    """A 4xx the provider gives this request alone, other than a refused key or quota (an
    unsupported parameter, a prompt over the context length, an unknown model id).

    An error row whose `error_kind` names the cause (the provider's code or type); not
    retried within a run, since the same request gets the same answer, but redone by
    --retry-errors. Never a refusal: the judge never sees it.
    """

    def __init__(self, message: str, *, status: int, kind: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.error_kind = kind


class RunStopped(Exception):
    """An answer that every later request would get too: the runner stops the run at once
    (no retry, no error row per prompt) with one line saying what to fix."""


class QuotaExhausted(RunStopped):
    """The account has no quota left (e.g. OpenAI's insufficient_quota): stop the run."""


class KeyRejected(RunStopped):
    """The provider refused the API key (HTTP 401/403: invalid, revoked, or without access).

    `key_env` names the environment variable the key came from, for the user to fix; the
    message is the provider's, with the key itself never in it.
    """

    def __init__(self, message: str, *, key_env: str, status: int | None = None) -> None:
        super().__init__(message)
        self.key_env = key_env
        self.status = status


class Backend(abc.ABC):
    """A model behind one provider. Subclasses are small: one call, one error classifier."""

    #: provider name as used in the registry, e.g. "openai", "anthropic", "gemini", "hf"
    provider: str = ""

    def __init__(self, model_id: str, **options: Any) -> None:
        self.model_id = model_id
        self.options = options

    @abc.abstractmethod
    async def complete(self, messages: list[Message], params: GenerationParams) -> Completion:
        """Send one chat request (a base model gets the concatenated user text)."""

    async def complete_batch(
        self, batch: list[list[Message]], params: GenerationParams
    ) -> list[Completion]:
        """Local models override this to run a padded batch in one forward pass."""
        return [await self.complete(m, params) for m in batch]

    #: >1 means the runner should group requests and call complete_batch
    preferred_batch_size: int = 1

    @classmethod
    def check_credentials(cls, **options: Any) -> None:
        """Raise UserError if a key this backend needs is not set (`options` as the
        constructor gets them). Reads the environment only, so a run calls it before it
        creates an output file, loads a model or makes a client."""
        return None

    def is_retryable(self, exc: BaseException) -> bool:
        """True for transient failures: rate limits, overload, 408/409/5xx, timeouts."""
        return False

    def retry_after(self, exc: BaseException) -> float | None:
        """Seconds the provider asked us to wait (Retry-After), if it said."""
        return None

    def rate_limit_state(self) -> RateLimitState | None:
        """The latest rate-limit headers seen, if the provider sends them."""
        return None

    async def aclose(self) -> None:
        """Release clients and connections."""
        return None
