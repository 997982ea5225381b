"""Running the Overton coverage judge, and the coverage rows rebuilt from its calls.

Every judge answer goes to `<out>.calls.jsonl`, one row per (item_id, sample, option,
attempt), written as it comes, so a rerun makes only the calls still missing:
- JSON judge: requests through one `harness.send.Sender` (online, workers, batch API), and
  rounds of re-asks of unreadable answers (`annotations.run.judge_rounds`);
- probability judge on an API: one max_tokens-1 request with the top log-probabilities
  (`Backend.option_params`), through `harness.send.send_requests`;
- probability judge on a local model: one forward pass per prompt (`Backend.option_logprobs`,
  the rubric's key/value states computed once), Yes and No read from its tokenizer.
The output, one row per response, is rebuilt from the calls at the end of each run.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

from annotations.coverage import (
    ANSWERS,
    REFUSAL,
    CoveragePrompt,
    CoverageRubric,
    p_yes,
    parse_answer,
    skip_reason,
    yes_no_from_top_logprobs,
)
from annotations.probs_run import api_params, open_local_judge
from annotations.prompts import judged_text, provider_block_fields
from annotations.run import judge_rounds
from backends.base import GenerationParams
from backends.option_scores import ScoreJob
from backends.registry import BackendSpec
from core.errors import UserError
from core.files import write_jsonl_atomic
from core.paths import REPO_ROOT
from core.progress import progress_bar
from harness.request import (
    Asked,
    Request,
    RunOptions,
    RunSummary,
    check_stale,
    prompt_sha256,
)
from harness.results import ResultsStore, Row, key_by, read_jsonl, reusable_keys
from harness.run_files import inside
from harness.schema import OVERTON_CALL_KEY, generation_identity
from harness.send import DryRun, Route, Sender, send_requests
from harness.send import dry_run as send_dry_run

COVERAGE_DIR = REPO_ROOT / "results" / "overton" / "coverage"
CALL_KEY = OVERTON_CALL_KEY
QUESTION = ("item_id", "sample", "option")  # a call's question, whatever its attempt
#: statuses of a response that was not judged or that refused: left out of the score
NOT_SCORED = ("refused", "blocked", "empty")


def calls_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".jsonl") + ".calls.jsonl")


def default_out(rows: Sequence[dict[str, Any]], responses: Path, judge: str, mode: str) -> Path:
    """results/overton/coverage/<model>__<judge>[-probs].jsonl."""
    names = {r.get("backend") for r in rows}
    model = names.pop() if len(names) == 1 and None not in names else responses.stem
    suffix = "-probs" if mode == "probs" else ""
    return inside(COVERAGE_DIR, re.sub(r"[^A-Za-z0-9._-]+", "-", f"{model}__{judge}{suffix}")
                  + ".jsonl")


def load_responses(path: Path) -> list[dict[str, Any]]:
    """The rows of an open-answers file, one per (item_id, sample) (the last row wins)."""
    rows: dict[tuple[Any, Any], dict[str, Any]] = {}
    for n, row in enumerate(read_jsonl(path), start=1):
        if not isinstance(row, dict) or not {"item_id", "options", "response"} <= set(row):
            raise UserError(f"{path} line {n} is not an open-answer row (needs item_id, options "
                            "and response); pass a file written by create_overton_responses.py")
        rows[(row["item_id"], row.get("sample", 0))] = row
    if not rows:
        raise UserError(f"{path} holds no answers; run create_overton_responses.py first")
    return list(rows.values())


def first_requests(prompts: Sequence[CoveragePrompt]) -> list[Request]:
    return [Request(key={**p.key, "attempt": 0}, messages=[{"role": "user", "content": p.text}])
            for p in prompts]


# ---- sending ------------------------------------------------------------------------------
def run_json_judge(route: Route, prompts: Sequence[CoveragePrompt], calls: Path,
                   params: GenerationParams, options: RunOptions, rubric: CoverageRubric,
                   max_reparse: int) -> RunSummary:
    """First asks, then re-asks of unreadable answers, into the calls file (resumes)."""
    route.check()
    sender = Sender(route, calls, CALL_KEY, params, options)
    return asyncio.run(judge_rounds(
        sender, first_requests(prompts), calls, max_reparse,
        readable=lambda text: parse_answer(text) is not None, reask=rubric.reask,
        group=QUESTION))


def run_api_probs(route: Route, prompts: Sequence[CoveragePrompt], calls: Path,
                  options: RunOptions) -> RunSummary:
    """One one-token request with its top log-probabilities per prompt (resumes)."""
    return send_requests(route, first_requests(prompts), calls, CALL_KEY,
                         api_params(route.spec), options)


def _as_asked(row: Row, prompt: CoveragePrompt | None) -> dict[str, Any]:
    """A local probability judge's call row in the request-row terms `check_stale` compares:
    the judge (a row another mode wrote, without `yes_no_probs`, is another judge here), its
    model, the prompt's hash. A row written before the hash was recorded counts as the same
    prompt when its chat-templated input holds this prompt's text."""
    view = {k: row.get(k) for k in CALL_KEY}
    backend = row.get("backend")
    view["backend"] = backend if "yes_no_probs" in row else f"{backend} (json judge)"
    view["model"] = row.get("model")
    if "prompt_sha256" in row:
        view["prompt_sha256"] = row["prompt_sha256"]
    elif prompt is not None:
        view["input"] = prompt.text if prompt.text in str(row.get("input") or "") else None
    return view


