"""GeminiBackend with the real google-genai client against the fake provider on 127.0.0.1."""

from __future__ import annotations

import httpx2
import pytest
from google.genai import errors

from backends.base import (
    GenerationParams,
    KeyRejected,
    ProviderRefusal,
    QuotaExhausted,
    RequestRejected,
)
from backends.gemini import GeminiBackend, contents_and_system
from backends.provider_http import LogprobsUnavailable, MalformedResponse
from core.errors import UserError
from tests.fakes.calls import ask, raised
from tests.fakes.server import FakeServer


def gemini(fake: FakeServer, **kw) -> GeminiBackend:
    return GeminiBackend("gemini-2.5-flash", base_url=fake.url, **kw)


def test_answer_and_request_shape(fake: FakeServer, api_keys: dict[str, str]) -> None:
    fake.state.model_version = "gemini-2.5-flash-preview-05-20"
    fake.state.reply = lambda provider, prompt: "Opinions differ."
    c = ask(gemini(fake), params=GenerationParams(temperature=0.2, max_tokens=40, seed=9))
    assert (c.text, c.finish_reason) == ("Opinions differ.", "STOP")
    assert c.model_version == "gemini-2.5-flash-preview-05-20"
    assert (c.prompt_tokens, c.completion_tokens) == (6, 2)
    rec = fake.state.requests[0]
    assert rec.path == "/v1/models/gemini-2.5-flash:generateContent"
    assert rec.headers["x-goog-api-key"] == api_keys["GEMINI_API_KEY"]
    assert rec.body["contents"] == [{"role": "user",
                                     "parts": [{"text": "Is a hot dog a sandwich?"}]}]
    assert rec.body["systemInstruction"]["parts"] == [{"text": "Answer in one sentence."}]
    config = rec.body["generationConfig"]
    assert (config["temperature"], config["maxOutputTokens"], config["seed"]) == (0.2, 40, 9)
    assert "responseLogprobs" not in config


def test_blocked_prompt_is_an_empty_answer_naming_the_block(fake: FakeServer) -> None:
    fake.state.push("safety_block", block_reason="PROHIBITED_CONTENT")
    c = ask(gemini(fake))
    assert c.text == ""
    assert c.finish_reason == "prompt_blocked:PROHIBITED_CONTENT"
    assert c.prompt_tokens == 6


def test_answer_stopped_by_safety_is_an_empty_answer(fake: FakeServer) -> None:
    fake.state.push("safety_finish")
    c = ask(gemini(fake))
    assert (c.text, c.finish_reason) == ("", "SAFETY")


def test_logprobs_are_asked_for_and_read(fake: FakeServer) -> None:
    fake.state.logprobs = {"A": -0.3, "B": -1.4}
    c = ask(gemini(fake), params=GenerationParams(top_logprobs=2))
    config = fake.state.requests[0].body["generationConfig"]
    assert (config["responseLogprobs"], config["logprobs"]) == (True, 2)
    assert c.first_token_logprobs == {"A": -0.3, "B": -1.4}


def test_logprobs_not_enabled_names_the_sampling_fallback(fake: FakeServer) -> None:
    fake.state.push("logprobs_disabled")
    backend = gemini(fake)
    exc = raised(backend, params=GenerationParams(top_logprobs=5))
    assert isinstance(exc, LogprobsUnavailable)
    assert isinstance(exc, ProviderRefusal) and isinstance(exc, UserError)
    assert "--samples-per-item" in str(exc) and "not enabled" in str(exc)
    assert not backend.is_retryable(exc)


def test_per_minute_429_is_retryable_with_the_retry_info_delay(fake: FakeServer) -> None:
    fake.state.push("rate_limit", retry_after=7)
    backend = gemini(fake)
    exc = raised(backend)
    assert isinstance(exc, errors.ClientError) and exc.code == 429
    assert backend.is_retryable(exc)
    assert backend.retry_after(exc) == 7.0
    assert len(fake.state.requests) == 1  # the SDK's own retries are off


def test_daily_quota_is_quota_exhausted(fake: FakeServer) -> None:
    fake.state.push("quota", daily=True)
    exc = raised(gemini(fake))
    assert isinstance(exc, QuotaExhausted)


@pytest.mark.parametrize("kind", ["server_error", "overloaded"])
def test_server_errors_are_retryable(fake: FakeServer, kind: str) -> None:
    fake.state.push(kind)
    backend = gemini(fake)
    exc = raised(backend)
    assert isinstance(exc, errors.ServerError) and backend.is_retryable(exc)


