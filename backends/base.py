"""The one interface every model provider implements.

An adapter turns a request into one provider call and the provider's answer into a
`Completion`. Everything else (concurrency, rate limits, retries, caching, writing results)
lives in `harness.runner`, shared by all adapters.
"""

from __future__ import annotations

import abc
import asyncio
import importlib
from collections.abc import Awaitable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from core.text import well_formed, well_formed_values

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from backends.batch_base import BatchAdapter
    from backends.option_scores import LetterScores, ScoreJob

T = TypeVar("T")

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

    def optional_fields(self, *, seed: bool = True) -> dict[str, Any]:
        """seed and top_p where set, named as every provider names them; `seed=False` for a
        provider that takes no seed (Backend.takes_seed)."""
        fields = {"seed": self.seed if seed else None, "top_p": self.top_p}
        return {k: v for k, v in fields.items() if v is not None}


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

    def __post_init__(self) -> None:
        # a lone surrogate in the provider's JSON ("\ud800") would stop every file, cache
        # and page that stores the answer: it becomes U+FFFD here, once for every adapter
        for name in ("text", "reasoning", "blocked", "finish_reason", "model_version"):
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, well_formed(value))
        if self.first_token_logprobs is not None:
            self.first_token_logprobs = well_formed_values(self.first_token_logprobs)
        if self.extras:
            self.extras = well_formed_values(self.extras)


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


class RequestTimeout(TimeoutError):
    """No complete answer within the request's time bound (--timeout), counted from connect to
    the last byte. A TimeoutError, so every adapter retries it as it does its SDK's timeouts."""


async def within_timeout(call: Awaitable[T], timeout_s: float | None) -> T:
    """`await call`, bounded as a whole: the SDKs' own timeouts bound each read, so a server
    sending a byte every few seconds would otherwise hold a request for minutes."""
    if not timeout_s:
        return await call
    try:
        return await asyncio.wait_for(call, timeout_s)
    except TimeoutError as exc:
        if type(exc) is not TimeoutError:  # an adapter's own timeout error: keep its message
            raise
        raise RequestTimeout(f"no complete answer within {timeout_s:g} s (--timeout bounds "
                             "the whole request)") from None


class Backend(abc.ABC):
    """A model behind one provider. Subclasses are small: one call, one error classifier.

    The class attributes below say what an adapter is and can do; callers read them from the
    class (`backends.registry.adapter_class`), before any client is made or weights loaded.
    """

    #: provider name as used in the registry, e.g. "openai", "anthropic", "gemini", "hf"
    provider: str = ""
    #: runs on this machine: no HTTP request, no per-token price, no rate limits
    local: ClassVar[bool] = False
    #: environment variables the key is read from, the first set wins (none: no key)
    key_envs: ClassVar[tuple[str, ...]] = ()
    #: the run goes on without a key (an open server; an ungated local model)
    key_optional: ClassVar[bool] = False
    #: the most alternatives per token the provider returns as top log-probabilities (0: none)
    max_top_logprobs: ClassVar[int] = 0
    #: "module:Class" of the adapter for the provider's batch API, None where it has none
    batch_adapter: ClassVar[str | None] = None
    #: the provider takes a sampling seed (Anthropic's API has none)
    takes_seed: ClassVar[bool] = True

    @classmethod
    def batch_adapter_class(cls) -> type[BatchAdapter] | None:
        """The batch adapter class, imported now (it imports this adapter's module)."""
        if cls.batch_adapter is None:
            return None
        module_name, class_name = cls.batch_adapter.split(":", 1)
        return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]

    @classmethod
    def option_reading(cls) -> str | None:
        """How the adapter gives the probabilities of a prompt's answer options (letters,
        digits): "forward_pass", every option exactly from one pass of a local model
        (`option_logprobs`); "top_logprobs", the first token's top alternatives, asked for by
        the one-token request `option_params`; None, not at all (the caller refuses)."""
        if cls.local:
            return "forward_pass"
        return "top_logprobs" if cls.max_top_logprobs > 0 else None

    @classmethod
    def option_params(cls) -> GenerationParams:
        """The request whose answer holds the options' probabilities: one token, greedy, with
        as many top alternatives as the provider returns."""
        if cls.option_reading() != "top_logprobs":
            raise NotImplementedError(f"{cls.__name__} returns no top log-probabilities")
        return GenerationParams(temperature=0.0, max_tokens=1, top_logprobs=cls.max_top_logprobs)

    @property
    def has_chat_template(self) -> bool:
        """Whether `prompt_text` wraps messages in the model's chat template."""
        return False

    def prompt_text(self, messages: list[Message]) -> str:
        """The text the model reads for `messages` (a local model's option scoring reads it
        as given): here every message's content, in order, as a base model continues it."""
        return "\n\n".join(m["content"] for m in messages)

    def option_logprobs(self, jobs: Sequence[ScoreJob], *, prefix_cache: bool = True,
                        add_special_tokens: bool | None = None,
                        ) -> Iterator[list[tuple[int, LetterScores]]]:
        """Each job's next-token log-probability of each of its options, read exactly (a
        local model's forward pass); yields (job index, scores) lists as batches finish."""
        raise NotImplementedError(f"{type(self).__name__} reads options as "
                                  f"{self.option_reading()}, not by a forward pass")

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