def local_stale(spec: BackendSpec, prompts: Sequence[CoveragePrompt], rows: Mapping[Hashable, Row],
                where: Path, *, model: str | None, redo_stale: bool) -> list[Hashable]:
    """The keys of a local probability judge's calls to make again: a call is reused only if
    it judged the same prompt (response text, rubric wording, mode) with the same judge and
    model; any other stops the run (`check_stale`'s line) unless `redo_stale`. The dry run
    asks the same."""
    requests = first_requests(prompts)
    by_key = {(*p.key.values(), 0): p for p in prompts}
    views = {k: _as_asked(r, by_key.get(k)) for k, r in rows.items()}
    return check_stale(requests, views, key_by(*CALL_KEY),
                       Asked(spec.name, model or spec.model_id), None, where=where,
                       redo_stale=redo_stale)


def run_local_probs(spec: BackendSpec, prompts: Sequence[CoveragePrompt], calls: Path, *,
                    model: str | None = None, batch_size: int = 8, progress: bool = True,
                    prefix_cache: bool = True, redo_stale: bool = False) -> int:
    """Score every prompt not yet in the calls file; returns how many were scored now."""
    done = reusable_keys(calls, key_by(*CALL_KEY), lambda rows: local_stale(
        spec, prompts, rows, calls, model=model, redo_stale=redo_stale), include_errors=False)
    todo = [p for p in prompts if (*p.key.values(), 0) not in done]
    if not todo:
        return 0
    backend, texts = open_local_judge(spec, [p.text for p in todo], model=model,
                                      batch_size=batch_size)
    version = getattr(backend, "model_version", None)
    calls.parent.mkdir(parents=True, exist_ok=True)
    bar = progress_bar(len(prompts), initial=len(prompts) - len(todo),
                       desc=f"coverage {spec.name}", unit="call", disable=not progress)
    try:
        with ResultsStore(calls, key_by(*CALL_KEY)) as store:
            jobs = [ScoreJob(t, ANSWERS, group="rubric", words=True) for t in texts]
            for batch in backend.option_logprobs(jobs, prefix_cache=prefix_cache):
                for i, scores in batch:
                    store.append({
                        **todo[i].key, "attempt": 0, "backend": spec.name,
                        "model": model or spec.model_id, "model_version": version,
                        "input": texts[i],
                        "prompt_sha256": prompt_sha256(
                            [{"role": "user", "content": todo[i].text}]),
                        "error": None,
                        "yes_no_probs": [math.exp(lp) for lp in scores.logprobs],
                        "answer_token_ids": {w: list(v) for w, v in scores.token_ids.items()},
                        "top_tokens": scores.top_tokens})
                bar.update(len(batch))
    finally:
        bar.close()
    return len(todo)


def dry_run(spec: BackendSpec, prompts: Sequence[CoveragePrompt], calls: Path,
            params: GenerationParams, *, retry_errors: bool = False, rpm: float | None = None,
            tpm: float | None = None, model: str | None = None,
            redo_stale: bool = False) -> DryRun:
    """Count and price the first asks still to make; sends nothing. Calls made from another
    request stop it as they stop the run (or, with `redo_stale`, count as to do)."""
    return send_dry_run(spec, first_requests(prompts), calls, CALL_KEY, params,
                        retry_errors=retry_errors, rpm=rpm, tpm=tpm, model=model,
                        redo_stale=redo_stale)


