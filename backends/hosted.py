"""What every adapter for a provider's HTTP API shares: key, base URL, SDK client, retries.

A hosted adapter reads its key from `key_envs` (the first set wins; a refused key names
the variable it came from), its base URL from the flag or `base_url_env`, and makes one SDK
client per event loop through `_new_client`. The SDK's own retries are off: the shared
retry loop in harness.runner asks `is_retryable` and `retry_after`.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, ClassVar

from backends.base import Backend, KeyRejected, RateLimitState, RequestRejected
from backends.provider_http import (
    ClientPerLoop,
    MalformedResponse,
    api_key_env,
    api_key_from_env,
    http_transport,
    is_retryable_status,
    parse_retry_after,
    without_key,
)


class HostedBackend(Backend):
    """A model behind a provider's API; subclasses make the client and map the answers."""

    #: the provider as a user knows it, for the missing-key message ("OpenAI")
    provider_label: ClassVar[str] = ""
    #: the environment variable that sets the base URL when no --base-url is given
    base_url_env: ClassVar[str | None] = None
    #: the SDK module and its async client class, for the SDKs made alike (openai,
    #: anthropic: the same constructor, APIStatusError, APIConnectionError, aiohttp client)
    sdk_module: ClassVar[str] = ""
    sdk_client: ClassVar[str] = ""

    def __init__(self, model_id: str, *, base_url: str | None = None, timeout_s: float = 120.0,
                 **options: Any) -> None:
        super().__init__(model_id, **options)
        self.base_url = base_url or (
            os.environ.get(self.base_url_env) if self.base_url_env else None) or None
        self.timeout_s = timeout_s
        self._api_key, self._key_env = self._read_key()
        self._transport = http_transport()
        self._clients: ClientPerLoop[Any] = ClientPerLoop(self._new_client)
        self._limits: RateLimitState | None = None

    def _read_key(self) -> tuple[str, str]:
        """The key and the variable it came from (a UserError naming them when none is set)."""
        key = api_key_from_env(*self.key_envs, provider=self.provider_label)
        return key, api_key_env(*self.key_envs) or self.key_envs[0]

    @classmethod
    def check_credentials(cls, **options: Any) -> None:
        if not cls.key_optional:
            api_key_from_env(*cls.key_envs, provider=cls.provider_label)

    def __repr__(self) -> str:  # never show the key
        return f"{type(self).__name__}(model_id={self.model_id!r}, base_url={self.base_url!r})"

    def _key_rejected(self, message: str, status: int | None) -> KeyRejected:
        """The provider refused the key: stop, naming the variable it came from."""
        return KeyRejected(without_key(message, self._api_key), key_env=self._key_env,
                           status=status)

    def _rejected(self, message: str, status: int, kind: str) -> RequestRejected | None:
        """RequestRejected for a 4xx that this request would get again (None for the
        others: 408, 409 and 429 are worth another try, 5xx are not the request's fault)."""
        if 400 <= status < 500 and not is_retryable_status(status):
            return RequestRejected(without_key(message, self._api_key), status=status,
                                   kind=kind)
        return None

    def _sdk(self) -> Any:
        return importlib.import_module(self.sdk_module)

    def _new_client(self) -> Any:
        """The provider's async SDK client, with its own retries off."""
        sdk = self._sdk()
        http_client = (sdk.DefaultAioHttpClient(timeout=self.timeout_s)
                       if self._transport == "aiohttp" else None)
        return getattr(sdk, self.sdk_client)(
            api_key=self._api_key,
            base_url=self.base_url,
            timeout=self.timeout_s,
            max_retries=0,  # the shared retry loop in harness.runner rules
            http_client=http_client,
        )

    def is_retryable(self, exc: BaseException) -> bool:
        sdk = self._sdk()
        if isinstance(exc, sdk.APIStatusError):
            return is_retryable_status(exc.status_code)  # 529 overloaded is a 5xx
        # the SDKs' timeout errors are connection errors
        return isinstance(exc, sdk.APIConnectionError | MalformedResponse | TimeoutError)

    def retry_after(self, exc: BaseException) -> float | None:
        response = getattr(exc, "response", None)
        return parse_retry_after(getattr(response, "headers", None))

    def rate_limit_state(self) -> RateLimitState | None:
        return self._limits

    async def aclose(self) -> None:
        client = self._clients.take()
        if client is not None:
            await self._close_client(client)

    async def _close_client(self, client: Any) -> None:
        await client.close()
