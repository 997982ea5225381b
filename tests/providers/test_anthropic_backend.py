"""AnthropicBackend with the real anthropic client against the fake provider on 127.0.0.1."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import anthropic
import pytest

from backends.anthropic_messages import AnthropicBackend, completion_from_body, request_body
from backends.base import (
    GenerationParams,
    KeyRejected,
    ProviderRefusal,
    QuotaExhausted,
    RequestRejected,
)
from backends.provider_http import MalformedResponse
from core.errors import UserError
from tests.fakes.calls import MESSAGES, ask, raised
from tests.fakes.server import FakeServer


def claude(fake: FakeServer, **kw) -> AnthropicBackend:
    return AnthropicBackend("claude-sonnet-4-5-20250929", base_url=fake.url, **kw)


def test_answer_and_request_shape(fake: FakeServer, api_keys: dict[str, str]) -> None:
    fake.state.model_version = "claude-sonnet-4-5-20250929"
    fake.state.reply = lambda provider, prompt: "It depends on the definition."
    c = ask(claude(fake), params=GenerationParams(temperature=0.3, max_tokens=64, top_p=0.8))
    assert c.text == "It depends on the definition."
    assert (c.finish_reason, c.model_version) == ("end_turn", "claude-sonnet-4-5-20250929")
    assert (c.prompt_tokens, c.completion_tokens) == (6, 5)
    rec = fake.state.requests[0]
    assert rec.path == "/v1/messages"
    # the system message moves to the top-level field; sampling parameters reach the JSON
    assert rec.body["system"] == "Answer in one sentence."
    assert rec.body["messages"] == [{"role": "user", "content": "Is a hot dog a sandwich?"}]
    assert (rec.body["temperature"], rec.body["top_p"], rec.body["max_tokens"]) == (0.3, 0.8, 64)
    assert rec.headers["x-stainless-retry-count"] == "0"
    assert api_keys["ANTHROPIC_API_KEY"] in (rec.headers.get("x-api-key", "")
                                             + rec.headers.get("authorization", ""))


def test_rate_limit_and_overload_are_retryable(fake: FakeServer) -> None:
    fake.state.push("rate_limit", retry_after=4)
    fake.state.push("overloaded")
    backend = claude(fake)
    exc = raised(backend)
    assert isinstance(exc, anthropic.RateLimitError)
    assert backend.is_retryable(exc) and backend.retry_after(exc) == 4.0
    exc = raised(backend)
    assert exc.status_code == 529 and backend.is_retryable(exc)
    assert len(fake.state.requests) == 2  # one each: SDK retries off


def test_server_error_is_retryable(fake: FakeServer) -> None:
    fake.state.push("server_error")
    backend = claude(fake)
    assert backend.is_retryable(raised(backend))


def test_no_credit_stops_the_run(fake: FakeServer) -> None:
    fake.state.push("quota")
    exc = raised(claude(fake))
    assert isinstance(exc, QuotaExhausted) and "credit balance" in str(exc)


@pytest.mark.parametrize("kind, status, message", [
    ("bad_key", 401, "invalid x-api-key"),
    ("forbidden", 403, "does not have permission"),
])
def test_authentication_and_permission_errors_are_key_rejected(
    fake: FakeServer, kind: str, status: int, message: str
) -> None:
    fake.state.push(kind)
    backend = claude(fake)
    exc = raised(backend)
    assert isinstance(exc, KeyRejected) and message in str(exc)
    assert (exc.key_env, exc.status) == ("ANTHROPIC_API_KEY", status)
    assert not backend.is_retryable(exc)


@pytest.mark.parametrize("kind, message", [
    ("invalid_request_error", "prompt is too long: 250000 tokens > 200000 maximum"),
    ("invalid_request_error", "top_k: Extra inputs are not permitted"),
    # Anthropic has no refusal status: even a 400 that names a content policy is an error
    ("content_policy_violation", "Output blocked by content filtering policy"),
])
def test_a_400_is_a_rejected_request_naming_its_type(fake: FakeServer, kind, message) -> None:
    fake.state.push("bad_request", message=message, code=kind)
    backend = claude(fake)
    exc = raised(backend)
    assert isinstance(exc, RequestRejected) and not isinstance(exc, ProviderRefusal)
    assert (exc.error_kind, str(exc)) == (kind, f"HTTP 400: {message}")
    assert not backend.is_retryable(exc)


def test_stop_reason_refusal_is_a_blocked_answer(fake: FakeServer) -> None:
    fake.state.push("refusal")
    c = ask(claude(fake))
    assert (c.text, c.finish_reason, c.blocked) == ("", "refusal", "stop_reason refusal")


def test_timeout_and_malformed_body_are_retryable(fake: FakeServer) -> None:
    fake.state.push("slow", seconds=3.0)
    fake.state.push("malformed")
    backend = claude(fake, timeout_s=0.3)
    exc = raised(backend)
    assert isinstance(exc, anthropic.APITimeoutError) and backend.is_retryable(exc)
    exc = raised(backend)
    assert isinstance(exc, MalformedResponse) and backend.is_retryable(exc)


def test_rate_limit_headers_with_iso_reset_times(fake: FakeServer) -> None:
    soon = datetime.now(timezone.utc) + timedelta(seconds=30)
    fake.state.push("headers", headers={
        "anthropic-ratelimit-requests-remaining": "7",
        "anthropic-ratelimit-requests-reset": soon.isoformat().replace("+00:00", "Z"),
        "anthropic-ratelimit-input-tokens-remaining": "9000",
        "anthropic-ratelimit-output-tokens-remaining": "400",
        "anthropic-ratelimit-output-tokens-reset": soon.isoformat()})
    backend = claude(fake)
    ask(backend)
    state = backend.rate_limit_state()
    assert state.remaining_requests == 7
    assert state.remaining_tokens == 400  # the tighter of input and output
    assert 28.0 <= state.reset_requests_s <= 30.0
    assert 28.0 <= state.reset_tokens_s <= 30.0


def test_missing_key_is_a_user_error_before_any_request(
    fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(UserError, match="ANTHROPIC_API_KEY"):
        claude(fake)
    assert fake.state.requests == []


def test_base_url_from_anthropic_base_url(fake: FakeServer, monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    assert ask(AnthropicBackend("claude-x")).text.startswith("echo: ")
    assert fake.state.paths() == ["/v1/messages"]


def test_request_body_without_system_message() -> None:
    body = request_body("claude-x", MESSAGES[1:], GenerationParams(max_tokens=9, seed=5))
    assert body == {"model": "claude-x", "max_tokens": 9, "temperature": 0.0,
                    "messages": [{"role": "user", "content": "Is a hot dog a sandwich?"}]}


def test_completion_from_body_splits_thinking_from_text() -> None:
    c = completion_from_body({
        "model": "claude-x", "stop_reason": "max_tokens",
        "content": [{"type": "thinking", "thinking": "Consider bread."},
                    {"type": "text", "text": "Maybe"}, {"type": "text", "text": " not."}],
        "usage": {"input_tokens": 12, "output_tokens": 8}})
    assert (c.text, c.reasoning, c.finish_reason) == ("Maybe not.", "Consider bread.", "max_tokens")
    assert (c.prompt_tokens, c.completion_tokens) == (12, 8)
    with pytest.raises(MalformedResponse):
        completion_from_body({"type": "error"})


def test_dropped_connection_is_retryable(fake: FakeServer) -> None:
    fake.state.push("disconnect")
    backend = claude(fake)
    exc = raised(backend)
    assert isinstance(exc, anthropic.APIConnectionError) and backend.is_retryable(exc)
    assert ask(backend).text  # the next try is answered