# ---- rows ---------------------------------------------------------------------------------
def _verdict(attempts: list[dict[str, Any]], mode: str) -> tuple[bool | None, float | None,
                                                                   str | None, str | None]:
    """(covered, P(yes), raw reply, error) of one question from its calls."""
    attempts = sorted(attempts, key=lambda c: c.get("attempt", 0))
    last = attempts[-1]
    if last.get("error"):
        return None, None, last.get("response"), last["error"]
    if mode == "probs":
        pair = last.get("yes_no_probs") or yes_no_from_top_logprobs(
            last.get("first_token_logprobs"))
        prob = p_yes(pair)
        return (None if prob is None else prob > 0.5), prob, last.get("response"), None
    for call in reversed(attempts):
        value = parse_answer(call.get("response"))
        if value is not None:
            return value, None, call.get("response"), None
    return None, None, last.get("response"), None


def coverage_row(response: dict[str, Any], calls: dict[int, list[dict[str, Any]]], *,
                 mode: str, judge: str, judge_model: str | None, prompts_path: str,
                 judge_demo_only: bool = False) -> dict[str, Any]:
    """One row per judged response: `covered` per option (None: unreadable), `refused`, the
    status (ok, partial, unreadable, refused, error; blocked and empty were not judged)."""
    options = list(response.get("options") or [])
    reason = skip_reason(response)
    covered: list[bool | None] = [None] * len(options)
    probs: list[float | None] = [None] * len(options)
    raw: list[str | None] = [None] * len(options)
    refused: bool | None = None
    refusal_prob: float | None = None
    errors = []
    if reason is None:
        for option in (REFUSAL, *range(len(options))):
            attempts = calls.get(option)
            if not attempts:
                errors.append(f"option {option}: not judged yet")
                continue
            value, prob, text, error = _verdict(attempts, mode)
            if error:
                errors.append(f"option {option}: {error}")
            if option == REFUSAL:
                refused, refusal_prob = value, prob
            else:
                covered[option], probs[option], raw[option] = value, prob, text
    readable = sum(c is not None for c in covered)
    if reason is not None:
        status = reason
    elif errors:
        status = "error"
    elif refused:
        status = "refused"
    else:
        status = ("ok" if readable == len(options) else "unreadable" if readable == 0
                  else "partial")
    row = {
        "item_id": response["item_id"], "sample": response.get("sample", 0),
        **generation_identity(response), "model_version": response.get("model_version"),
        "judge": judge, "judge_model": judge_model, "judge_mode": mode,
        "judge_demo_only": judge_demo_only,
        "question": response.get("question"), "options": options,
        "human": response.get("human") or {}, "input": response.get("input"),
        "response": judged_text(response), "status": status, "covered": covered,
        "refused": refused, **provider_block_fields(response),
        "error": "; ".join(errors) or None, "prompts": prompts_path,
    }
    if mode == "probs":
        row.update(coverage_probs=probs, refusal_prob=refusal_prob)
    else:
        row["raw"] = raw
    return row


def write_coverage(out: Path, calls: Path, responses: Sequence[dict[str, Any]], *, mode: str,
                   judge: str, judge_model: str | None, prompts_path: str,
                   judge_demo_only: bool = False,
                   keep: set[tuple[Any, Any]] | None = None) -> list[dict[str, Any]]:
    """Rebuild the output from the calls file: one row per response that is not an error
    row (in `keep`, when given), atomically."""
    by_response: dict[tuple[Any, Any], dict[int, list[dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(list))
    for c in read_jsonl(calls) if calls.exists() else []:
        by_response[(c["item_id"], c["sample"])][c["option"]].append(c)
    rows = []
    for response in sorted(responses, key=lambda r: (r["item_id"], r.get("sample", 0))):
        key = (response["item_id"], response.get("sample", 0))
        if skip_reason(response) == "error" or (keep is not None and key not in keep):
            continue
        rows.append(coverage_row(response, by_response.get(key, {}), mode=mode, judge=judge,
                                 judge_model=judge_model, prompts_path=prompts_path,
                                 judge_demo_only=judge_demo_only))
    write_jsonl_atomic(out, rows)
    return rows
