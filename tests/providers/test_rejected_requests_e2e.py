"""A request the provider rejects is an error row, never a refusal (issue 13, item 1).

scripts/generate.py against the fake provider, for each provider's protocol: a 400
unsupported_parameter, a 400 context_length_exceeded and a 400 content_policy_violation.
Only OpenAI's content-policy 400 is the provider's safety system refusing; every other one is
an error row that names its cause, is not retried, makes the run exit EXIT_ROWS_FAILED, and is
redone by --retry-errors.
"""

from __future__ import annotations

import pytest

from core.errors import EXIT_ROWS_FAILED
from tests.providers.test_api_generation_e2e import N, generate, prompts, rows_by_id

__all__ = ["prompts"]  # the fixture, imported for these tests

BACKENDS = ("gpt-4o", "claude-sonnet-4.5", "gemini-2.5-flash")
CODES = ("unsupported_parameter", "context_length_exceeded", "content_policy_violation")
MESSAGES = {
    "unsupported_parameter": "Unsupported parameter: 'max_tokens' is not supported with this "
                             "model.",
    "context_length_exceeded": "This model's maximum context length is 8192 tokens.",
    "content_policy_violation": "Your request was rejected by our safety system.",
}
#: the error_kind each protocol's 400 gets: OpenAI's code, Anthropic's type, Gemini's status
EXPECTED_KIND = {
    "gpt-4o": lambda code: code,
    "claude-sonnet-4.5": lambda code: code,
    "gemini-2.5-flash": lambda code: "INVALID_ARGUMENT",
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("code", CODES)
def test_a_400_is_an_error_row_unless_openai_names_a_content_policy(
    fake, prompts, tmp_path, capsys, backend, code
) -> None:
    fake.state.push("bad_request", message=MESSAGES[code], code=code)
    out = tmp_path / "gen.jsonl"
    status = generate(fake, prompts, out, "--no-cache", "--concurrency", "1", backend=backend)
    row = rows_by_id(out)[0]
    assert len(fake.state.requests) == N  # never retried within the run
    assert row["attempts"] == 1
    if backend == "gpt-4o" and code == "content_policy_violation":
        # the provider's safety system: a refusal row keeping its own reason and words
        assert status == 0
        assert (row["error"], row["response"]) == (None, "")
        assert (row["finish_reason"], row["provider_message"]) == (code, MESSAGES[code])
        return
    assert status == EXIT_ROWS_FAILED
    kind = EXPECTED_KIND[backend](code)
    assert row["error_kind"] == kind
    assert row["error"] == f"{kind}: HTTP 400: {MESSAGES[code]}"
    assert row["response"] is None and row["provider_message"] is None
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == "1 row(s) failed; rerun the same command with --retry-errors to redo them"
    # a rerun without the flag leaves it, and still exits non-zero; the flag redoes it
    assert generate(fake, prompts, out, "--no-cache", backend=backend) == EXIT_ROWS_FAILED
    assert len(fake.state.requests) == N
    assert generate(fake, prompts, out, "--no-cache", "--retry-errors", backend=backend) == 0
    assert len(fake.state.requests) == N + 1
    assert rows_by_id(out)[0]["error"] is None


@pytest.mark.parametrize("backend, fault, code, reason", [
    ("gpt-4o", "refusal", None, "stop"),
    ("gpt-4o", "refusal", "content_filter", "content_filter"),
    ("claude-sonnet-4.5", "refusal", None, "refusal"),
    ("gemini-2.5-flash", "safety_block", None, "prompt_blocked:SAFETY"),
    ("gemini-2.5-flash", "safety_finish", None, "SAFETY"),
])
def test_an_answer_the_safety_system_blocked_is_a_refused_row(
    fake, prompts, tmp_path, capsys, backend, fault, code, reason
) -> None:
    fake.state.push(fault, message="I can't help with that.", code=code)
    out = tmp_path / "gen.jsonl"
    assert generate(fake, prompts, out, "--no-cache", "--concurrency", "1",
                    backend=backend) == 0
    row = rows_by_id(out)[0]
    assert (row["error"], row["finish_reason"]) == (None, reason)
    assert row["provider_message"]  # the provider's words, or its reason
    assert rows_by_id(out)[1]["provider_message"] is None
    assert "refused by provider: 1)" in capsys.readouterr().out
