"""OpenAIChatBackend with the real openai client against the fake provider on 127.0.0.1."""

from __future__ import annotations

import json

import openai
import pytest

from backends.base import (
    GenerationParams,
    KeyRejected,
    ProviderRefusal,
    QuotaExhausted,
    RequestRejected,
)
from backends.openai_chat import OpenAIChatBackend, completion_from_body, request_body
from backends.provider_http import MalformedResponse
from core.errors import UserError
from tests.fakes.calls import MESSAGES, ask, raised
from tests.fakes.server import FakeServer


def chat(fake: FakeServer, **kw) -> OpenAIChatBackend:
    return OpenAIChatBackend("gpt-4o", base_url=fake.url + "/v1", **kw)


def test_answer_fills_text_usage_and_reported_model_version(fake: FakeServer) -> None:
    fake.state.model_version = "gpt-4o-2024-08-06"
    fake.state.reply = lambda provider, prompt: "No, it is not."
    c = ask(chat(fake), params=GenerationParams(temperature=0.5, max_tokens=77, seed=3))
    assert c.text == "No, it is not."
    assert c.finish_reason == "stop"
    assert c.model_version == "gpt-4o-2024-08-06"
    assert (c.prompt_tokens, c.completion_tokens) == (6, 4)  # the fake counts words
    body = fake.state.requests[0].body
    assert body["model"] == "gpt-4o"
    assert body["messages"] == MESSAGES
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.5, 77, 3)
    assert "logprobs" not in body


def test_top_logprobs_fill_first_token_logprobs(fake: FakeServer) -> None:
    fake.state.logprobs = {"A": -0.1, "B": -2.5, "C": -4.0, "D": -6.0}
    c = ask(chat(fake), params=GenerationParams(top_logprobs=3))
    assert c.first_token_logprobs == {"A": -0.1, "B": -2.5, "C": -4.0}
    body = fake.state.requests[0].body
    assert body["logprobs"] is True and body["top_logprobs"] == 3


def test_top_logprobs_are_capped_at_the_api_maximum() -> None:
    body = request_body("m", MESSAGES, GenerationParams(top_logprobs=50))
    assert body["top_logprobs"] == 20


def test_sdk_retries_are_off_and_the_key_goes_only_in_the_auth_header(
    fake: FakeServer, api_keys: dict[str, str]
) -> None:
    fake.state.push("server_error")
    exc = raised(chat(fake))
    assert len(fake.state.requests) == 1  # no hidden SDK retry
    rec = fake.state.requests[0]
    assert rec.headers["authorization"] == f"Bearer {api_keys['OPENAI_API_KEY']}"
    assert rec.headers["x-stainless-retry-count"] == "0"
    assert api_keys["OPENAI_API_KEY"] not in json.dumps(rec.body)
    assert api_keys["OPENAI_API_KEY"] not in str(exc)


def test_rate_limit_is_retryable_with_retry_after(fake: FakeServer) -> None:
    fake.state.push("rate_limit", retry_after=2)
    backend = chat(fake)
    exc = raised(backend)
    assert isinstance(exc, openai.RateLimitError)
    assert backend.is_retryable(exc)
    assert backend.retry_after(exc) == 2.0


def test_retry_after_ms_header_wins(fake: FakeServer) -> None:
    fake.state.push("rate_limit", retry_after=9, retry_after_ms=250)
    backend = chat(fake)
    assert backend.retry_after(raised(backend)) == 0.25


def test_insufficient_quota_is_quota_exhausted_not_a_rate_limit(fake: FakeServer) -> None:
    fake.state.push("quota")
    backend = chat(fake)
    exc = raised(backend)
    assert isinstance(exc, QuotaExhausted)
    assert "current quota" in str(exc)
    assert not backend.is_retryable(exc)


@pytest.mark.parametrize("kind", ["server_error", "overloaded"])
def test_server_errors_are_retryable(fake: FakeServer, kind: str) -> None:
    fake.state.push(kind)
    backend = chat(fake)
    exc = raised(backend)
    assert isinstance(exc, openai.InternalServerError)
    assert backend.is_retryable(exc)
    assert backend.retry_after(exc) is None


def test_slow_answer_past_the_timeout_is_a_retryable_timeout(fake: FakeServer) -> None:
    fake.state.push("slow", seconds=3.0)
    backend = chat(fake, timeout_s=0.3)
    exc = raised(backend)
    assert isinstance(exc, openai.APITimeoutError)
    assert backend.is_retryable(exc)


@pytest.mark.parametrize("code", ["content_policy_violation", "content_filter"])
def test_a_400_naming_a_content_policy_is_a_refusal_keeping_its_code(fake: FakeServer,
                                                                      code: str) -> None:
    fake.state.push("bad_request", message="Your request was rejected by our safety system.",
                    code=code)
    backend = chat(fake)
    exc = raised(backend)
    assert isinstance(exc, ProviderRefusal)
    assert str(exc) == "Your request was rejected by our safety system."
    assert exc.finish_reason == code
    assert not backend.is_retryable(exc)


