"""Benchmark: the runner at concurrency 32 vs a one-request-at-a-time loop, hosted API.

    python benchmarks/bench_api_concurrency.py [--n 2000] [--latency 0.05] [--concurrency 32]
                                               [--workers 2]

A fake OpenAI server on 127.0.0.1 (its own process) answers every request after a fixed
latency. Every mode uses the real openai client through OpenAIChatBackend and writes one
JSONL row per answer; the loop is what the studies did (send, wait, write, next). The third
mode is the runner with its calls spread over worker processes (`--workers`). Each mode first
sends a warm-up round that is not timed (the SDK's import, the worker processes' start, the
connections' opening: once per run, not per request), then the timed prompts, all side by
side in one run. Target: the runner at least 20x faster than the loop.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import tempfile
import time
from pathlib import Path

from backends.base import Backend, GenerationParams
from backends.openai_chat import OpenAIChatBackend
from harness.request import Request, RunOptions
from harness.results import ResultsStore, key_by, read_jsonl
from harness.runner import run_requests_async
from harness.workers import WorkerPool
from tests.fakes.server import FakeServerProcess

PARAMS = GenerationParams(temperature=0.0, max_tokens=64)


def build_requests(n: int, first_id: int = 0) -> list[Request]:
    return [Request(key={"id": i, "sample": 0},
                    messages=[{"role": "user", "content": f"Should policy {i} change, and why?"}])
            for i in range(first_id, first_id + n)]


def run_concurrent(url: str, reqs: list[Request], out: Path, concurrency: int,
                   workers: int = 1) -> tuple[float, float]:
    """(timed wall seconds, warm-up wall seconds)."""
    make = functools.partial(OpenAIChatBackend, "gpt-4o", base_url=url + "/v1", timeout_s=30)
    backend: Backend = make() if workers <= 1 else WorkerPool(make(), make, workers)
    options = RunOptions(concurrency=concurrency, progress=False)
    warm_up = build_requests(concurrency, first_id=len(reqs))

    async def run() -> tuple[float, float]:
        try:
            t0 = time.perf_counter()
            with ResultsStore(out.with_suffix(".warm-up.jsonl"), key_by("id", "sample")) as s:
                await run_requests_async(backend, warm_up, s, PARAMS, options)
            t1 = time.perf_counter()
            with ResultsStore(out, key_by("id", "sample")) as store:
                summary = await run_requests_async(backend, reqs, store, PARAMS, options)
            t2 = time.perf_counter()
        finally:
            await backend.aclose()
        assert summary.done == len(reqs) and not summary.errors, summary.format()
        return t2 - t1, t1 - t0

    return asyncio.run(run())


def run_one_at_a_time(url: str, reqs: list[Request], out: Path) -> float:
    backend = OpenAIChatBackend("gpt-4o", base_url=url + "/v1", timeout_s=30)

    async def loop() -> float:
        await backend.complete(build_requests(1, first_id=len(reqs))[0].messages, PARAMS)
        t0 = time.perf_counter()
        with ResultsStore(out, key_by("id", "sample")) as store:
            for req in reqs:
                t = time.perf_counter()
                c = await backend.complete(req.messages, PARAMS)
                store.append({**req.key, "response": c.text, "error": None,
                              "latency_s": time.perf_counter() - t})
        wall = time.perf_counter() - t0
        await backend.aclose()
        return wall

    return asyncio.run(loop())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2000, help="prompts (default 2000)")
    p.add_argument("--latency", type=float, default=0.05, help="server latency, s (0.05)")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--workers", type=int, default=2,
                   help="worker processes for the third mode (default 2; 1 skips it)")
    args = p.parse_args()
    os.environ["OPENAI_API_KEY"] = "bench-not-a-real-key"  # only ever sent to 127.0.0.1
    os.environ.pop("OPENAI_BASE_URL", None)
    reqs = build_requests(args.n)
    modes: dict[str, tuple[float, float]] = {}
    with FakeServerProcess(latency_s=args.latency) as server, \
            tempfile.TemporaryDirectory() as tmp:
        modes[f"runner, concurrency {args.concurrency}"] = run_concurrent(
            server.url, reqs, Path(tmp) / "runner.jsonl", args.concurrency)
        if args.workers > 1:
            modes[f"  same, {args.workers} worker processes"] = run_concurrent(
                server.url, reqs, Path(tmp) / "workers.jsonl", args.concurrency, args.workers)
        slow = run_one_at_a_time(server.url, reqs, Path(tmp) / "loop.jsonl")
        files = ["runner.jsonl", "workers.jsonl"][:len(modes)] + ["loop.jsonl"]
        rows = [sum(1 for _ in read_jsonl(Path(tmp) / f)) for f in files]
    print(f"{args.n} prompts, server latency {args.latency * 1000:.0f} ms")
    print(f"{'mode':<36}{'wall s':>9}{'req/s':>9}{'rows':>7}{'speed-up':>10}{'warm-up s':>11}")
    print(f"{'one at a time':<36}{slow:>9.2f}{args.n / slow:>9.1f}{rows[-1]:>7}")
    for (mode, (wall, warm)), n_rows in zip(modes.items(), rows, strict=False):
        print(f"{mode:<36}{wall:>9.2f}{args.n / wall:>9.1f}{n_rows:>7}{slow / wall:>9.1f}x"
              f"{warm:>11.2f}")
    best = slow / min(wall for wall, _ in modes.values())
    print(f"best speed-up: {best:.1f}x (target >= 20x: {'met' if best >= 20 else 'NOT met'})")


if __name__ == "__main__":
    main()
