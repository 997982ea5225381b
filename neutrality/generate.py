"""Response generation for the neutrality study: prompts CSV -> requests -> one JSONL row per
(id, sample), sent through `harness.send`.

Everything that can be wrong with the input (file, columns, duplicate ids, unknown tasks,
output path, backend name, missing key) is found before the first request is sent.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from backends.base import GenerationParams
from backends.registry import BackendSpec
from core.paths import REPO_ROOT
from harness.batch_state import BatchOptions
from harness.request import Request, RunOptions, RunSummary
from harness.run_files import inside
from harness.schema import GENERATION_KEY
from harness.send import Route, send_requests

DEFAULT_PROMPTS = REPO_ROOT / "Data" / "test_input.csv"
GENERATIONS_DIR = REPO_ROOT / "results" / "generations"
CARRY_FIELDS = ("label", "task", "original_input", "format_number")
ROW_KEY = GENERATION_KEY


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
    batch: BatchOptions | None = None,
) -> RunSummary:
    """Send every request not already done in `out` (`harness.send.send_requests`).

    The backend's arguments and key are checked first, so a missing key leaves no output
    file; calls go over `workers` processes when > 1; a rerun with nothing left to do
    returns at once, without loading a model or a client. With `batch`, through the
    provider's batch API (a rerun polls the batches already submitted).
    """
    route = Route(spec, model=model, base_url=base_url, timeout_s=timeout_s,
                  backend_options=backend_options or {}, workers=workers, batch=batch)
    return send_requests(route, requests, out, ROW_KEY, params, options)
