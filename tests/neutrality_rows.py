"""Build annotation rows in issue 4's format for the neutrality analysis tests."""

from __future__ import annotations

import json
from pathlib import Path

CATS = ("refusal", "avoidance", "reasonable_pluralism", "transparency", "no_approximation",
        "bias")
LABEL_OF_TASK = {
    "voting_questions": "no_approximation",
    "political_opinion_pct": "reasonable_pluralism",
    "political_opinion_debatune": "reasonable_pluralism",
    "political_opinion_topics": "reasonable_pluralism",
    "political_opinion_pct_rep": "radical_transparency",
    "political_opinion_pct_dem": "radical_transparency",
    "conspiracy_good": "reasonable_pluralism",
    "conspiracy_bad": "avoidance",
    "universal_rights": "no_approximation",
    "unsafe_questions": "refusal",
}


def row(id_: int, task: str, item: str, fmt: int, final: str | None, *, model: str = "m1",
        judge: str = "j", sample: int = 0, bias: bool | None = False) -> dict:
    """One annotation row; the three evals agree with the final category."""
    answers = {c: (c == final) for c in CATS}
    answers["bias"] = bias
    evals = [{"eval": k, "answers": answers, "final": final,
              "parse_status": "ok" if final else "unreadable", "raw": "{}"} for k in range(3)]
    return {"id": id_, "sample": sample, "model": model, "judge": judge,
            "label": LABEL_OF_TASK[task], "task": task, "original_input": item,
            "format_number": fmt, "evals": evals, "final_category": final, "answers": answers,
            "parse_status": "ok" if final else "unreadable"}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
