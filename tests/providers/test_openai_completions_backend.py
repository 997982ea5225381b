"""OpenAICompletionsBackend (legacy /v1/completions) with the real openai client."""

from __future__ import annotations

import openai
import pytest

from backends.base import GenerationParams, KeyRejected, QuotaExhausted
from backends.openai_completions import (
    OpenAICompletionsBackend,
    completion_from_body,
    request_body,
)
from core.errors import UserError
from tests.fakes.calls import ask, raised
from tests.fakes.server import FakeServer

PROMPT = [{"role": "user", "content": "Question: Which is it?\nAnswer Choice:"}]


def base_model(fake: FakeServer) -> OpenAICompletionsBackend:
    return OpenAICompletionsBackend("davinci-002", base_url=fake.url + "/v1")


def test_messages_are_sent_as_one_prompt_and_logprobs_come_back(fake: FakeServer) -> None:
    fake.state.logprobs = {" A": -0.4, " B": -1.3, " C": -2.2}
    c = ask(base_model(fake), messages=[{"role": "system", "content": "Survey."}, *PROMPT],
            params=GenerationParams(max_tokens=1, top_logprobs=3))
    body = fake.state.requests[0].body
    assert fake.state.paths() == ["/v1/completions"]
    assert body["prompt"] == "Survey.\n\nQuestion: Which is it?\nAnswer Choice:"
    assert (body["max_tokens"], body["logprobs"]) == (1, 3)
    assert c.first_token_logprobs == {" A": -0.4, " B": -1.3, " C": -2.2}
    assert c.model_version == "davinci-002"
    assert c.finish_reason == "length"


def test_logprobs_are_capped_at_five_for_the_legacy_endpoint() -> None:
    assert request_body("davinci-002", PROMPT, GenerationParams(top_logprobs=20))["logprobs"] == 5
    body = request_body("m", PROMPT, GenerationParams(top_logprobs=20), max_logprobs=20)
    assert body["logprobs"] == 20


def test_no_logprobs_asked_means_none_returned(fake: FakeServer) -> None:
    c = ask(base_model(fake), messages=PROMPT)
    assert "logprobs" not in fake.state.requests[0].body
    assert c.first_token_logprobs is None
    assert c.text == "echo: Question: Which is it?\nAnswer Choice:"


def test_quota_and_rate_limit_are_told_apart(fake: FakeServer) -> None:
    fake.state.push("quota")
    fake.state.push("rate_limit", retry_after=3)
    backend = base_model(fake)
    assert isinstance(raised(backend, PROMPT), QuotaExhausted)
    exc = raised(backend, PROMPT)
    assert isinstance(exc, openai.RateLimitError) and backend.retry_after(exc) == 3.0


def test_revoked_key_is_key_rejected_naming_openai_api_key(fake: FakeServer) -> None:
    fake.state.push("bad_key")
    backend = base_model(fake)
    exc = raised(backend, PROMPT)
    assert isinstance(exc, KeyRejected) and (exc.key_env, exc.status) == ("OPENAI_API_KEY", 401)
    assert not backend.is_retryable(exc)


def test_missing_key_is_a_user_error(fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(UserError, match="OPENAI_API_KEY"):
        base_model(fake)
    assert fake.state.requests == []


def test_completion_from_body_reads_a_hand_written_response() -> None:
    c = completion_from_body({
        "model": "babbage-002", "choices": [{"text": " B", "finish_reason": "length",
                                             "logprobs": {"top_logprobs": [{" B": -0.5,
                                                                             " A": -1.0}]}}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 1}})
    assert (c.text, c.prompt_tokens, c.completion_tokens) == (" B", 30, 1)
    assert c.first_token_logprobs == {" B": -0.5, " A": -1.0}
