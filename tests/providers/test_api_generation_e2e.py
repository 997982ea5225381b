"""scripts/generate.py and harness.runner.run_requests against the fake provider.

The real SDK clients, the real runner (retries, pauses, resume), real JSONL rows.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections import Counter
from pathlib import Path

import pytest

from backends.anthropic_messages import AnthropicBackend
from backends.base import GenerationParams
from core.errors import EXIT_ROWS_FAILED, UserError
from harness.request import Request, RunOptions
from harness.results import ResultsStore, key_by, read_jsonl
from harness.runner import run_requests_async
from tests.fakes.prompt_files import write_prompts_csv
from tests.fakes.server import FakeServer

REPO = Path(__file__).resolve().parents[2]
N = 8


def load_generate():
    spec = importlib.util.spec_from_file_location("generate_script", REPO / "scripts" /
                                                  "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    return write_prompts_csv(tmp_path / "prompts.csv", N)


def generate(fake: FakeServer, prompts: Path, out: Path, *extra: str,
             backend: str = "gpt-4o") -> int:
    """scripts/generate.py's main; returns its exit status."""
    base = fake.url + "/v1" if backend.startswith("gpt") else fake.url
    return load_generate().main(["--backend", backend, "--base-url", base,
                                 "--prompts", str(prompts), "--out", str(out), "--no-progress",
                                 "--rpm", "60000", "--tpm", "1e9", *extra])


def rows_by_id(out: Path) -> dict[int, dict]:
    rows = list(read_jsonl(out))
    counts = Counter(r["id"] for r in rows)
    assert all(n == 1 for n in counts.values()), f"duplicate rows: {counts}"
    return {r["id"]: r for r in rows}


def test_429s_then_success_give_complete_rows(fake, prompts, tmp_path, api_keys) -> None:
    fake.state.model_version = "gpt-4o-2024-08-06"
    fake.state.push("rate_limit", times=2, retry_after=0.05)
    out = tmp_path / "gen.jsonl"
    generate(fake, prompts, out, "--no-cache", "--concurrency", "1")
    rows = rows_by_id(out)
    assert sorted(rows) == list(range(N))
    assert len(fake.state.requests) == N + 2  # two 429s, each retried once
    assert rows[0]["attempts"] == 3 and all(rows[i]["attempts"] == 1 for i in range(1, N))
    r = rows[5]
    assert r["response"] == "echo: Question number 5?"
    assert (r["model"], r["model_version"]) == ("gpt-4o-2024-08-06", "gpt-4o-2024-08-06")
    assert r["error"] is None and r["finish_reason"] == "stop"
    assert (r["label"], r["task"], r["original_input"]) == ("refusal", "unsafe_questions", "q5")
    text = out.read_text()
    assert not any(key in text for key in api_keys.values())


def test_quota_stops_the_run_and_a_rerun_resumes_without_repeats(fake, prompts, tmp_path
                                                                 ) -> None:
    fake.state.push("headers", times=3)  # three plain answers
    fake.state.push("quota")
    out = tmp_path / "gen.jsonl"
    with pytest.raises(UserError, match="quota"):
        generate(fake, prompts, out, "--no-cache", "--concurrency", "1")
    assert sorted(rows_by_id(out)) == [0, 1, 2]
    assert len(fake.state.requests) == 4  # the quota answer is not retried
    generate(fake, prompts, out, "--no-cache", "--concurrency", "4")
    rows = rows_by_id(out)
    assert sorted(rows) == list(range(N))
    assert len(fake.state.requests) == 4 + (N - 3)  # only the missing ones were asked
    sent = [r.body["messages"][-1]["content"] for r in fake.state.requests]
    assert len(set(sent[:3] + sent[4:])) == N


