"""harness.limits: limits read from headers, split token reservations, requests in flight."""

from __future__ import annotations

import argparse
import asyncio
import time

import pytest

from backends.anthropic_batch import AnthropicBatch
from backends.anthropic_messages import anthropic_rate_limit_state
from backends.base import Backend, Completion, GenerationParams, RateLimitState
from backends.openai_batch import OpenAIBatch
from backends.openai_chat import openai_rate_limit_state
from backends.registry import get_spec
from harness.batch_queue import queue_note, queue_was_full
from harness.limits import (
    DEFAULT_MAX_IN_FLIGHT,
    InFlightGate,
    Limits,
    Pacer,
    PacingPlan,
    announced_limits,
)
from harness.request import Request, RunOptions
from harness.request_cli import add_request_arguments, request_options
from harness.results import ResultsStore, key_by
from harness.runner import run_requests


def test_openai_headers_give_requests_and_tokens_a_minute() -> None:
    state = openai_rate_limit_state({"x-ratelimit-limit-requests": "10000",
                                     "x-ratelimit-limit-tokens": "2000000",
                                     "x-ratelimit-remaining-requests": "9999"})
    assert announced_limits(state) == Limits(rpm=10000, tpm=2000000)


def test_anthropic_headers_keep_input_and_output_tokens_apart() -> None:
    state = anthropic_rate_limit_state({"anthropic-ratelimit-requests-limit": "4000",
                                        "anthropic-ratelimit-tokens-limit": "80000",
                                        "anthropic-ratelimit-input-tokens-limit": "400000",
                                        "anthropic-ratelimit-output-tokens-limit": "80000"})
    # the combined tokens-limit is the tighter of the two: the two are kept instead
    assert announced_limits(state) == Limits(rpm=4000, input_tpm=400000, output_tpm=80000)


def test_headers_without_limits_announce_nothing() -> None:
    assert announced_limits(RateLimitState(remaining_requests=5)) is None
    assert announced_limits(None) is None


def test_output_tokens_are_reserved_against_the_output_limit_only() -> None:
    async def main() -> tuple[bool, bool]:
        # 60 output tokens a minute: a bucket of 10; input tokens plentiful
        pacer = Pacer(PacingPlan(Limits(input_tpm=6e6, output_tpm=60.0)))
        await pacer.acquire(1010, output_tokens=10)  # 1,000 in, 10 out: fits
        big_input = asyncio.ensure_future(pacer.acquire(5000, output_tokens=0))
        await asyncio.sleep(0.05)
        more_output = asyncio.ensure_future(pacer.acquire(10, output_tokens=10))
        await asyncio.sleep(0.1)
        done = (big_input.done(), more_output.done())
        more_output.cancel()
        return done

    # a big input passes at once (its own limit has room); more output must wait
    assert asyncio.run(main()) == (True, False)


def test_in_flight_follows_littles_law_within_the_cap() -> None:
    pacer = Pacer(PacingPlan(Limits(rpm=6000.0), max_in_flight=1000))
    assert pacer.in_flight_limit() == 8  # no latency seen yet
    pacer.latency_s = 2.0  # 100 requests a second x 2 s = 200 needed, with headroom 302
    assert pacer.in_flight_limit() == 302
    pacer.latency_s = 60.0
    assert pacer.in_flight_limit() == 1000
    unlimited = Pacer(PacingPlan(Limits(), max_in_flight=32))
    assert unlimited.in_flight_limit() == 32  # no rate to pace by: the cap itself


def test_gate_lets_more_in_when_it_grows() -> None:
    async def main() -> list[int]:
        gate = InFlightGate(1)
        seen: list[int] = []

        async def hold() -> None:
            async with gate:
                seen.append(gate.active)
                await asyncio.sleep(0.1)

        tasks = [asyncio.ensure_future(hold()) for _ in range(3)]
        await asyncio.sleep(0.02)
        gate.resize(3)
        await asyncio.gather(*tasks)
        return seen

    assert max(asyncio.run(main())) == 3


class Slow(Backend):
    """Answers after `delay` s and announces `rpm` (and tokens to spare), counting requests
    in flight."""

    provider = "fake"

    def __init__(self, delay: float, rpm: int) -> None:
        super().__init__("slow-1")
        self.delay, self.rpm = delay, rpm
        self.in_flight = self.max_in_flight = 0

    async def complete(self, messages, params):
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            return Completion(text="ok")
        finally:
            self.in_flight -= 1

    def rate_limit_state(self):
        return RateLimitState(limit_requests=self.rpm, limit_tokens=100 * self.rpm)


def test_default_concurrency_does_not_hold_back_a_high_limit(tmp_path) -> None:
    # 12,000 a minute (200/s) at 0.3 s each needs ~60 in flight: the old default of 8
    # would manage 27 a second
    args = argparse.ArgumentParser()
    add_request_arguments(args)
    opts = request_options(args.parse_args(["--no-progress", "--no-cache"]), get_spec("gpt-4o"),
                           desc="t")
    assert opts.concurrency == DEFAULT_MAX_IN_FLIGHT and opts.learn_rpm
    backend = Slow(delay=0.3, rpm=12000)
    reqs = [Request(key={"id": i, "sample": 0}, messages=[{"role": "user", "content": "q"}])
            for i in range(300)]
    t0 = time.monotonic()
    with ResultsStore(tmp_path / "o.jsonl", key_by("id", "sample")) as store:
        summary = run_requests(backend, reqs, store, GenerationParams(max_tokens=16), opts)
    wall = time.monotonic() - t0
    assert summary.done == 300 and not summary.errors
    assert backend.max_in_flight >= 40
    assert wall < 4.5  # 300 at 200/s: ~1.8 s (at 8 in flight: 11 s)
    assert summary.limits["in_flight_limit"] < DEFAULT_MAX_IN_FLIGHT  # grown, not flooded


@pytest.mark.parametrize("given", ["--rpm", "--tpm"])
def test_a_flag_fixes_only_its_own_limit(given: str) -> None:
    args = argparse.ArgumentParser()
    add_request_arguments(args)
    opts = request_options(args.parse_args([given, "100"]), get_spec("gpt-4o"), desc="t")
    assert (opts.learn_rpm, opts.learn_tpm) == (given != "--rpm", given != "--tpm")


def test_run_options_default_learns() -> None:
    assert RunOptions().learn_rpm and RunOptions().learn_tpm


def test_batch_queue_binds_where_the_run_outgrows_a_tier_1_queue() -> None:
    # the study's 10,314 prompts, ~120 input tokens each, through gpt-4o's batch API
    model = "gpt-4o-2024-11-20"
    note = queue_note(OpenAIBatch.queue(model), model, 10314, 1_240_000)
    assert "the batch queue, not the rate limit, binds" in note
    assert "90,000 input tokens" in note and "about 748 requests at a time" in note
    assert "(token_limit_exceeded)" in note
    assert "neither limit binds" in queue_note(AnthropicBatch.queue("claude-x"), "claude-x",
                                               10314, 1_240_000)
    unknown = queue_note(OpenAIBatch.queue("o9-preview"), "o9-preview", 10, 100)
    assert "what binds is the account's batch queue for o9-preview" in unknown
    assert queue_note(None, "gemini-2.5-flash", 10, 100) is None  # no batch API, no queue
    openai = OpenAIBatch.queue(model)
    assert queue_was_full("token_limit_exceeded: Enqueued token limit reached for gpt-4o", openai)
    assert not queue_was_full("invalid_json_line: line 1 is not valid", openai)
    assert not queue_was_full("token_limit_exceeded", None)
