"""Running the probability judge: a local model's forward passes, or an API's top logprobs.

What the judge can do is its adapter class's (`Backend.option_reading`):

Local judges (transformers): one forward pass per response, batched, the shared rubric's
key/value states computed once (`Backend.option_logprobs`); each row is written to the
output as its batch finishes, so a rerun skips what is done.

API judges (OpenAI, OpenAI-compatible, Gemini): one request per response with max_tokens 1
and the top log-probabilities of that token (`Backend.option_params`), sent through the
shared runner (rate limits, retries, cache) into `<out>.calls.jsonl`; the output is rebuilt
from it at the end. A failed request is an error row. Providers without log-probabilities
(Anthropic) are refused.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

from annotations.probs import (
    DIGITS,
    MODE,
    ProbsPrompt,
    digits_from_logprobs,
    digits_from_top_logprobs,
    missing_digits,
    probs_row,
)
from annotations.prompts import judged_text
from backends.base import GenerationParams
from backends.option_scores import ScoreJob
from backends.registry import BackendSpec, adapter_class, create_backend
from core.errors import UserError
from core.files import write_jsonl_atomic
from core.progress import progress_bar
from core.reasoning import THINK_CLOSE, THINK_OPEN
from harness.request import (
    Asked,
    Request,
    RunOptions,
    RunSummary,
    check_stale,
    prompt_sha256,
)
from harness.results import ResultsStore, Row, key_by, read_jsonl, reusable_keys
from harness.schema import GENERATION_KEY
from harness.send import DryRun, Route, send_requests
from harness.send import dry_run as send_dry_run

ROW_KEY = GENERATION_KEY  # a probability-judge row per generation row


def check_probs_judge(spec: BackendSpec, *, batch_api: bool = False) -> str:
    """'local' or 'api'; a UserError, before anything is sent, for a judge with no logprobs."""
    if batch_api:
        raise UserError("--batch-api sends the JSON judge's calls; the probability judge needs "
                        "one output token per response: drop --batch-api, or use "
                        "--judge-mode json")
    if spec.options.get("reasoning"):
        raise UserError(thinking_refusal(spec.name))
    reading = adapter_class(spec).option_reading()
    if reading == "forward_pass":
        return "local"
    if reading == "top_logprobs":
        return "api"
    raise UserError(f"judge {spec.name} ({spec.provider}) returns no token log-probabilities, "
                    "so it cannot be read as a probability judge; use --judge-mode json")


def thinking_refusal(judge: str) -> str:
    return (f"judge {judge} is a reasoning model: its answer starts inside a <think> block, so "
            "a digit read right after the prompt means nothing; use --judge-mode json")


def opens_thought(text: str) -> bool:
    """Whether a templated prompt ends inside an open <think> block (DeepSeek-R1's template
    puts the opening tag in the prompt)."""
    return text.rfind(THINK_OPEN) > text.rfind(THINK_CLOSE)


def api_params(spec: BackendSpec) -> GenerationParams:
    """One output token, greedy, with as many top alternatives as the provider gives."""
    return adapter_class(spec).option_params()


def api_requests(prompts: list[ProbsPrompt]) -> list[Request]:
    return [Request(key={"id": p.row["id"], "sample": p.row.get("sample", 0)},
                    messages=[{"role": "user", "content": p.text}]) for p in prompts]


def probs_dry_run(spec: BackendSpec, prompts: list[ProbsPrompt], calls: Path,
                  retry_errors: bool = False, rpm: float | None = None,
                  tpm: float | None = None, *, model: str | None = None,
                  redo_stale: bool = False) -> DryRun:
    """Price the requests still to make: the prompt in, one token out, no re-asks."""
    return send_dry_run(spec, api_requests(prompts), calls, ROW_KEY, api_params(spec),
                        retry_errors=retry_errors, rpm=rpm, tpm=tpm, model=model,
                        redo_stale=redo_stale)


def _messages(p: ProbsPrompt) -> list[dict[str, str]]:
    return [{"role": "user", "content": p.text}]


def _as_asked(row: dict[str, Any], p: ProbsPrompt | None) -> dict[str, Any]:
    """A local probability-judge row in the request-row terms `check_stale` compares: the
    judge (and its mode), the judge model, the prompt's hash. A row written before the hash
    was recorded counts as the same prompt when it judged the same input and response text."""
    mode = row.get("judge_mode") or "json"
    view: dict[str, Any] = {
        "id": row.get("id"), "sample": row.get("sample"),
        "backend": row.get("judge") if mode == MODE else f"{row.get('judge')} ({mode} judge)",
        "model": row.get("judge_model")}
    if "judge_prompt_sha256" in row:
        view["prompt_sha256"] = row["judge_prompt_sha256"]
    elif p is not None:
        same = (row.get("response") == judged_text(p.row)
                and row.get("input") == p.row.get("input"))
        view["input"] = p.text if same else None
    return view


def open_local_judge(spec: BackendSpec, prompts: Sequence[str], *, model: str | None,
                     batch_size: int) -> tuple[Any, list[str]]:
    """A local judge and its prompts after the chat template; a judge whose template opens a
    <think> block is refused (an answer token read inside its reasoning means nothing)."""
    backend = create_backend(spec.name, model=model, registry={spec.name: spec},
                             batch_size=batch_size)
    texts = [backend.prompt_text([{"role": "user", "content": p}]) for p in prompts]
    if any(opens_thought(t) for t in texts):
        raise UserError(thinking_refusal(spec.name))
    return backend, texts


def local_stale(spec: BackendSpec, prompts: list[ProbsPrompt], rows: Mapping[Hashable, Row],
                where: Path, *, judge_model: str | None, redo_stale: bool) -> list[Hashable]:
    """The keys of a local probability judge's output rows to score again: a row is reused
    only if it judged the same prompt (input, response, template, wording) with the same
    judge in this mode; any other stops the run (`check_stale`'s line) unless `redo_stale`.
    The dry run asks the same."""
    by_key = {(p.row["id"], p.row.get("sample", 0)): p for p in prompts}
    views = {k: _as_asked(r, by_key.get(k)) for k, r in rows.items()}
    requests = [Request(key={"id": k[0], "sample": k[1]}, messages=_messages(p))
                for k, p in by_key.items()]
    return check_stale(requests, views, key_by(*ROW_KEY), Asked(spec.name, judge_model), None,
                       where=where, redo_stale=redo_stale)


def run_local_probs(spec: BackendSpec, prompts: list[ProbsPrompt], out: Path, *,
                    judge_model: str | None, template: str, batch_size: int,
                    model: str | None = None, progress: bool = True,
                    prefix_cache: bool = True, redo_stale: bool = False) -> int:
    """Score every response not yet in `out`; returns how many were scored now."""
    done = reusable_keys(out, key_by(*ROW_KEY), lambda rows: local_stale(
        spec, prompts, rows, out, judge_model=judge_model, redo_stale=redo_stale))
    todo = [p for p in prompts if (p.row["id"], p.row.get("sample", 0)) not in done]
    if not todo:
        return 0
    backend, texts = open_local_judge(spec, [p.text for p in todo], model=model,
                                      batch_size=batch_size)
    version = getattr(backend, "model_version", None)
    out.parent.mkdir(parents=True, exist_ok=True)
    bar = progress_bar(len(prompts), initial=len(prompts) - len(todo),
                       desc=f"judge {spec.name}", unit="resp", disable=not progress)
    try:
        with ResultsStore(out, key_by(*ROW_KEY)) as store:
            jobs = [ScoreJob(t, DIGITS, group="rubric") for t in texts]
            for batch in backend.option_logprobs(jobs, prefix_cache=prefix_cache):
                for i, scores in batch:
                    store.append(probs_row(
                        todo[i].row, digits_from_logprobs(scores.logprobs), judge=spec.name,
                        judge_model=judge_model, judge_input=texts[i], template=template,
                        digit_token_ids={d: list(v) for d, v in scores.token_ids.items()},
                        digit_space_path=scores.space_path(),
                        top_tokens=scores.top_tokens, judge_version=version,
                        judge_demo_only=spec.demo_only,
                        judge_prompt_sha256=prompt_sha256(_messages(todo[i]))))
                bar.update(len(batch))
    finally:
        bar.close()
    return len(todo)


def run_api_probs(spec: BackendSpec, prompts: list[ProbsPrompt], calls: Path,
                  options: RunOptions, *, model: str | None = None,
                  base_url: str | None = None, timeout_s: float = 120.0) -> RunSummary:
    """One max_tokens-1 request per response into the calls file (resumes)."""
    route = Route(spec, model=model, base_url=base_url, timeout_s=timeout_s)
    return send_requests(route, api_requests(prompts), calls, ROW_KEY, api_params(spec),
                         options)


def check_logprobs_given(calls: Path, spec: BackendSpec) -> None:
    """One line, naming the JSON mode, when the provider refused log-probabilities for this
    model (e.g. Gemini's 400 'Logprobs is not enabled'): every row would be unreadable."""
    if not calls.exists():
        return
    for c in read_jsonl(calls):
        if c.get("finish_reason") == "logprobs_unavailable":
            model = c.get("model") or spec.model_id
            raise UserError(f"{model} returns no log-probabilities, so it cannot be a "
                            "probability judge; use --judge-mode json")


def write_api_rows(out: Path, calls: Path, prompts: list[ProbsPrompt], *, judge: str,
                   judge_model: str | None, template: str,
                   judge_demo_only: bool = False) -> list[dict[str, Any]]:
    """Rebuild the output from the calls file, one row per response called (atomic write)."""
    by_key = {(c["id"], c.get("sample", 0)): c for c in read_jsonl(calls)} \
        if calls.exists() else {}
    rows = []
    for p in prompts:
        call = by_key.get((p.row["id"], p.row.get("sample", 0)))
        if call is None:
            continue
        top = call.get("first_token_logprobs")
        rows.append(probs_row(p.row, digits_from_top_logprobs(top), judge=judge,
                              judge_model=judge_model, judge_input=p.text, template=template,
                              error=call.get("error"), top_logprobs=top,
                              judge_version=call.get("model_version"),
                              judge_demo_only=judge_demo_only,
                              **missing_digits(None if call.get("error") else top)))
    write_jsonl_atomic(out, rows)
    return rows