@pytest.mark.parametrize("backend, key_env", [
    ("gpt-4o", "OPENAI_API_KEY"),
    ("claude-sonnet-4.5", "ANTHROPIC_API_KEY"),
    ("gemini-2.5-flash", "GEMINI_API_KEY"),
])
@pytest.mark.parametrize("kind", ["bad_key", "forbidden"])
def test_refused_key_stops_the_run_with_one_line_then_a_rerun_resumes(
    fake, prompts, tmp_path, api_keys, backend, key_env, kind
) -> None:
    fake.state.push("headers", times=2)  # two plain answers, then the key is refused
    fake.state.push(kind)
    out = tmp_path / "gen.jsonl"
    with pytest.raises(UserError) as info:
        generate(fake, prompts, out, "--no-cache", "--concurrency", "1", backend=backend)
    message = str(info.value)
    assert message.startswith(f"{backend}: the provider refused the API key (HTTP ")
    assert f"set a valid key in {key_env}, then rerun" in message and "\n" not in message
    assert not any(key in message for key in api_keys.values())
    # no error row per prompt: the two answers, and nothing sent after the refusal
    assert sorted(rows_by_id(out)) == [0, 1]
    assert len(fake.state.requests) == 3
    generate(fake, prompts, out, "--no-cache", "--concurrency", "4", backend=backend)
    rows = rows_by_id(out)
    assert sorted(rows) == list(range(N)) and all(r["error"] is None for r in rows.values())
    assert len(fake.state.requests) == 3 + (N - 2)


def test_openai_compatible_run_sends_its_own_key_not_openais(
    fake, prompts, tmp_path, api_keys, monkeypatch
) -> None:
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", "local-test-SECRET-0006")
    out = tmp_path / "gen.jsonl"
    load_generate().main(["--backend", "openai-compatible", "--model", "qwen2.5-7b",
                          "--base-url", fake.url + "/v1", "--prompts", str(prompts),
                          "--out", str(out), "--no-progress", "--no-cache", "--limit", "2"])
    assert sorted(rows_by_id(out)) == [0, 1]
    auth = {r.headers["authorization"] for r in fake.state.requests}
    assert auth == {"Bearer local-test-SECRET-0006"}
    assert not any(api_keys["OPENAI_API_KEY"] in str(r.headers) for r in fake.state.requests)


def test_error_rows_are_redone_with_retry_errors(fake, prompts, tmp_path) -> None:
    fake.state.push("server_error", times=2, retry_after=0.01)
    out = tmp_path / "gen.jsonl"
    assert generate(fake, prompts, out, "--no-cache", "--concurrency", "1",
                    "--max-attempts", "2") == EXIT_ROWS_FAILED
    rows = rows_by_id(out)
    assert rows[0]["error"].startswith("InternalServerError")
    assert rows[0]["attempts"] == 2 and rows[0]["response"] is None
    # without the flag nothing is redone, and the run still says a row failed
    assert generate(fake, prompts, out, "--no-cache") == EXIT_ROWS_FAILED
    assert len(fake.state.requests) == N + 1
    assert generate(fake, prompts, out, "--no-cache", "--retry-errors") == 0
    rows = rows_by_id(out)
    assert len(rows) == N and rows[0]["error"] is None
    assert rows[0]["response"] == "echo: Question number 0?"
    assert len(fake.state.requests) == N + 2


def test_content_policy_refusal_is_a_row_with_the_providers_message(fake, prompts, tmp_path
                                                                     ) -> None:
    fake.state.push("bad_request", message="Flagged by the content filter.",
                    code="content_policy_violation")
    out = tmp_path / "gen.jsonl"
    assert generate(fake, prompts, out, "--no-cache", "--concurrency", "1") == 0
    r = rows_by_id(out)[0]
    assert (r["response"], r["error"]) == ("", None)
    assert r["finish_reason"] == "content_policy_violation"
    assert r["provider_message"] == "Flagged by the content filter."
    assert r["attempts"] == 1


def test_gemini_safety_block_is_an_empty_response_row(fake, prompts, tmp_path) -> None:
    fake.state.push("safety_block")
    out = tmp_path / "gen.jsonl"
    generate(fake, prompts, out, "--no-cache", "--concurrency", "1",
             backend="gemini-2.5-flash")
    rows = rows_by_id(out)
    assert (rows[0]["response"], rows[0]["error"]) == ("", None)
    assert rows[0]["finish_reason"] == "prompt_blocked:SAFETY"
    assert rows[1]["response"] == "echo: Question number 1?"


