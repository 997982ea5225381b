"""The shared runner: retries, Retry-After, refusals, quota, concurrency, resume, cache."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import pytest

from backends.base import (
    Backend,
    Completion,
    GenerationParams,
    KeyRejected,
    ProviderRefusal,
    QuotaExhausted,
    RateLimitState,
)
from core.errors import UserError
from harness.request import Request, RunOptions
from harness.results import ResultsStore, key_by, read_jsonl
from harness.runner import run_requests, run_requests_async


class Transient(Exception):
    def __init__(self, msg: str = "overloaded", retry_after: float | None = None) -> None:
        super().__init__(msg)
        self.after = retry_after


class BadRequest(Exception):
    pass


class FakeBackend(Backend):
    """Answers 'echo: <prompt>'; `script` maps a prompt to exceptions raised on its first calls."""

    provider = "fake"

    def __init__(self, script=None, delay: float = 0.0, batch_size: int = 1) -> None:
        super().__init__("fake-model-1")
        self.name = "fake"
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.delay = delay
        self.calls: list[str] = []
        self.call_times: list[float] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.preferred_batch_size = batch_size
        self.batches: list[int] = []
        self.state: RateLimitState | None = None

    async def complete(self, messages, params):
        prompt = messages[-1]["content"]
        self.calls.append(prompt)
        self.call_times.append(time.monotonic())
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            queued = self.script.get(prompt)
            if queued:
                raise queued.pop(0)
            return Completion(text=f"echo: {prompt}", finish_reason="stop", prompt_tokens=3,
                              completion_tokens=2, model_version="fake-model-1-v7")
        finally:
            self.in_flight -= 1

    async def complete_batch(self, batch, params):
        self.batches.append(len(batch))
        return [await self.complete(m, params) for m in batch]

    def is_retryable(self, exc):
        return isinstance(exc, Transient)

    def retry_after(self, exc):
        return getattr(exc, "after", None)

    def rate_limit_state(self):
        return self.state


def reqs(n: int, samples: int = 1) -> list[Request]:
    return [
        Request(key={"id": i, "sample": s}, messages=[{"role": "user", "content": f"p{i}"}],
                carry={"label": "refusal", "task": "unsafe_questions"})
        for i in range(n) for s in range(samples)
    ]


PARAMS = GenerationParams(temperature=0.0, max_tokens=16)
FAST = RunOptions(progress=False, backoff_initial_s=0.01, max_attempts=4)


def run(backend, requests, path, options=FAST):
    with ResultsStore(path, key_by("id", "sample")) as store:
        return run_requests(backend, requests, store, PARAMS, options)


def test_retryable_errors_are_retried_until_success(tmp_path):
    backend = FakeBackend({"p1": [Transient(), Transient()]})
    summary = run(backend, reqs(3), tmp_path / "o.jsonl")
    rows = {r["id"]: r for r in read_jsonl(tmp_path / "o.jsonl")}
    assert rows[1]["response"] == "echo: p1" and rows[1]["error"] is None
    assert rows[1]["attempts"] == 3 and rows[0]["attempts"] == 1
    assert backend.calls.count("p1") == 3
    assert summary.done == 3 and not summary.errors


def test_row_has_the_issue_fields_and_carry(tmp_path):
    run(FakeBackend(), reqs(1), tmp_path / "o.jsonl")
    (row,) = read_jsonl(tmp_path / "o.jsonl")
    assert row["id"] == 0 and row["sample"] == 0
    assert row["backend"] == "fake" and row["model"] == "fake-model-1"
    assert row["model_version"] == "fake-model-1-v7"
    assert row["input"] == "p0" and row["finish_reason"] == "stop"
    assert (row["prompt_tokens"], row["completion_tokens"]) == (3, 2)
    assert row["params"]["max_tokens"] == 16 and row["params"]["temperature"] == 0.0
    assert row["label"] == "refusal" and row["task"] == "unsafe_questions"
    assert row["latency_s"] >= 0 and row["created_at"].endswith("+00:00")


def test_retry_after_is_honoured(tmp_path):
    backend = FakeBackend({"p0": [Transient("429", retry_after=0.4)]})
    run(backend, reqs(1), tmp_path / "o.jsonl")
    gap = backend.call_times[1] - backend.call_times[0]
    # the exponential back-off alone would wait ~0.01-1 s at random; Retry-After fixes >= 0.4
    assert 0.4 <= gap < 0.6


def test_retries_give_up_after_max_attempts_with_an_error_row(tmp_path):
    backend = FakeBackend({"p0": [Transient("busy")] * 10})
    summary = run(backend, reqs(2), tmp_path / "o.jsonl")
    rows = {r["id"]: r for r in read_jsonl(tmp_path / "o.jsonl")}
    assert backend.calls.count("p0") == 4
    assert rows[0]["attempts"] == 4 and rows[0]["error"] == "Transient: busy"
    assert summary.errors == Counter({"Transient": 1})


def test_non_retryable_error_is_an_error_row_without_retry(tmp_path):
    backend = FakeBackend({"p0": [BadRequest("400: bad parameter")]})
    summary = run(backend, reqs(2), tmp_path / "o.jsonl")
    rows = {r["id"]: r for r in read_jsonl(tmp_path / "o.jsonl")}
    assert backend.calls.count("p0") == 1
    assert rows[0]["error"] == "BadRequest: 400: bad parameter" and rows[0]["response"] is None
    assert rows[0]["error_kind"] == "BadRequest" and rows[1]["error"] is None
    assert summary.errors == Counter({"BadRequest": 1}) and summary.done == 2


def test_provider_refusal_is_a_row_with_the_message(tmp_path):
    backend = FakeBackend({"p0": [ProviderRefusal("blocked: SAFETY", finish_reason="SAFETY")]})
    summary = run(backend, reqs(1), tmp_path / "o.jsonl")
    (row,) = read_jsonl(tmp_path / "o.jsonl")
    assert row["response"] == "" and row["finish_reason"] == "SAFETY"
    assert row["provider_message"] == "blocked: SAFETY" and row["error"] is None
    assert summary.refused == 1 and len(backend.calls) == 1


def test_quota_exhausted_stops_the_run_with_a_user_error(tmp_path):
    backend = FakeBackend({"p0": [QuotaExhausted("insufficient_quota")]}, delay=0.05)
    with pytest.raises(UserError, match="quota"):
        run(backend, reqs(40), tmp_path / "o.jsonl", RunOptions(progress=False, concurrency=1))
    # stopped at the first request: nothing else was sent
    assert backend.calls == ["p0"]


@pytest.mark.parametrize("batch_size", [1, 4])
def test_rejected_key_stops_the_run_with_one_line_naming_the_variable(tmp_path, batch_size):
    backend = FakeBackend({"p0": [KeyRejected("invalid x-api-key", key_env="ANTHROPIC_API_KEY",
                                              status=401)]}, delay=0.05, batch_size=batch_size)
    with pytest.raises(UserError) as info:
        run(backend, reqs(40), tmp_path / "o.jsonl", RunOptions(progress=False, concurrency=1))
    message = str(info.value)
    assert message == ("fake: the provider refused the API key (HTTP 401: invalid x-api-key); "
                       "set a valid key in ANTHROPIC_API_KEY, then rerun the same command to "
                       "resume")
    # one request, not one error row per prompt, and no retry of a key that cannot work
    assert backend.calls == ["p0"] and backend.batches == ([] if batch_size == 1 else [4])
    assert not (tmp_path / "o.jsonl").exists()  # no rows, and no empty results file


def test_concurrency_bound_is_respected(tmp_path):
    backend = FakeBackend(delay=0.02)
    opts = RunOptions(progress=False, concurrency=5)
    t0 = time.monotonic()
    run(backend, reqs(40), tmp_path / "o.jsonl", opts)
    assert backend.max_in_flight == 5
    # 40 requests, 5 at a time, 20 ms each: ~0.16 s; one at a time would take 0.8 s
    assert time.monotonic() - t0 < 0.6


def test_rpm_limit_spaces_requests(tmp_path):
    backend = FakeBackend()
    opts = RunOptions(progress=False, concurrency=10, rpm=600)  # 10 a second
    run(backend, reqs(6), tmp_path / "o.jsonl", opts)
    span = backend.call_times[-1] - backend.call_times[0]
    assert span >= 0.4  # 6 requests at 10/s, at most one burst


def test_nearly_spent_rate_limit_pauses_until_reset(tmp_path):
    backend = FakeBackend()
    backend.state = RateLimitState(remaining_requests=1, reset_requests_s=0.3)
    opts = RunOptions(progress=False, concurrency=1)
    run(backend, reqs(2), tmp_path / "o.jsonl", opts)
    assert backend.call_times[1] - backend.call_times[0] >= 0.3


def test_resume_after_cancel_loses_and_doubles_nothing(tmp_path):
    path = tmp_path / "o.jsonl"
    backend = FakeBackend(delay=0.01)
    requests = reqs(30, samples=2)

    async def interrupted() -> None:
        with ResultsStore(path, key_by("id", "sample")) as store:
            task = asyncio.ensure_future(run_requests_async(
                backend, requests, store, PARAMS, RunOptions(progress=False, concurrency=4)))
            while len(store) < 20:
                await asyncio.sleep(0.005)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(interrupted())
    first = list(read_jsonl(path))
    assert 20 <= len(first) < 60
    calls_before = len(backend.calls)
    summary = run(backend, requests, path)
    rows = list(read_jsonl(path))
    keys = [(r["id"], r["sample"]) for r in rows]
    assert sorted(keys) == sorted((i, s) for i in range(30) for s in range(2))
    assert len(set(keys)) == len(keys) == 60
    assert summary.skipped == len(first) and summary.done == 60 - len(first)
    # the second run sent only what the first had not finished (in-flight ones are redone)
    assert len(backend.calls) - calls_before == 60 - len(first)


def test_retry_errors_redoes_only_error_rows(tmp_path):
    path = tmp_path / "o.jsonl"
    run(FakeBackend({"p1": [BadRequest("nope")]}), reqs(3), path)
    again = FakeBackend()
    summary = run(again, reqs(3), path)
    assert again.calls == [] and summary.skipped == 3  # errors count as done without the flag
    summary = run(again, reqs(3), path, RunOptions(progress=False, retry_errors=True))
    assert again.calls == ["p1"] and summary.done == 1
    rows = list(read_jsonl(path))
    assert len(rows) == 3 and all(r["error"] is None for r in rows)


def test_cache_hit_costs_no_backend_call(tmp_path):
    cache = tmp_path / "cache" / "responses.sqlite"
    opts = RunOptions(progress=False, cache_path=cache)
    first = FakeBackend()
    run(first, reqs(3), tmp_path / "a.jsonl", opts)
    second = FakeBackend()
    summary = run(second, reqs(4), tmp_path / "b.jsonl", opts)
    assert second.calls == ["p3"]
    rows = {r["id"]: r for r in read_jsonl(tmp_path / "b.jsonl")}
    assert rows[0]["cached"] is True and rows[0]["response"] == "echo: p0"
    assert rows[3]["cached"] is False and summary.cached == 3
    # another sample index is another request
    third = FakeBackend()
    run(third, [Request(key={"id": 0, "sample": 1}, messages=[{"role": "user", "content": "p0"}])],
        tmp_path / "c.jsonl", opts)
    assert third.calls == ["p0"]


def test_error_rows_are_not_cached(tmp_path):
    cache = tmp_path / "c.sqlite"
    opts = RunOptions(progress=False, cache_path=cache)
    run(FakeBackend({"p0": [BadRequest("x")]}), reqs(1), tmp_path / "a.jsonl", opts)
    second = FakeBackend()
    run(second, reqs(1), tmp_path / "b.jsonl", opts)
    assert second.calls == ["p0"]


def test_batching_backend_gets_grouped_requests(tmp_path):
    backend = FakeBackend(batch_size=4)
    run(backend, reqs(10), tmp_path / "o.jsonl")
    assert backend.batches == [4, 4, 2]
    rows = list(read_jsonl(tmp_path / "o.jsonl"))
    assert sorted(r["id"] for r in rows) == list(range(10))


def test_summary_counts_tokens_and_cost(tmp_path):
    opts = RunOptions(progress=False, price_per_1m=(2.0, 10.0))
    summary = run(FakeBackend(), reqs(5), tmp_path / "o.jsonl", opts)
    assert (summary.prompt_tokens, summary.completion_tokens) == (15, 10)
    assert summary.cost_usd == pytest.approx((15 * 2.0 + 10 * 10.0) / 1e6)
    text = summary.format()
    assert "done: 5" in text and "errors: 0" in text and "$0.0001" in text


def test_rows_are_flushed_as_they_complete(tmp_path):
    path = tmp_path / "o.jsonl"
    seen: list[int] = []

    class Watching(FakeBackend):
        async def complete(self, messages, params):
            seen.append(len(path.read_text().splitlines()) if path.exists() else 0)
            return await super().complete(messages, params)

    run(Watching(), reqs(4), path, RunOptions(progress=False, concurrency=1))
    assert seen == [0, 1, 2, 3]
    assert [json.loads(x)["id"] for x in path.read_text().splitlines()] == [0, 1, 2, 3]


def test_batches_group_requests_with_the_same_parameters(tmp_path):
    backend = FakeBackend(batch_size=4)
    requests = [
        Request(key={"id": i, "sample": s}, messages=[{"role": "user", "content": f"p{i}"}],
                params=GenerationParams(temperature=1.0, seed=10 + s))
        for i in range(6) for s in range(2)
    ]
    run(backend, requests, tmp_path / "o.jsonl")
    # 6 prompts x 2 sample seeds: two groups of 6, each in batches of 4 and 2
    assert sorted(backend.batches) == [2, 2, 4, 4]
    rows = list(read_jsonl(tmp_path / "o.jsonl"))
    assert {(r["id"], r["sample"], r["params"]["seed"]) for r in rows} == {
        (i, s, 10 + s) for i in range(6) for s in range(2)}


def test_retry_after_holds_back_the_other_requests_too(tmp_path):
    backend = FakeBackend({"p0": [Transient("429", retry_after=0.5)]}, delay=0.05)
    run(backend, reqs(4), tmp_path / "o.jsonl", RunOptions(progress=False, concurrency=2))
    t_429 = backend.call_times[0]
    # p1 was already in flight; p2 and p3 start only after the 0.5 s the provider asked for
    later = [t for p, t in zip(backend.calls, backend.call_times, strict=True) if p in ("p2", "p3")]
    assert all(t - t_429 >= 0.5 for t in later)


def test_cache_tells_other_repeat_indices_apart(tmp_path):
    opts = RunOptions(progress=False, cache_path=tmp_path / "c.sqlite")
    msgs = [{"role": "user", "content": "judge this"}]

    def judge_reqs():
        return [Request(key={"id": 7, "sample": 0, "eval": e}, messages=msgs) for e in range(2)]

    first = FakeBackend()
    with ResultsStore(tmp_path / "a.jsonl", key_by("id", "sample", "eval")) as store:
        run_requests(first, judge_reqs(), store, PARAMS, opts)
    assert first.calls == ["judge this", "judge this"]  # eval 1 is not eval 0's cache hit
    second = FakeBackend()
    with ResultsStore(tmp_path / "b.jsonl", key_by("id", "sample", "eval")) as store:
        summary = run_requests(second, judge_reqs(), store, PARAMS, opts)
    assert second.calls == [] and summary.cached == 2


def test_pending_requests_returns_sample_1_of_a_prompt_whose_sample_0_is_done(tmp_path):
    from harness.request import pending_requests

    with ResultsStore(tmp_path / "o.jsonl", key_by("id", "sample")) as store:
        store.append({"id": 0, "sample": 0, "response": "done", "error": None})
        store.append({"id": 1, "sample": 1, "response": None, "error": "Timeout: x"})
        todo, skipped = pending_requests(reqs(2, samples=2), store, retry_errors=False)
        assert [(r.key["id"], r.key["sample"]) for r in todo] == [(0, 1), (1, 0)]
        assert skipped == 2
        todo, skipped = pending_requests(reqs(2, samples=2), store, retry_errors=True)
        assert [(r.key["id"], r.key["sample"]) for r in todo] == [(0, 1), (1, 0), (1, 1)]
        assert skipped == 1


def test_requests_differing_only_in_their_own_params_do_not_share_a_cache_entry(tmp_path):
    """A per-request seed (a second sample's seed + 1, say) changes the answer, so it must
    change the cache key: the second run below must ask the backend, not read the cache."""
    cache = tmp_path / "c.sqlite"
    options = RunOptions(progress=False, backoff_initial_s=0.01, cache_path=cache)

    def one(seed: int) -> list[Request]:
        return [Request(key={"id": 0, "sample": 0}, messages=[{"role": "user", "content": "p0"}],
                        params=GenerationParams(temperature=1.0, max_tokens=16, seed=seed))]

    first, second, again = FakeBackend(), FakeBackend(), FakeBackend()
    run(first, one(1), tmp_path / "a.jsonl", options)
    run(second, one(2), tmp_path / "b.jsonl", options)
    run(again, one(1), tmp_path / "c.jsonl", options)
    assert first.calls == ["p0"] and second.calls == ["p0"]
    assert again.calls == []  # the same request, seed included: read back from the cache
    assert next(iter(read_jsonl(tmp_path / "c.jsonl")))["cached"] is True