@pytest.mark.parametrize("code, message", [
    ("unsupported_parameter", "Unsupported parameter: 'max_tokens' is not supported with "
                              "this model. Use 'max_completion_tokens' instead."),
    ("context_length_exceeded", "This model's maximum context length is 128000 tokens."),
    (None, "Invalid value for 'temperature'."),
])
def test_any_other_400_is_a_rejected_request_naming_the_cause(fake: FakeServer, code, message
                                                               ) -> None:
    fake.state.push("bad_request", message=message, code=code)
    backend = chat(fake)
    exc = raised(backend)
    assert isinstance(exc, RequestRejected) and not isinstance(exc, ProviderRefusal)
    assert exc.error_kind == (code or "invalid_request_error")
    assert str(exc) == f"HTTP 400: {message}"
    assert not backend.is_retryable(exc)


def test_an_unknown_model_404_is_a_rejected_request(fake: FakeServer) -> None:
    fake.state.push("status", status=404, body='{"error": {"message": "The model `gpt-5o` does '
                    'not exist", "type": "invalid_request_error", "code": "model_not_found"}}')
    exc = raised(chat(fake))
    assert isinstance(exc, RequestRejected) and exc.error_kind == "model_not_found"


def test_refusal_field_and_content_filter_finish_are_blocked_answers(fake: FakeServer) -> None:
    fake.state.push("refusal", message="I can't help with that.")
    fake.state.push("refusal", code="content_filter")
    backend = chat(fake)
    c = ask(backend)
    assert (c.text, c.blocked, c.finish_reason) == ("", "I can't help with that.", "stop")
    c = ask(backend)
    assert (c.blocked, c.finish_reason) == ("finish_reason content_filter", "content_filter")
    assert ask(backend).blocked is None  # a plain answer


def test_unauthorized_stops_the_run_naming_the_key_variable(fake: FakeServer) -> None:
    fake.state.push("status", status=401, body='{"error": {"message": "Incorrect API key"}}')
    backend = chat(fake)
    exc = raised(backend)
    assert isinstance(exc, KeyRejected) and not isinstance(exc, ProviderRefusal)
    assert (str(exc), exc.key_env, exc.status) == ("Incorrect API key", "OPENAI_API_KEY", 401)
    assert not backend.is_retryable(exc)


@pytest.mark.parametrize("kind, status", [("bad_key", 401), ("forbidden", 403)])
def test_invalid_or_restricted_key_is_key_rejected_without_the_key(
    fake: FakeServer, api_keys: dict[str, str], kind: str, status: int
) -> None:
    fake.state.push(kind)
    backend = chat(fake)
    exc = raised(backend)
    assert isinstance(exc, KeyRejected)
    assert (exc.key_env, exc.status) == ("OPENAI_API_KEY", status)
    assert ("Incorrect API key provided" if kind == "bad_key" else "Missing scopes") in str(exc)
    assert api_keys["OPENAI_API_KEY"] not in str(exc)
    assert not backend.is_retryable(exc)
    assert len(fake.state.requests) == 1


def test_malformed_body_is_a_retryable_malformed_response(fake: FakeServer) -> None:
    fake.state.push("malformed")
    backend = chat(fake)
    exc = raised(backend)
    assert isinstance(exc, MalformedResponse)
    assert "not JSON" in str(exc)
    assert backend.is_retryable(exc)


def test_connection_refused_is_retryable(api_keys: dict[str, str]) -> None:
    server = FakeServer().start()
    url = server.url
    server.stop()
    backend = OpenAIChatBackend("gpt-4o", base_url=url + "/v1", timeout_s=2)
    exc = raised(backend)
    assert isinstance(exc, openai.APIConnectionError)
    assert backend.is_retryable(exc)


def test_a_real_openai_url_is_refused_by_the_test_network_guard(
    api_keys: dict[str, str], blocked_connections: list[str]
) -> None:
    before = len(blocked_connections)
    backend = OpenAIChatBackend("gpt-4o", timeout_s=2)  # no base URL: api.openai.com
    exc = raised(backend)
    tried = blocked_connections[before:]
    del blocked_connections[before:]  # refused on purpose: not a failure of this test
    refusal = exc if isinstance(exc, RuntimeError) else exc.__cause__
    assert "tests may not reach the network" in str(refusal) and "api.openai.com" in str(refusal)
    assert tried and all("api.openai.com" in t for t in tried)


def test_rate_limit_headers_are_read(fake: FakeServer) -> None:
    fake.state.push("headers", headers={
        "x-ratelimit-remaining-requests": "3", "x-ratelimit-remaining-tokens": "1500",
        "x-ratelimit-reset-requests": "6m0s", "x-ratelimit-reset-tokens": "20ms"})
    backend = chat(fake)
    assert backend.rate_limit_state() is None
    ask(backend)
    state = backend.rate_limit_state()
    assert (state.remaining_requests, state.remaining_tokens) == (3, 1500)
    assert state.reset_requests_s == 360.0
    assert state.reset_tokens_s == pytest.approx(0.02)