def test_rerun_into_a_new_file_is_answered_from_the_cache(fake, prompts, tmp_path) -> None:
    cache = tmp_path / "cache.sqlite"
    generate(fake, prompts, tmp_path / "a.jsonl", "--cache", str(cache))
    generate(fake, prompts, tmp_path / "b.jsonl", "--cache", str(cache))
    assert len(fake.state.requests) == N
    a, b = rows_by_id(tmp_path / "a.jsonl"), rows_by_id(tmp_path / "b.jsonl")
    assert [b[i]["response"] for i in range(N)] == [a[i]["response"] for i in range(N)]
    assert all(b[i]["cached"] for i in range(N))


def test_rate_limit_headers_make_the_runner_wait_before_a_429(fake, prompts, tmp_path) -> None:
    # the first answer says no requests are left for 400 ms: the next request waits for that
    fake.state.push("headers", headers={"x-ratelimit-remaining-requests": "0",
                                        "x-ratelimit-reset-requests": "400ms"})
    generate(fake, prompts, tmp_path / "gen.jsonl", "--no-cache", "--concurrency", "1",
             "--limit", "3")
    times = [r.at for r in fake.state.requests]
    assert len(times) == 3
    assert 0.38 <= times[1] - times[0] < 0.9
    assert times[2] - times[1] < 0.3  # later answers carry no such header


def test_anthropic_rows_through_run_requests_after_overload(fake, tmp_path) -> None:
    fake.state.push("overloaded", retry_after=0.02)
    backend = AnthropicBackend("claude-x", base_url=fake.url)
    reqs = [Request(key={"id": i, "sample": 0}, messages=[{"role": "user", "content": f"q{i}"}],
                    carry={"task": "t"}) for i in range(4)]

    async def run():
        with ResultsStore(tmp_path / "r.jsonl", key_by("id", "sample")) as store:
            try:
                return await run_requests_async(backend, reqs, store, GenerationParams(),
                                                RunOptions(concurrency=2, progress=False))
            finally:
                await backend.aclose()

    summary = asyncio.run(run())
    assert (summary.done, sum(summary.errors.values())) == (4, 0)
    rows = rows_by_id(tmp_path / "r.jsonl")
    assert sorted(r["attempts"] for r in rows.values()) == [1, 1, 1, 2]
    assert {r["response"] for r in rows.values()} == {f"echo: q{i}" for i in range(4)}
    assert json.loads(json.dumps(rows[0]))["task"] == "t"


@pytest.mark.parametrize("backend", ["gpt-4o", "claude-sonnet-4.5", "gemini-2.5-flash"])
def test_workers_flag_gives_the_rows_of_one_process(fake, prompts, tmp_path, backend) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    generate(fake, prompts, one, "--no-cache", backend=backend)
    generate(fake, prompts, two, "--no-cache", "--workers", "2", backend=backend)
    volatile = ("latency_s", "created_at")
    strip = {i: {k: v for k, v in r.items() if k not in volatile}
             for i, r in rows_by_id(two).items()}
    assert strip == {i: {k: v for k, v in r.items() if k not in volatile}
                     for i, r in rows_by_id(one).items()}
    assert len(strip) == N and len(fake.state.requests) == 2 * N


@pytest.mark.parametrize(("backend", "sends_seed"),
                         [("gpt-4o", True), ("claude-sonnet-4.5", False)])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_rows_record_the_seed_only_where_the_provider_takes_one(
        fake, prompts, tmp_path, backend, sends_seed, workers) -> None:
    out = tmp_path / "gen.jsonl"
    assert generate(fake, prompts, out, "--no-cache", "--seed", "7", "--workers", workers,
                    backend=backend) == 0
    bodies = [r.body for r in fake.state.requests]
    assert all(("seed" in b) is sends_seed for b in bodies)
    # what the row says ran is what was sent: Anthropic takes no seed, so none is recorded
    assert {r["params"]["seed"] for r in rows_by_id(out).values()} == {7 if sends_seed else None}
