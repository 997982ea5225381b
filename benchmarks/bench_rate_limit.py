"""Benchmark: the runner against a server enforcing a requests-per-minute limit.

    python benchmarks/bench_rate_limit.py                   # learned, registry, drop
    python benchmarks/bench_rate_limit.py --modes given --rpm 1200 --n 1300

A fake OpenAI server on 127.0.0.1 (its own process) answers 429 to any request past its
limit in a sliding 60 s window, after `--latency` seconds. Modes, each on a fresh server:

- learned: the server announces its limit (3,000 a minute) in OpenAI's headers; the runner
  starts from gpt-4o's registry limits (500 requests, 30,000 tokens a minute), as
  generate.py does with no --rpm/--tpm, and should adopt the announced limit after the
  first answer: at least 90 % of it, no 429.
- registry: the same with learning off (what the runner did before): it holds 500 a
  minute. Fewer requests (`--n-registry`), as the rate is what counts.
- drop: as learned, but the server's limit falls to `--drop-to` after `--drop-after`
  requests; its window is then over the new limit, so the server refuses everything until
  enough of it expires. The runner should pause on the headers, not storm it with 429s.
- given: the runner is told the limit (`--rpm`), the server announces nothing.

max_attempts is 1 in every mode but drop: a 429 shows up as an error row instead of being
hidden by a retry.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from backends.base import GenerationParams
from backends.openai_chat import OpenAIChatBackend
from backends.registry import get_spec
from harness.limits import DEFAULT_MAX_IN_FLIGHT
from harness.request import Request, RunOptions, RunSummary
from harness.results import ResultsStore, key_by, read_jsonl
from harness.runner import run_requests_async
from tests.fakes.server import FakeServerProcess

PARAMS = GenerationParams(temperature=0.0, max_tokens=16)
#: the token limit the server announces beside its request limit (a 3,000-rpm account's
#: order of size; not enforced)
ANNOUNCED_TPM = 1_000_000


@dataclass
class Outcome:
    mode: str
    n: int
    wall_s: float
    ok: int
    errors: int
    rejected_429: int
    limit_rpm: float
    final: dict

    def line(self) -> str:
        achieved = (self.n - 1) / self.wall_s * 60.0
        return (f"{self.mode:9s} {self.n:5d} requests in {self.wall_s:6.1f} s: "
                f"{achieved:6.0f} rpm = {achieved / self.limit_rpm:6.1%} of "
                f"{self.limit_rpm:g}; answered {self.ok}, error rows {self.errors}, "
                f"429s from the server {self.rejected_429}; runner's limits at the end "
                f"{self.final}")


def run_mode(mode: str, n: int, args: argparse.Namespace) -> Outcome:
    spec = get_spec("gpt-4o")
    announce = mode != "given"
    server_kw: dict = {"latency_s": args.latency, "rpm": args.limit, "announce": announce,
                       "announce_tpm": ANNOUNCED_TPM if announce else None}
    if mode == "drop":
        server_kw.update(drop_after=args.drop_after, drop_to=args.drop_to)
    if mode == "given":
        server_kw["rpm"] = args.rpm
        options = RunOptions(concurrency=args.concurrency or 32, rpm=args.rpm, max_attempts=1,
                             progress=False, learn_rpm=False, learn_tpm=False)
    else:
        # what request_options makes for gpt-4o with no --rpm, --tpm or --concurrency
        learn = mode != "registry"
        options = RunOptions(
            concurrency=args.concurrency or (DEFAULT_MAX_IN_FLIGHT if learn else 8),
            rpm=spec.rpm, tpm=spec.tpm, learn_rpm=learn, learn_tpm=learn,
            max_attempts=6 if mode == "drop" else 1, progress=False)
    reqs = [Request(key={"id": i, "sample": 0},
                    messages=[{"role": "user", "content": f"Item {i}: agree or disagree?"}])
            for i in range(n)]
    with FakeServerProcess(**server_kw) as server, tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.jsonl"
        backend = OpenAIChatBackend("gpt-4o", base_url=server.url + "/v1", timeout_s=30)

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
    limit = args.rpm if mode == "given" else args.limit
    return Outcome(mode, n, wall, ok, sum(summary.errors.values()), stats["rejected_429"],
                   limit, (summary.limits or {}).get("final", {}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--modes", default="learned,registry,drop",
                   help="comma-separated: learned, registry, drop, given")
    p.add_argument("--limit", type=float, default=3000.0,
                   help="requests a minute the server announces and enforces (3000)")
    p.add_argument("--n", type=int, default=3600, help="requests, learned mode (3600)")
    p.add_argument("--n-registry", type=int, default=600,
                   help="requests, registry mode (600: ~72 s at 500 a minute)")
    p.add_argument("--n-drop", type=int, default=2400, help="requests, drop mode (2400)")
    p.add_argument("--drop-after", type=int, default=1800,
                   help="requests admitted before the drop (1800)")
    p.add_argument("--drop-to", type=float, default=1500.0, help="limit after the drop")
    p.add_argument("--rpm", type=float, default=1200.0, help="given mode: the limit (1200)")
    p.add_argument("--concurrency", type=int, help="default: as generate.py")
    p.add_argument("--latency", type=float, default=0.05, help="server latency, s (0.05)")
    args = p.parse_args()
    os.environ["OPENAI_API_KEY"] = "bench-not-a-real-key"  # only ever sent to 127.0.0.1
    os.environ.pop("OPENAI_BASE_URL", None)
    sizes = {"learned": args.n, "registry": args.n_registry, "drop": args.n_drop,
             "given": args.n}
    print(f"fake server: {args.limit:g} requests a minute in a sliding 60 s window, "
          f"{args.latency * 1000:g} ms answers, max_tokens {PARAMS.max_tokens}")
    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        outcome = run_mode(mode, sizes[mode], args)
        print(outcome.line(), flush=True)
        if mode == "registry":
            print(f"{'':9s} at that rate {args.n} requests would take "
                  f"{(args.n - 1) / ((outcome.n - 1) / outcome.wall_s) / 60:.1f} min")
        if mode == "drop":
            # ideal: the first part at the old limit, a wait for the window to fall under
            # the new one, the rest at the new limit
            first = args.drop_after / args.limit * 60
            over = args.drop_after - args.drop_to
            wait = max(0.0, 60 + over / args.limit * 60 - first)
            rest = (outcome.n - args.drop_after) / args.drop_to * 60
            print(f"{'':9s} ideal at the limits: {first:.0f} s + wait {wait:.0f} s + "
                  f"{rest:.0f} s = {first + wait + rest:.0f} s")


if __name__ == "__main__":
    main()
