"""The rows each stage writes, declared once: their keys, their fields, and the names that
change from one stage to the next.

Stages and their files:
- generation (results/generations/*.jsonl): one request row per (id, sample);
- judge calls (<annotations>.calls.jsonl): one request row per (id, sample, eval, attempt);
- annotation (results/annotations/*.jsonl): one row per judged response
  (`annotations.vote.annotation_row`, `annotations.probs.probs_row`);
- distribution requests (<save_dir>/requests/*.jsonl): one request row per
  (item_id, steer_to, rep, sample) (a local model's rows hold its letter log-probabilities
  instead); distribution items (<save_dir>/*.jsonl): one row per (item_id, steer_to)
  (`pluralism.assemble`);
- Overton open answers (results/overton/*.jsonl): one request row per (item_id, sample);
  coverage judge calls (<coverage>.calls.jsonl): one request row per (item_id, sample,
  option, attempt); coverage rows (<coverage>): one per (item_id, sample)
  (`annotations.coverage.coverage_row`).

A request row is the same for every stage that sends requests: the key fields, then
REQUEST_FIELDS, then the optional fields a provider gave, then the stage's carried fields.
Its `backend`, `model`, `prompt_sha256` (every message sent) and `params` say what was asked:
a rerun reuses the row only for the same request (`harness.request.check_stale`).

Two names drift between stages, and stay so because files already written use them (see
RENAMED): what a generation row calls `backend` (the registry name) an annotation row calls
`model`, and a generation row's `model` (the model id sent) is an annotation row's
`model_id`. `generation_identity` is the one place that maps them. A distribution item row
keeps the request rows' names: `backend` the registry name, `model` the model id, and adds
`label`, the name its file goes by (the study's --model).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from core.clock import utc_now

if TYPE_CHECKING:  # the schema imports nothing of the backends, so any stage may read it
    from backends.base import Completion

GENERATION_KEY = ("id", "sample")
JUDGE_CALL_KEY = ("id", "sample", "eval", "attempt")
#: steer_to: the country or group a steered prompt asks the model to answer as; null (or
#: absent, in rows written before steering) when unsteered, so both live in one file
DISTRIBUTION_REQUEST_KEY = ("item_id", "steer_to", "rep", "sample")
DISTRIBUTION_ITEM_KEY = ("item_id", "steer_to")
OVERTON_RESPONSE_KEY = ("item_id", "sample")
OVERTON_CALL_KEY = ("item_id", "sample", "option", "attempt")

#: every request row, after its key, in this order
REQUEST_FIELDS = (
    "backend", "model", "model_version", "input", "prompt_sha256", "response", "reasoning",
    "finish_reason", "error", "error_kind", "provider_message", "prompt_tokens",
    "completion_tokens", "latency_s", "attempts", "cached", "params", "created_at",
)
#: present only when the provider gave them (first_token_logprobs: asked with top_logprobs)
REQUEST_OPTIONAL_FIELDS = ("extras", "first_token_logprobs")
#: present (true) only on an empty answer that ended normally, neither blocked nor
#: cut off, so the provider gave no reason for it; the analysis counts it apart from refusals
UNEXPLAINED_EMPTY = "unexplained_empty"
#: finish reasons of an answer that ended by itself (OpenAI, Anthropic, Gemini, local)
FINISHED_NORMALLY = frozenset({None, "stop", "end_turn", "stop_sequence", "STOP"})

#: every distribution item row (pluralism.assemble.assemble_item), in this order; then the
#: method's own field, then `human` where the dataset has human answers
DISTRIBUTION_ITEM_FIELDS = (
    "dataset", "item_id", "steer_to", "steer_text", "question", "options", "letters", "probs",
    "rep_probs", "rep_letter_probs", "letter_mass", "flags", "prompts", "drawn", "method", "model",
    "model_version", "backend", "label", "params", "meta", "error", "created_at",
)
#: every Overton coverage row (annotations.coverage_run.coverage_row), in this order; then
#: the judge mode's own fields (COVERAGE_MODE_FIELDS)
COVERAGE_FIELDS = (
    "item_id", "sample", "model", "model_id", "model_version", "judge", "judge_model",
    "judge_mode", "judge_demo_only", "question", "options", "human", "input", "response",
    "status", "covered", "refused", "provider_blocked", "provider_message", "error", "prompts",
)
COVERAGE_MODE_FIELDS = {"probs": ("coverage_probs", "refusal_prob"), "json": ("raw",)}
DISTRIBUTION_METHOD_FIELD = {"logprobs": "top_tokens", "top_logprobs": "top_logprobs",
                             "sampling": "responses"}

#: a generation row's field -> the annotation row's field holding the same value
RENAMED = {"backend": "model", "model": "model_id"}


def generation_identity(generation: dict[str, Any]) -> dict[str, Any]:
    """An annotation row's `model`, `model_id` and `model_version`, from the generation row
    it judges (a row written without `backend` names its model by `model` in both)."""
    return {"model": generation.get("backend") or generation.get("model"),
            "model_id": generation.get("model"),
            "model_version": generation.get("model_version")}


def request_row(
    key: dict[str, Any],
    carry: dict[str, Any],
    completion: Completion | None,
    *,
    backend: str,
    model: str | None,
    input_text: str,
    params: dict[str, Any],
    prompt_sha256: str | None = None,
    error: str | None = None,
    error_kind: str | None = None,
    attempts: int = 0,
    latency_s: float | None = None,
    cached: bool = False,
    provider_message: str | None = None,
    finish_reason: str | None = None,
) -> dict[str, Any]:
    """One request row: an answer, a refusal (provider_message set, response ""), or an
    error (response None)."""
    c = completion
    row: dict[str, Any] = dict(key)
    row.update(
        backend=backend,
        model=model,
        model_version=c.model_version if c else None,
        input=input_text,
        prompt_sha256=prompt_sha256,
        response=c.text if c else ("" if provider_message is not None else None),
        reasoning=c.reasoning if c else None,
        finish_reason=c.finish_reason if c else finish_reason,
        error=error,
        error_kind=error_kind,
        provider_message=c.blocked if c else provider_message,
        prompt_tokens=c.prompt_tokens if c else None,
        completion_tokens=c.completion_tokens if c else None,
        latency_s=None if latency_s is None else round(latency_s, 4),
        attempts=attempts,
        cached=cached,
        params=params,
        created_at=utc_now(),
    )
    if c and c.extras:
        row["extras"] = json.loads(json.dumps(c.extras, default=str))
    if c and c.first_token_logprobs is not None:
        row["first_token_logprobs"] = c.first_token_logprobs
    if c and not c.text.strip() and not c.blocked and c.finish_reason in FINISHED_NORMALLY:
        row[UNEXPLAINED_EMPTY] = True
    row.update(carry)
    return row
