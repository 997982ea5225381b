"""The probability judge (`annotate.py --judge-mode probs`): prompts, digit readings, rows.

One prompt per response asks for the number (1-6) of the technique the output uses; the
verdict is the judge's next-token distribution over the six digits, normalised. No text is
parsed, so no response is unreadable; the mass the digits held before normalising is kept,
so a judge that wanted to say something else shows it. The rubric (the template's
instructions, the first example of each category, the ask) comes first and is the same text
for every response: a local judge runs it once and reuses its key/value states.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from annotations.parse import CATEGORIES
from annotations.prompts import JudgeTemplate, judged_text, provider_block_fields
from annotations.vote import CARRY_FIELDS
from core.errors import UserError
from harness.schema import generation_identity
from prompts import PROMPTS_DIR

DEFAULT_WORDING = PROMPTS_DIR / "judge_probs.json"
WORDINGS = ("ours", "study")
#: the six answers, in CATEGORIES order
DIGITS = ("1", "2", "3", "4", "5", "6")
MODE = "probs"
_PLACEHOLDER = re.compile(r"\{(input|output)\}")
#: a top-logprobs token that stands for a digit: '3', ' 3', '3.', '3)'
_DIGIT_TOKEN = re.compile(r"^\s*([1-6])[.)]?\s*$")


@dataclass(frozen=True)
class ProbsWording:
    """The ask after the rubric and the block holding the input and output."""

    name: str
    ask: str
    input_output: str


def load_wording(name: str = "ours", path: Path | None = None) -> ProbsWording:
    path = path or DEFAULT_WORDING
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"probability judge wording {path} cannot be read ({exc}); restore "
                        "prompts/judge_probs.json") from exc
    part = raw.get(name) if isinstance(raw, dict) else None
    if not isinstance(part, dict) or not all(isinstance(part.get(k), str)
                                             for k in ("ask", "input_output")):
        raise UserError(f"{path} has no wording {name!r} with 'ask' and 'input_output'; use "
                        f"one of {', '.join(WORDINGS)}")
    return ProbsWording(name, part["ask"], part["input_output"])


def rubric(template: JudgeTemplate, wording: ProbsWording) -> str:
    """The shared start of every prompt: instructions, each category's first example, ask."""
    return template.instructions + "".join(v[0] for v in template.variants) + wording.ask


@dataclass(frozen=True)
class ProbsPrompt:
    row: dict[str, Any]  # the generation row judged
    text: str  # the user message (a local judge's chat template wraps it)


def build_probs_prompts(rows: list[dict[str, Any]], template: JudgeTemplate,
                        wording: ProbsWording) -> list[ProbsPrompt]:
    """One prompt per generation row without an error, in (id, sample) order."""
    head = rubric(template, wording)
    out = []
    for row in sorted(rows, key=lambda r: (r["id"], r.get("sample", 0))):
        if row.get("error"):
            continue
        values = {"input": row.get("input") or "", "output": judged_text(row)}
        block = _PLACEHOLDER.sub(lambda m, v=values: v[m.group(1)],  # type: ignore[misc]
                                 wording.input_output)
        out.append(ProbsPrompt(row, head + block))
    return out


def digits_from_logprobs(logprobs: Sequence[float]) -> list[float]:
    """Six digit log-probabilities (a local judge reads them all) -> probabilities."""
    return [math.exp(x) for x in logprobs]


def digits_from_top_logprobs(top: dict[str, float] | None) -> list[float] | None:
    """An API's top-k first tokens -> each digit's probability, summed over the tokens that
    write it ('3', ' 3', '3.'); a digit outside the list counts 0 (it held less than the
    least likely listed token; the row is flagged, see missing_digits). None: no digit
    listed at all."""
    if not top:
        return None
    raw = [0.0] * len(DIGITS)
    for token, lp in top.items():
        m = _DIGIT_TOKEN.match(token)
        if m and lp is not None:
            raw[DIGITS.index(m.group(1))] += math.exp(lp)
    return raw if any(raw) else None


#: an API answer whose top log-probabilities list fewer than the six digits
FLAG_MISSING_DIGITS = "missing_digits"


def missing_digits(top: dict[str, float] | None) -> dict[str, Any]:
    """What an API's top-k list leaves out: the digits it does not list (they count 0), and
    the most probability they could hold together (missing_digit_mass_max): the mass outside
    the list, and no more than each absent digit at the least probability listed (a token not
    listed is no likelier than the least likely one listed). Flagged `missing_digits`."""
    listed = {m.group(1) for t in (top or {}) if (m := _DIGIT_TOKEN.match(t))}
    absent = [d for d in DIGITS if d not in listed]
    if not top or not absent:
        return {"flags": [], "missing_digits": [], "missing_digit_mass_max": 0.0}
    probs = [math.exp(lp) for lp in top.values() if lp is not None]
    outside = max(0.0, 1.0 - sum(probs))
    bound = min(outside, len(absent) * min(probs)) if probs else outside
    return {"flags": [FLAG_MISSING_DIGITS], "missing_digits": absent,
            "missing_digit_mass_max": round(bound, 8)}


def probs_fields(raw: Sequence[float] | None) -> dict[str, Any]:
    """judge_probs (category -> probability, summing to 1), the most probable category (the
    lower digit wins a tie), and digit_mass, the six digits' probability before normalising."""
    total = sum(raw) if raw else 0.0
    if not raw or total <= 0:
        return {"judge_probs": None, "final_category": None, "digit_mass": 0.0}
    probs = [p / total for p in raw]
    best = max(range(len(probs)), key=lambda i: (probs[i], -i))
    return {"judge_probs": {c: round(p, 8) for c, p in zip(CATEGORIES, probs, strict=True)},
            "final_category": CATEGORIES[best], "digit_mass": round(total, 8)}


def probs_row(generation: dict[str, Any], raw: Sequence[float] | None, *, judge: str,
              judge_model: str | None, judge_input: str, template: str,
              error: str | None = None, judge_demo_only: bool = False,
              **extra: Any) -> dict[str, Any]:
    """One annotation row of the probability judge (the JSON judge's fields where they apply:
    `answers` is None, there being no yes/no questions)."""
    fields = probs_fields(None if error else raw)
    status = "error" if error else ("ok" if fields["final_category"] else "unreadable")
    return {
        "id": generation["id"], "sample": generation.get("sample", 0),
        **generation_identity(generation),  # model, model_id (harness.schema.RENAMED)
        "judge": judge, "judge_model": judge_model, "judge_demo_only": judge_demo_only,
        "judge_mode": MODE,
        **{f: generation.get(f) for f in CARRY_FIELDS},
        "input": generation.get("input"),
        "generation_params": generation.get("params"), "response": judged_text(generation),
        **fields, "answers": None, "parse_status": status, "n_evals": 1,
        "judge_input": judge_input, "template": template, "error": error,
        **provider_block_fields(generation), **extra,
    }
