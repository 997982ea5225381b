"""Benchmark: the runner at concurrency 32 vs a one-request-at-a-time loop, hosted API.

    python benchmarks/bench_api_concurrency.py [--n 2000] [--latency 0.05] [--concurrency 32]

A fake OpenAI server on 127.0.0.1 (its own process) answers every request after a fixed
latency. Both modes use the real openai client through OpenAIChatBackend and write one JSONL
row per answer; the loop is what the studies did (send, wait, write, next). Measured side by
side in one run. Target: the runner at least 20x faster.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from backends.base import GenerationParams
from backends.openai_chat import OpenAIChatBackend
from harness.results import ResultsStore, key_by, read_jsonl
from harness.runner import Request, RunOptions, RunSummary, run_requests_async
from tests.fakes.server import FakeServerProcess

PARAMS = GenerationParams(temperature=0.0, max_tokens=64)


def build_requests(n: int) -> list[Request]:
    return [Request(key={"id": i, "sample": 0},
                    messages=[{"role": "user", "content": f"Should policy {i} change, and why?"}])
            for i in range(n)]


def run_concurrent(url: str, reqs: list[Request], out: Path, concurrency: int) -> float:
    backend = OpenAIChatBackend("gpt-4o", base_url=url + "/v1", timeout_s=30)

    async def run() -> RunSummary:
        with ResultsStore(out, key_by("id", "sample")) as store:
            try:
                return await run_requests_async(
                    backend, reqs, store, PARAMS, RunOptions(concurrency=concurrency,
                                                             progress=False))
            finally:
                await backend.aclose()

    t0 = time.perf_counter()
    summary = asyncio.run(run())
    wall = time.perf_counter() - t0
    assert summary.done == len(reqs) and not summary.errors, summary.format()
    return wall


def run_one_at_a_time(url: str, reqs: list[Request], out: Path) -> float:
    backend = OpenAIChatBackend("gpt-4o", base_url=url + "/v1", timeout_s=30)

    async def loop() -> None:
        with ResultsStore(out, key_by("id", "sample")) as store:
            for req in reqs:
                t = time.perf_counter()
                c = await backend.complete(req.messages, PARAMS)
                store.append({**req.key, "response": c.text, "error": None,
                              "latency_s": time.perf_counter() - t})
        await backend.aclose()

    t0 = time.perf_counter()
    asyncio.run(loop())
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2000, help="prompts (default 2000)")
    p.add_argument("--latency", type=float, default=0.05, help="server latency, s (0.05)")
    p.add_argument("--concurrency", type=int, default=32)
    args = p.parse_args()
    os.environ["OPENAI_API_KEY"] = "bench-not-a-real-key"  # only ever sent to 127.0.0.1
    os.environ.pop("OPENAI_BASE_URL", None)
    reqs = build_requests(args.n)
    with FakeServerProcess(latency_s=args.latency) as server, \
            tempfile.TemporaryDirectory() as tmp:
        fast = run_concurrent(server.url, reqs, Path(tmp) / "runner.jsonl", args.concurrency)
        slow = run_one_at_a_time(server.url, reqs, Path(tmp) / "loop.jsonl")
        rows = [sum(1 for _ in read_jsonl(Path(tmp) / f)) for f in ("runner.jsonl", "loop.jsonl")]
    print(f"{args.n} prompts, server latency {args.latency * 1000:.0f} ms")
    print(f"{'mode':<28}{'wall s':>9}{'req/s':>9}{'rows':>7}")
    print(f"{'one at a time':<28}{slow:>9.2f}{args.n / slow:>9.1f}{rows[1]:>7}")
    print(f"{f'runner, concurrency {args.concurrency}':<28}{fast:>9.2f}"
          f"{args.n / fast:>9.1f}{rows[0]:>7}")
    speedup = slow / fast
    print(f"speed-up: {speedup:.1f}x (target >= 20x: {'met' if speedup >= 20 else 'NOT met'})")


if __name__ == "__main__":
    main()
