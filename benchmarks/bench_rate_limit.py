"""Benchmark: the runner against a server enforcing a requests-per-minute limit.

    python benchmarks/bench_rate_limit.py [--rpm 1200] [--n 1300] [--concurrency 32]

A fake OpenAI server on 127.0.0.1 (its own process) answers 429 to any request past `rpm`
in a sliding 60 s window. The runner, told the same limit (`--rpm`), should keep under it
without a single 429 while still using at least 90 % of it. `n` is a little more than one
minute's worth, so the window is full when the last requests go out (about 65 s).
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rpm", type=float, default=1200.0, help="limit on both sides (1200)")
    p.add_argument("--n", type=int, default=1300, help="requests (default 1300, ~65 s)")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--latency", type=float, default=0.05, help="server latency, s (0.05)")
    args = p.parse_args()
    os.environ["OPENAI_API_KEY"] = "bench-not-a-real-key"  # only ever sent to 127.0.0.1
    os.environ.pop("OPENAI_BASE_URL", None)
    reqs = [Request(key={"id": i, "sample": 0},
                    messages=[{"role": "user", "content": f"Item {i}: agree or disagree?"}])
            for i in range(args.n)]
    with FakeServerProcess(latency_s=args.latency, rpm=args.rpm) as server, \
            tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.jsonl"
        backend = OpenAIChatBackend("gpt-4o", base_url=server.url + "/v1", timeout_s=30)
        # max_attempts=1: a 429 would show up as an error row instead of being hidden by a retry
        options = RunOptions(concurrency=args.concurrency, rpm=args.rpm, max_attempts=1,
                             progress=False)

        async def run() -> RunSummary:
            with ResultsStore(out, key_by("id", "sample")) as store:
                try:
                    return await run_requests_async(backend, reqs, store, PARAMS, options)
                finally:
                    await backend.aclose()

        t0 = time.perf_counter()
        summary = asyncio.run(run())
        wall = time.perf_counter() - t0
        stats = server.stats()
        rows = list(read_jsonl(out))
    ok = sum(1 for r in rows if not r.get("error"))
    # the rate over the run: n requests take (n - 1) intervals at the limit
    achieved = (args.n - 1) / wall * 60.0
    share = achieved / args.rpm
    print(f"{args.n} requests, server limit {args.rpm:g} rpm (sliding 60 s window), "
          f"runner --rpm {args.rpm:g}, concurrency {args.concurrency}")
    print(f"wall time: {wall:.1f} s; rows: {len(rows)} ({ok} answered, "
          f"{sum(summary.errors.values())} errors)")
    print(f"achieved rate: {achieved:.0f} rpm = {share:.1%} of the limit (target >= 90%: "
          f"{'met' if share >= 0.9 else 'NOT met'})")
    print(f"429s from the server: {stats['rejected_429']} (target 0: "
          f"{'met' if stats['rejected_429'] == 0 else 'NOT met'})")


if __name__ == "__main__":
    main()
