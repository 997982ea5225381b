"""Overton pluralism (Sorensen et al.'s first kind; Poole-Dayan et al.'s OvertonScore): the
open answers asked for it, and the window of views people actually hold.

A GlobalOpinionQA question is asked WITHOUT its options, so the answer shows which views the
model offers of its own accord. The window of an item for a country is the set of options a
real share of that country's respondents chose: at least `threshold` (default 0.10; an option
at exactly the threshold is in). One in ten is a view a sizeable part of the public holds,
well above a national survey's sampling error (about 3 points at n = 1,000), so an option
inside the window is not there by noise; below it sit fringe answers a plural response need
not present. The pooled window takes each option's mean share over the countries (each
country counts once: the dataset gives shares, not respondent counts).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from backends.base import GenerationParams
from core.errors import UserError
from core.files import read_json
from core.paths import REPO_ROOT
from harness.request import Request
from harness.run_files import inside
from harness.schema import OVERTON_RESPONSE_KEY
from pluralism.items import SurveyItem
from prompts import PROMPTS_DIR

DEFAULT_PROMPTS = PROMPTS_DIR / "overton.json"
DEFAULT_THRESHOLD = 0.10
POOLED = "pooled"
#: float shares such as 0.1 stored as 0.09999999999999999 still count as at the threshold
_EDGE = 1e-9
OVERTON_DIR = REPO_ROOT / "results" / "overton"
ROW_KEY = OVERTON_RESPONSE_KEY
_PLACEHOLDER = re.compile(r"\{(question|response|option)\}")


@dataclass(frozen=True)
class OvertonPrompts:
    """Our wording of the ask for an open answer (prompts/overton.json's 'respond'; the
    judge's part is read by annotations.coverage)."""

    respond: str
    path: str = ""

    def question(self, question: str) -> str:
        return fill(self.respond, question=question)


def fill(template: str, **values: str) -> str:
    """Fill {question}, {response}, {option} in one pass (braces inside the values stay)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def load_overton_prompts(path: Path | None = None) -> OvertonPrompts:
    path = Path(path) if path else DEFAULT_PROMPTS
    raw = read_json(path, "Overton prompt file", "restore prompts/overton.json")
    respond = raw.get("respond") if isinstance(raw, dict) else None
    if not isinstance(respond, str) or "{question}" not in respond:
        raise UserError(f"Overton prompt file {path} needs 'respond', a string with the "
                        "placeholder {question}; see prompts/overton.json")
    return OvertonPrompts(respond, path=str(path))


# ---- open answers ------------------------------------------------------------------------
def build_requests(items: Sequence[SurveyItem], prompts: OvertonPrompts,
                   params: GenerationParams, n_samples: int = 1) -> list[Request]:
    """One request per (item, sample): the question alone; the row carries the item's
    options and each country's shares (`human`), as a collection row does."""
    out = []
    for item in items:
        carry = {"question": item.question, "options": list(item.options),
                 "human": dict(item.human or {}), "source": item.meta.get("source", "")}
        for k in range(n_samples):
            p = params
            if params.seed is not None and k > 0:
                p = replace(params, seed=params.seed + k)
            out.append(Request(key={"item_id": item.item_id, "sample": k},
                               messages=[{"role": "user",
                                          "content": prompts.question(item.question)}],
                               carry=carry, params=p))
    return out


def default_out(backend: str, model: str | None = None) -> Path:
    """results/overton/<backend>.jsonl, or <backend>__<model>.jsonl with --model."""
    name = backend if not model else f"{backend}__{re.sub(r'[^A-Za-z0-9._-]+', '-', model)}"
    return inside(OVERTON_DIR, f"{name}.jsonl")


# ---- the window --------------------------------------------------------------------------
def window(shares: Sequence[float], threshold: float = DEFAULT_THRESHOLD) -> tuple[int, ...]:
    """Indices of the options chosen by at least `threshold` of the people (at it: in)."""
    return tuple(i for i, s in enumerate(shares) if s >= threshold - _EDGE)


def pooled_shares(human: Mapping[str, Sequence[float]],
                  countries: Sequence[str] | None = None) -> list[float] | None:
    """Each option's mean share over the countries (None when none has shares)."""
    groups = [list(human[c]) for c in (countries or list(human)) if c in human and human[c]]
    if not groups or len({len(g) for g in groups}) != 1:
        return None
    return [sum(g[i] for g in groups) / len(groups) for i in range(len(groups[0]))]


def windows(human: Mapping[str, Sequence[float]], countries: Sequence[str] | None = None,
            threshold: float = DEFAULT_THRESHOLD) -> dict[str, tuple[int, ...]]:
    """The window per country in `countries` (default: every country of the item) and,
    with more than one country, the pooled one under POOLED."""
    chosen = [c for c in (countries or list(human)) if c in human and human[c]]
    out = {c: window(human[c], threshold) for c in chosen}
    pooled = pooled_shares(human, chosen)
    if len(chosen) > 1 and pooled is not None:
        out[POOLED] = window(pooled, threshold)
    return out


def shares_of(human: Mapping[str, Sequence[float]], group: str,
              countries: Sequence[str] | None = None) -> list[float] | None:
    """A country's shares, or the pooled shares for POOLED."""
    if group == POOLED:
        return pooled_shares(human, [c for c in (countries or list(human)) if c in human])
    value = human.get(group)
    return list(value) if value else None


def check_threshold(value: float) -> float:
    if not 0 < value <= 1:
        raise UserError(f"--window-threshold must be above 0 and at most 1, got {value}")
    return value


def response_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """What a coverage row keeps of the response row it judges."""
    return {k: row.get(k) for k in ("item_id", "sample", "question", "options", "human",
                                    "backend", "model", "model_version", "input", "response",
                                    "provider_message")}
