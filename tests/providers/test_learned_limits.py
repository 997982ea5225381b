"""Rate limits learned from the provider's headers (harness.limits) with the real SDK clients.

The fake provider announces its requests-per-minute limit in OpenAI's or Anthropic's
headers; the runner starts from a slow registry-like limit and should adopt the announced
one after the first answer, unless the user gave --rpm, follow a drop in mid-run, and keep
its own limit where no headers come (Gemini, most OpenAI-compatible servers).
"""

from __future__ import annotations

import asyncio
import csv
import importlib.util
import json
from pathlib import Path

import pytest

from backends.anthropic_messages import AnthropicBackend
from backends.base import Backend, GenerationParams
from backends.gemini import GeminiBackend
from backends.openai_chat import OpenAIChatBackend
from harness.request import Request, RunOptions, RunSummary
from harness.results import ResultsStore, key_by
from harness.runner import run_requests_async
from tests.fakes.server import FakeServer

REPO = Path(__file__).resolve().parents[2]
PARAMS = GenerationParams(temperature=0.0, max_tokens=16)
#: a registry-like limit slow enough that a run keeping to it is plain to see (one request
#: every ~2 s)
SLOW_RPM = 30.0


def reqs(n: int) -> list[Request]:
    return [Request(key={"id": i, "sample": 0},
                    messages=[{"role": "user", "content": f"Question {i}?"}]) for i in range(n)]


def run(backend: Backend, n: int, tmp_path: Path, **options) -> RunSummary:
    async def main() -> RunSummary:
        with ResultsStore(tmp_path / "rows.jsonl", key_by("id", "sample")) as store:
            try:
                return await run_requests_async(backend, reqs(n), store, PARAMS,
                                                RunOptions(progress=False, **options))
            finally:
                await backend.aclose()

    return asyncio.run(main())


def gaps(fake: FakeServer) -> list[float]:
    times = [r.at for r in fake.state.requests]
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def openai(fake: FakeServer) -> OpenAIChatBackend:
    return OpenAIChatBackend("gpt-4o", base_url=fake.url + "/v1")


def anthropic(fake: FakeServer) -> AnthropicBackend:
    return AnthropicBackend("claude-x", base_url=fake.url)


@pytest.mark.parametrize("make", [openai, anthropic], ids=["openai", "anthropic"])
def test_the_announced_limit_replaces_the_slow_one_after_the_first_answer(
        fake: FakeServer, tmp_path: Path, make, capsys) -> None:
    fake.state.rpm, fake.state.announce = 6000, True
    summary = run(make(fake), 6, tmp_path, rpm=SLOW_RPM)
    assert summary.done == 6 and not summary.errors
    # at 30 rpm the six would take ~10 s; at the announced 6,000 a fraction of a second
    assert sum(gaps(fake)) < 2.0
    assert summary.limits["final"] == {"rpm": 6000.0}
    assert summary.limits["given"] == {"rpm": SLOW_RPM} and summary.limits["learned"]
    err = capsys.readouterr().err
    # told once, with the time the rest takes at that limit
    assert err.count("rate limits: the provider announces 6,000 requests a minute") == 1
    assert "requests left take about" in err
    assert "rate limits learned from the provider: 6,000 requests a minute" in summary.format()


def test_anthropic_input_and_output_token_limits_are_learned_apart(
        fake: FakeServer, tmp_path: Path) -> None:
    headers = {"anthropic-ratelimit-requests-limit": "4000",
               "anthropic-ratelimit-input-tokens-limit": "400000",
               "anthropic-ratelimit-output-tokens-limit": "80000",
               "anthropic-ratelimit-tokens-limit": "80000"}
    fake.state.push("headers", times=4, headers=headers)
    # the registry's combined 600 tokens a minute would hold 4 requests of ~22 tokens for
    # seconds; the learned split limits let them through at once
    summary = run(anthropic(fake), 4, tmp_path, rpm=SLOW_RPM, tpm=60.0)
    assert summary.limits["final"] == {"rpm": 4000.0, "input_tpm": 400000.0,
                                       "output_tpm": 80000.0}
    assert sum(gaps(fake)) < 2.0


def test_a_limit_given_as_a_flag_is_kept(fake: FakeServer, tmp_path: Path, capsys) -> None:
    fake.state.rpm, fake.state.announce = 6000, True
    prompts = tmp_path / "prompts.csv"
    with prompts.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, ["id", "input", "label", "task"])
        w.writeheader()
        w.writerows({"id": i, "input": f"Question {i}?", "label": "refusal",
                     "task": "unsafe_questions"} for i in range(3))
    spec = importlib.util.spec_from_file_location("generate_script",
                                                  REPO / "scripts" / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    generate.main(["--backend", "gpt-4o", "--base-url", fake.url + "/v1", "--prompts",
                   str(prompts), "--out", str(tmp_path / "gen.jsonl"), "--no-progress",
                   "--no-cache", "--rpm", "120"])
    # 120 a minute: one every ~0.5 s, though the provider announces 6,000
    assert len(fake.state.requests) == 3
    assert min(gaps(fake)) >= 0.4
    assert "the provider announces" not in capsys.readouterr().err


def test_a_drop_in_mid_run_is_followed_down(fake: FakeServer, tmp_path: Path, capsys) -> None:
    # the provider's limit falls from 6,000 to 120 a minute after the 4th request
    fake.state.rpm, fake.state.announce = 6000, True
    fake.state.drop_after, fake.state.drop_to = 4, 120
    summary = run(openai(fake), 9, tmp_path, rpm=SLOW_RPM, max_attempts=1, concurrency=2)
    assert summary.done == 9 and not summary.errors and fake.state.rejected_429 == 0
    assert summary.limits["final"] == {"rpm": 120.0}
    assert [h.get("rpm") for h in summary.limits["history"]] == [SLOW_RPM, 6000.0, 120.0]
    # the last requests keep to 120 a minute (one every ~0.5 s)
    assert min(gaps(fake)[-3:]) >= 0.4
    assert "the provider changed its limits to 120 requests a minute" in capsys.readouterr().err


@pytest.mark.parametrize("which", ["openai-compatible", "gemini"])
def test_without_headers_the_given_limit_stays(fake: FakeServer, tmp_path: Path,
                                               which: str) -> None:
    fake.state.rpm = 6000  # enforced but not announced (a compatible server), or Gemini
    fake.state.announce = which == "gemini"  # the fake sends Gemini no rate-limit headers
    backend = (GeminiBackend("gemini-2.5-flash", base_url=fake.url) if which == "gemini"
               else openai(fake))
    summary = run(backend, 4, tmp_path, rpm=120.0)
    assert summary.done == 4 and not summary.errors
    # one every ~0.5 s (the first answer's arrival also waits for the client to start)
    assert min(gaps(fake)[1:]) >= 0.4
    assert summary.limits["final"] == {"rpm": 120.0} and not summary.limits["learned"]
    assert json.dumps(summary.limits)  # the record is plain JSON for the run's metadata


def test_a_compatible_servers_limit_headers_are_not_adopted(fake: FakeServer,
                                                             tmp_path: Path) -> None:
    # some OpenAI-compatible services count x-ratelimit-limit-requests per day, not per minute
    fake.state.rpm, fake.state.announce = 6000, True
    backend = OpenAIChatBackend("my-model", base_url=fake.url + "/v1", api_key_optional=True)
    summary = run(backend, 3, tmp_path, rpm=120.0)
    assert min(gaps(fake)[1:]) >= 0.4
    assert summary.limits["final"] == {"rpm": 120.0} and not summary.limits["learned"]
