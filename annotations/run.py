"""Run a judge over a generations file: requests, the sending call, re-asks, output rows.

Two files per run. `<out>.calls.jsonl` holds one runner row per judge call, keyed by
(id, sample, eval, attempt) and written as each call returns, so a rerun skips every call
already made. `<out>` holds one row per response, rebuilt from the calls file at the end of
each run (cheap, so it always matches the calls). A call is reused only if it was made
from the same request: the same judge and settings and the same prompt text (its hash,
which holds the judge template and the response judged); otherwise the run stops, or with
--redo-stale asks again (`harness.send`). An unreadable answer is asked again
(attempt 1, 2, ...) up to max_reparse times; its row stays, marked, either way.

Every round leaves through one `harness.send.Sender`, online, in worker processes or through
a provider's batch API (`--batch-api`), as its `Route` says; each writes the same calls rows.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from annotations.parse import parse_judgement
from annotations.prompts import JudgePrompt, judged_text
from annotations.vote import CARRY_FIELDS, annotation_row
from backends.base import GenerationParams
from backends.registry import BackendSpec
from core.errors import UserError
from core.files import write_jsonl_atomic
from core.paths import REPO_ROOT
from core.text import text_of_parts
from harness.request import Request, RunOptions, RunSummary, check_stale
from harness.results import ResultsStore, key_by, read_jsonl
from harness.run_files import inside
from harness.schema import JUDGE_CALL_KEY
from harness.send import DryRun, Route, Sender
from harness.send import dry_run as send_dry_run

ANNOTATIONS_DIR = REPO_ROOT / "results" / "annotations"
CALL_KEY = JUDGE_CALL_KEY
REASK = ("Your reply could not be read as the JSON object asked for. Reply again with only "
         "that JSON object: the keys \"Answer A\" to \"Answer F\", each \"yes\" or \"no\", and "
         "\"Final Answer\", a number from 1 to 6.")


def calls_path(out: Path) -> Path:
    """The raw judge calls beside the output: X.jsonl -> X.calls.jsonl."""
    return out.with_name(out.name.removesuffix(".jsonl") + ".calls.jsonl")


def default_out(rows: list[dict[str, Any]], generations: Path, judge: str) -> Path:
    """results/annotations/<model>__<judge>.jsonl; model is the rows' backend name."""
    names = {r.get("backend") for r in rows}
    model = names.pop() if len(names) == 1 and None not in names else generations.stem
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{model}__{judge}")
    return inside(ANNOTATIONS_DIR, f"{safe}.jsonl")


def load_generations(path: Path) -> list[dict[str, Any]]:
    """The rows of a generations file, one per (id, sample) (the last row of a key wins)."""
    rows: dict[tuple[Any, Any], dict[str, Any]] = {}
    for n, row in enumerate(read_jsonl(path), start=1):
        if not isinstance(row, dict) or "id" not in row or "response" not in row:
            raise UserError(f"{path} line {n} is not a generation row (needs id and response); "
                            "pass a file written by scripts/generate.py")
        response = row["response"]
        if response is not None and not isinstance(response, str):
            # content parts, as an older generate.py stored some servers' answers
            row["response"] = text_of_parts(response)
            if row["response"] is None:
                raise UserError(f"{path} line {n}: field 'response' is "
                                f"{type(response).__name__}, not text; delete that line and "
                                "rerun scripts/generate.py to ask again")
        rows[(row["id"], row.get("sample", 0))] = row
    if not rows:
        raise UserError(f"{path} holds no generations; run scripts/generate.py first")
    return list(rows.values())


def first_requests(prompts: list[JudgePrompt]) -> list[Request]:
    """Attempt 0 of every (id, sample, eval)."""
    return [
        Request(key={"id": p.row["id"], "sample": p.row.get("sample", 0), "eval": p.eval,
                     "attempt": 0},
                messages=[{"role": "user", "content": p.text}],
                carry={f: p.row.get(f) for f in CARRY_FIELDS})
        for p in prompts
    ]


def _judge_readable(text: str | None) -> bool:
    return parse_judgement(text) is not None