def test_rate_limit_headers_of_a_429_are_read_too(fake: FakeServer) -> None:
    fake.state.push("rate_limit", retry_after=1, headers={
        "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1s"})
    backend = chat(fake)
    raised(backend)
    assert backend.rate_limit_state().remaining_requests == 0
    assert backend.rate_limit_state().reset_requests_s == 1.0


def test_missing_key_fails_in_the_constructor_before_any_request(
    fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(UserError, match="OPENAI_API_KEY"):
        chat(fake)
    assert fake.state.requests == []


def test_compatible_server_needs_no_key_but_a_base_url(
    fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_COMPATIBLE_API_KEY", raising=False)
    backend = OpenAIChatBackend("llama-3.3-70b", base_url=fake.url + "/v1", api_key_optional=True)
    assert backend.provider == "openai-compatible"
    assert ask(backend).text.startswith("echo: ")
    assert fake.state.requests[0].headers["authorization"] == "Bearer EMPTY"
    with pytest.raises(UserError, match="--base-url"):
        OpenAIChatBackend("llama", api_key_optional=True)


def test_compatible_server_never_gets_the_openai_key(
    fake: FakeServer, api_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_COMPATIBLE_API_KEY", raising=False)
    backend = OpenAIChatBackend("qwen", base_url=fake.url + "/v1", api_key_optional=True)
    ask(backend)
    rec = fake.state.requests[0]
    assert rec.headers["authorization"] == "Bearer EMPTY"
    assert api_keys["OPENAI_API_KEY"] not in str(rec.headers)


def test_compatible_server_key_comes_from_openai_compatible_api_key(
    fake: FakeServer, api_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", "vllm-test-SECRET-0005")
    backend = OpenAIChatBackend("qwen", base_url=fake.url + "/v1", api_key_optional=True)
    ask(backend)
    assert fake.state.requests[0].headers["authorization"] == "Bearer vllm-test-SECRET-0005"
    fake.state.push("bad_key")
    exc = raised(backend)
    assert isinstance(exc, KeyRejected) and exc.key_env == "OPENAI_COMPATIBLE_API_KEY"
    assert "vllm-test-SECRET-0005" not in str(exc)


def test_base_url_comes_from_openai_base_url(fake: FakeServer, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake.url + "/v1")
    backend = OpenAIChatBackend("gpt-4o")
    assert backend.base_url == fake.url + "/v1"
    assert ask(backend).text.startswith("echo: ")
    assert fake.state.paths() == ["/v1/chat/completions"]


def test_repr_never_shows_the_key(fake: FakeServer, api_keys: dict[str, str]) -> None:
    assert api_keys["OPENAI_API_KEY"] not in repr(chat(fake))


def test_request_body_is_the_documented_json() -> None:
    params = GenerationParams(temperature=0.7, max_tokens=50, seed=1, top_p=0.9)
    assert request_body("gpt-4o", MESSAGES, params) == {
        "model": "gpt-4o", "messages": MESSAGES, "temperature": 0.7, "max_tokens": 50,
        "seed": 1, "top_p": 0.9,
    }
    body = request_body("o3", MESSAGES, params, max_tokens_field="max_completion_tokens")
    assert body["max_completion_tokens"] == 50 and "max_tokens" not in body


def test_completion_from_body_reads_a_hand_written_response() -> None:
    body = {
        "id": "x", "model": "gpt-4o-2024-08-06", "system_fingerprint": "fp_1",
        "choices": [{"index": 0, "finish_reason": "length",
                     "message": {"role": "assistant", "content": "Partly.",
                                 "reasoning_content": "think first"},
                     "logprobs": {"content": [{"token": "Part", "logprob": -0.2, "top_logprobs": [
                         {"token": "Part", "logprob": -0.2}, {"token": "Yes", "logprob": -2.0},
                         {"token": "Yes", "logprob": -2.0}]}]}}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 2},
    }
    c = completion_from_body(body)
    assert (c.text, c.finish_reason, c.model_version) == ("Partly.", "length", "gpt-4o-2024-08-06")
    assert (c.prompt_tokens, c.completion_tokens, c.reasoning) == (11, 2, "think first")
    # two token ids with the same text share their probability: log(2 * e^-2)
    assert c.first_token_logprobs["Yes"] == pytest.approx(-2.0 + 0.6931471805599453)
    assert c.extras == {"system_fingerprint": "fp_1"}


def test_completion_from_body_without_choices_is_malformed() -> None:
    with pytest.raises(MalformedResponse):
        completion_from_body({"model": "gpt-4o", "choices": []})


def test_dropped_connection_is_retryable(fake: FakeServer) -> None:
    fake.state.push("disconnect")
    backend = chat(fake)
    exc = raised(backend)
    assert isinstance(exc, openai.APIConnectionError) and backend.is_retryable(exc)
    assert ask(backend).text  # the next try is answered
