"""Response generation: prompts CSV -> requests -> one JSONL row per (id, sample).

Everything that can be wrong with the input (file, columns, duplicate ids, unknown tasks,
output path, backend name, missing key) is found here before the first request is sent.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from backends.base import GenerationParams
from backends.registry import BackendSpec, check_backend
from core.paths import REPO_ROOT
from harness.prompt_set import load_prompts, select_prompts  # noqa: F401 (re-exported)
from harness.results import ResultsStore, key_by, read_jsonl
from harness.run_files import inside
from harness.runner import (
    Request,
    RunOptions,
    RunSummary,
    estimate_tokens,
    pending_requests,
    run_requests_async,
)
from harness.workers import create_backend_in_workers

DEFAULT_PROMPTS = REPO_ROOT / "Data" / "test_input.csv"
GENERATIONS_DIR = REPO_ROOT / "results" / "generations"
DEFAULT_CACHE = REPO_ROOT / "results" / "cache" / "responses.sqlite"
CARRY_FIELDS = ("label", "task", "original_input", "format_number")
ROW_KEY = ("id", "sample")


def build_requests(
    rows: list[dict[str, Any]], params: GenerationParams, n_samples: int = 1,
    selection: dict[str, Any] | None = None,
) -> list[Request]:
    """One request per (prompt, sample); a sample k > 0 gets seed + k so samples differ.

    `selection` (the --tasks, --sample, --seed and --limit that chose the prompts, None for the
    whole file) goes into every row, so the analysis can count missing rows against what was
    asked for rather than the whole prompt set.
    """
    out = []
    for row in rows:
        carry = {f: row[f] for f in CARRY_FIELDS if f in row}
        if selection is not None:
            carry["selection"] = selection
        for k in range(n_samples):
            p = params
            if params.seed is not None and k > 0:
                p = replace(params, seed=params.seed + k)
            out.append(Request(key={"id": row["id"], "sample": k},
                               messages=[{"role": "user", "content": row["input"]}],
                               carry=carry, params=p))
    return out


def default_out(backend: str, model: str | None = None) -> Path:
    """results/generations/<backend>.jsonl, or <backend>__<model>.jsonl when --model is given."""
    name = backend if not model else f"{backend}__{re.sub(r'[^A-Za-z0-9._-]+', '-', model)}"
    return inside(GENERATIONS_DIR, f"{name}.jsonl")


@dataclass
class DryRun:
    """What a run would send, without sending it."""

    requests: int
    already_done: int
    input_tokens: int
    max_output_tokens: int
    cost_usd: float | None
    minutes_at_limits: float | None

    def format(self) -> str:
        cost = "unknown (no price in the registry)" if self.cost_usd is None else (
            f"at most ${self.cost_usd:.2f}")
        lines = [
            f"requests to send: {self.requests} ({self.already_done} already done)",
            f"estimated tokens: ~{self.input_tokens} in, at most {self.max_output_tokens} out",
            f"estimated cost: {cost}",
        ]
        if self.minutes_at_limits is not None:
            lines.append(f"time at the rate limits: at least {self.minutes_at_limits:.1f} min")
        return "\n".join(lines)


def dry_run(
    spec: BackendSpec, requests: list[Request], out: Path, params: GenerationParams,
    retry_errors: bool = False, rpm: float | None = None, tpm: float | None = None,
) -> DryRun:
    """Count and price the requests still to do (reads the output file, sends nothing)."""
    done: set[tuple[Any, ...]] = set()
    if out.exists():
        key = key_by(*ROW_KEY)
        done = {key(r) for r in read_jsonl(out) if not (retry_errors and r.get("error"))}
    todo = [r for r in requests if (r.key["id"], r.key["sample"]) not in done]
    tin = sum(estimate_tokens(r.messages, params) - params.max_tokens for r in todo)
    tout = params.max_tokens * len(todo)
    price = spec.price_per_1m
    cost = None if price is None else (tin * price[0] + tout * price[1]) / 1e6
    # the runner's token limiter counts each request's max_tokens, as providers do
    spans = ([len(todo) / rpm] if rpm else []) + ([(tin + tout) / tpm] if tpm else [])
    minutes = max(spans) if spans else None
    return DryRun(len(todo), len(requests) - len(todo), tin, tout, cost, minutes)


def run_generation(
    spec: BackendSpec,
    requests: list[Request],
    out: Path,
    params: GenerationParams,
    options: RunOptions,
    *,
    model: str | None = None,
    base_url: str | None = None,
    timeout_s: float = 120.0,
    backend_options: dict[str, Any] | None = None,
    workers: int = 1,
) -> RunSummary:
    """Check the backend's arguments and key, open the output (refusing an unwritable path),
    build the backend (its calls spread over `workers` processes when > 1), run, close.

    A missing key leaves no output file behind. A rerun with nothing left to do returns at
    once, without loading a model or a client.
    """
    check_backend(spec, model=model, base_url=base_url, **(backend_options or {}))
    with ResultsStore(out, key_by(*ROW_KEY)) as store:
        todo, skipped = pending_requests(requests, store, options.retry_errors)
        if not todo:
            return RunSummary.nothing_to_do(skipped, options)
        backend = create_backend_in_workers(
            spec.name, workers, model=model, base_url=base_url, timeout_s=timeout_s,
            registry={spec.name: spec}, **(backend_options or {}))

        async def main() -> RunSummary:
            try:
                return await run_requests_async(backend, requests, store, params, options)
            finally:
                await backend.aclose()

        return asyncio.run(main())