def reask_requests(first: list[Request], calls: list[dict[str, Any]], max_reparse: int, *,
                   readable: Callable[[str | None], bool] = _judge_readable,
                   reask: str = REASK, group: tuple[str, ...] = ("id", "sample", "eval"),
                   ) -> list[Request]:
    """The next ask of each question (its key's `group` fields) whose latest answer is
    unreadable (not an error), while fewer than max_reparse re-asks were made: the prompt,
    that answer, and a reminder (`reask`). The Overton coverage judge passes its own."""
    def key_of(row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(row[f] for f in group)

    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for c in calls:
        k = key_of(c)
        if k not in latest or c["attempt"] > latest[k]["attempt"]:
            latest[k] = c
    done = {key_of(c) for c in calls if not c.get("error") and readable(c.get("response"))}
    out = []
    for req in first:
        k = key_of(req.key)
        last = latest.get(k)
        if last is None or k in done or last.get("error") or last["attempt"] >= max_reparse:
            continue
        answer = (last.get("response") or "").strip() or "(no reply)"
        out.append(Request(key={**req.key, "attempt": last["attempt"] + 1},
                           messages=[*req.messages, {"role": "assistant", "content": answer},
                                     {"role": "user", "content": reask}],
                           carry=req.carry))
    return out


def _add(total: RunSummary, part: RunSummary) -> None:
    for f in fields(RunSummary):
        a, b = getattr(total, f.name), getattr(part, f.name)
        if f.name == "cost_usd":
            total.cost_usd = None if a is None and b is None else (a or 0.0) + (b or 0.0)
        elif f.name == "limits":  # the limits in force at the end of the latest round
            total.limits = b or a
        elif f.name != "skipped":  # skips are the first round's, set by the caller
            setattr(total, f.name, a + b)


def judge_sender(route: Route, calls: Path, params: GenerationParams,
                 options: RunOptions) -> Sender:
    """The sender of every round of judge calls into the calls file."""
    return Sender(route, calls, CALL_KEY, params, options)


async def judge_all(sender: Sender, prompts: list[JudgePrompt], calls: Path,
                    max_reparse: int) -> RunSummary:
    """First asks, then rounds of re-asks until every eval is readable or out of tries."""
    return await judge_rounds(sender, first_requests(prompts), calls, max_reparse)


async def judge_rounds(sender: Sender, first: list[Request], calls: Path, max_reparse: int,
                       **reask: Any) -> RunSummary:
    """Send `first`, then rounds of re-asks (`reask_requests`, with `reask`'s keywords) until
    every answer is readable or out of tries; the sender is closed at the end."""
    total = RunSummary()
    try:
        drop_stale_reasks(sender, first, calls)
        start = await sender.send(first)
        _add(total, start)
        total.skipped = start.skipped
        while True:
            rows = list(read_jsonl(calls)) if calls.exists() else []
            again = reask_requests(first, rows, max_reparse, **reask)
            if not again:
                break
            _add(total, await sender.send(again))
    finally:
        await sender.aclose()
    return total


def drop_stale_reasks(sender: Sender, first: list[Request], calls: Path) -> None:
    """With --redo-stale, the re-asks of a first ask made from another request (another
    response, judge prompt, judge or settings) go with it: they continue its conversation.
    The first asks themselves are checked, stopped on or redone, by the sender."""
    if not sender.options.redo_stale or not calls.exists():
        return
    with ResultsStore(calls, key_by(*CALL_KEY)) as store:
        firsts = {k: r for k, r in store.rows.items() if r.get("attempt") == 0}
        stale = check_stale(first, firsts, store.key, sender.route.asked(), sender.params,
                            where=calls, redo_stale=True,
                            skip_errors=sender.options.retry_errors)
        evals = {k[:3] for k in stale}
        store.drop([k for k, r in store.rows.items()
                    if k[:3] in evals and r.get("attempt", 0) > 0])


def run_judge(sender: Sender, prompts: list[JudgePrompt], calls: Path,
              max_reparse: int) -> RunSummary:
    return asyncio.run(judge_all(sender, prompts, calls, max_reparse))


def write_annotations(out: Path, calls: Path, prompts: list[JudgePrompt], *, judge: str,
                      judge_model: str | None, template: str,
                      judge_demo_only: bool = False) -> list[dict[str, Any]]:
    """Rebuild the output from the calls file: one row per judged response (atomic write)."""
    by_pair: dict[tuple[Any, Any], list[dict[str, Any]]] = defaultdict(list)
    wanted = {(p.row["id"], p.row.get("sample", 0), p.eval) for p in prompts}
    for c in read_jsonl(calls) if calls.exists() else []:
        if (c["id"], c["sample"], c["eval"]) in wanted:
            by_pair[(c["id"], c["sample"])].append(c)
    rows, seen = [], set()
    for p in prompts:
        key = (p.row["id"], p.row.get("sample", 0))
        if key in seen or key not in by_pair:
            continue
        seen.add(key)
        rows.append(annotation_row(p.row, by_pair[key], judge=judge, judge_model=judge_model,
                                   judged_text=judged_text(p.row), template=template,
                                   judge_demo_only=judge_demo_only))
    write_jsonl_atomic(out, rows)
    return rows


def dry_run(spec: BackendSpec, prompts: list[JudgePrompt], calls: Path,
            params: GenerationParams, max_reparse: int, retry_errors: bool = False,
            rpm: float | None = None, tpm: float | None = None, *, model: str | None = None,
            redo_stale: bool = False) -> DryRun:
    """Count and price the first asks still to make (re-asks come on top); sends nothing."""
    return send_dry_run(spec, first_requests(prompts), calls, CALL_KEY, params,
                        retry_errors=retry_errors, rpm=rpm, tpm=tpm, model=model,
                        redo_stale=redo_stale)
