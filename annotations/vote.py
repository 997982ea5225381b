"""From raw judge calls to one annotation row per response: per-eval results and the vote.

Tie rule (documented in docs/annotation.md): among the categories with the most votes, the
one given by the earliest eval (lowest eval index) wins; a yes/no question tied between evals
takes the earliest readable eval's answer. Only readable evals vote.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from annotations.parse import CATEGORIES, parse_judgement
from annotations.prompts import provider_block_fields
from harness.schema import generation_identity

CARRY_FIELDS = ("label", "task", "original_input", "format_number", "selection")


def eval_result(attempts: list[dict[str, Any]]) -> dict[str, Any]:
    """One eval from its call rows (first ask, then re-asks): the first readable answer."""
    attempts = sorted(attempts, key=lambda r: r["attempt"])
    for row in attempts:
        judged = None if row.get("error") else parse_judgement(row.get("response"))
        if judged is not None:
            return {"eval": row["eval"], "attempts": len(attempts),
                    "parse_status": "ok" if row["attempt"] == 0 else "reparsed",
                    "answers": judged.answers(), "final": judged.category,
                    "raw": row.get("response")}
    last = attempts[-1]
    return {"eval": last["eval"], "attempts": len(attempts),
            "parse_status": "error" if last.get("error") else "unreadable",
            "answers": None, "final": None,
            "raw": last.get("response"), "error": last.get("error")}


def majority(evals: list[dict[str, Any]]) -> tuple[str | None, dict[str, bool] | None]:
    """The final category and the six answers by majority over the readable evals."""
    readable = sorted((e for e in evals if e["final"] is not None), key=lambda e: e["eval"])
    if not readable:
        return None, None
    counts = Counter(e["final"] for e in readable)
    top = max(counts.values())
    final = next(e["final"] for e in readable if counts[e["final"]] == top)
    answers = {}
    for c in CATEGORIES:
        yes = sum(e["answers"][c] for e in readable)
        no = len(readable) - yes
        answers[c] = readable[0]["answers"][c] if yes == no else yes > no
    return final, answers


def row_status(evals: list[dict[str, Any]]) -> str:
    """ok: every eval readable; partial: some; unreadable / error: none (error when a call
    failed, so --retry-errors may fix it)."""
    readable = sum(e["final"] is not None for e in evals)
    if readable == len(evals):
        return "ok"
    if readable:
        return "partial"
    return "error" if any(e["parse_status"] == "error" for e in evals) else "unreadable"


def annotation_row(generation: dict[str, Any], calls: list[dict[str, Any]], *, judge: str,
                   judge_model: str | None, judged_text: str, template: str,
                   judge_demo_only: bool = False) -> dict[str, Any]:
    """One output row for a generation row and all of its judge calls.

    `judge_demo_only` records the registry's verdict that the judge is too small to measure,
    so the analysis reads it from the rows and never asks the registry.
    """
    by_eval: dict[int, list[dict[str, Any]]] = {}
    for c in calls:
        by_eval.setdefault(c["eval"], []).append(c)
    evals = [eval_result(by_eval[e]) for e in sorted(by_eval)]
    final, answers = majority(evals)
    votes = Counter(e["final"] for e in evals if e["final"] is not None)
    return {
        "id": generation["id"], "sample": generation.get("sample", 0),
        **generation_identity(generation),  # model, model_id (harness.schema.RENAMED)
        "judge": judge, "judge_model": judge_model, "judge_demo_only": judge_demo_only,
        **{f: generation.get(f) for f in CARRY_FIELDS},
        "input": generation.get("input"),
        "generation_params": generation.get("params"), "response": judged_text,
        "final_category": final, "answers": answers, "parse_status": row_status(evals),
        "votes": {c: votes[c] for c in CATEGORIES if votes[c]},
        "n_evals": len(evals), "evals": evals, "template": template,
        **provider_block_fields(generation),
    }