def test_api_key_not_valid_is_key_rejected_not_a_refusal(fake: FakeServer) -> None:
    fake.state.push("bad_key")  # Google answers a bad key with 400 INVALID_ARGUMENT
    backend = gemini(fake)
    exc = raised(backend)
    assert isinstance(exc, KeyRejected) and not isinstance(exc, ProviderRefusal)
    assert "API key not valid" in str(exc)
    assert (exc.key_env, exc.status) == ("GEMINI_API_KEY", 400)
    assert not backend.is_retryable(exc)


def test_permission_denied_is_key_rejected_with_the_quoted_key_cut_out(
    fake: FakeServer, api_keys: dict[str, str]
) -> None:
    fake.state.push("forbidden")  # Google quotes the whole key in this message
    exc = raised(gemini(fake))
    assert isinstance(exc, KeyRejected) and exc.status == 403
    assert "has been suspended" in str(exc) and "<API key>" in str(exc)
    assert api_keys["GEMINI_API_KEY"] not in str(exc)


def test_refused_key_names_google_api_key_when_that_supplied_it(
    fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.setenv("GOOGLE_API_KEY", "google-test-SECRET-0004")
    fake.state.push("bad_key")
    exc = raised(gemini(fake))
    assert isinstance(exc, KeyRejected) and exc.key_env == "GOOGLE_API_KEY"


@pytest.mark.parametrize("message", [
    "Invalid JSON payload received. Unknown name \"unsupported_parameter\": Cannot find field.",
    "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
    # Gemini has no refusal status: its blocks are 200s, so a 400 is never one
    "content_policy_violation: the request was flagged",
])
def test_a_400_is_a_rejected_request_naming_its_status(fake: FakeServer, message: str) -> None:
    fake.state.push("bad_request", message=message)
    backend = gemini(fake)
    exc = raised(backend)
    assert isinstance(exc, RequestRejected) and not isinstance(exc, ProviderRefusal)
    assert (exc.error_kind, str(exc)) == ("INVALID_ARGUMENT", f"HTTP 400: {message}")
    assert not backend.is_retryable(exc)


@pytest.mark.parametrize("fault, finish", [("safety_block", "prompt_blocked:SAFETY"),
                                           ("safety_finish", "SAFETY")])
def test_safety_blocks_are_blocked_answers(fake: FakeServer, fault: str, finish: str) -> None:
    fake.state.push(fault)
    c = ask(gemini(fake))
    assert (c.text, c.finish_reason) == ("", finish)
    assert c.blocked and "SAFETY" in c.blocked


def test_timeout_and_malformed_body_are_retryable(fake: FakeServer, http_transport: str
                                                  ) -> None:
    fake.state.push("slow", seconds=3.0)
    fake.state.push("malformed")
    backend = gemini(fake, timeout_s=0.3)
    exc = raised(backend)
    # google-genai lets each transport's own timeout out
    timeout = TimeoutError if http_transport == "aiohttp" else httpx2.TimeoutException
    assert isinstance(exc, timeout) and backend.is_retryable(exc)
    exc = raised(backend)
    assert isinstance(exc, MalformedResponse) and backend.is_retryable(exc)
    assert len(fake.state.requests) == 2


def test_missing_key_names_both_variables(fake: FakeServer, monkeypatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY")
    with pytest.raises(UserError, match="GEMINI_API_KEY or GOOGLE_API_KEY"):
        gemini(fake)
    assert fake.state.requests == []


def test_google_api_key_is_accepted(fake: FakeServer, monkeypatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.setenv("GOOGLE_API_KEY", "google-test-key")
    ask(gemini(fake))
    assert fake.state.requests[0].headers["x-goog-api-key"] == "google-test-key"


def test_base_url_from_the_sdks_env_var(fake: FakeServer, monkeypatch) -> None:
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.url)
    backend = GeminiBackend("gemini-2.5-pro")
    assert backend.base_url == fake.url
    assert ask(backend).text.startswith("echo: ")


def test_conversation_roles_map_to_user_and_model() -> None:
    contents, system = contents_and_system([
        {"role": "system", "content": "S1"}, {"role": "user", "content": "U1"},
        {"role": "assistant", "content": "A1"}, {"role": "system", "content": "S2"},
        {"role": "user", "content": "U2"}])
    assert system == "S1\n\nS2"
    assert [(c["role"], c["parts"][0]["text"]) for c in contents] == [
        ("user", "U1"), ("model", "A1"), ("user", "U2")]


def test_dropped_connection_is_retryable(fake: FakeServer) -> None:
    # google-genai lets aiohttp's ServerDisconnectedError (or httpx's RemoteProtocolError) out
    fake.state.push("disconnect")
    backend = gemini(fake)
    exc = raised(backend)
    assert not isinstance(exc, errors.APIError) and backend.is_retryable(exc)
    assert ask(backend).text  # the next try is answered
