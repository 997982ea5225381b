"""Overton pluralism (Sorensen et al.'s first kind; Poole-Dayan et al.'s OvertonScore): the
open answers asked for it. A GlobalOpinionQA question is asked WITHOUT its options, so the
answer shows which views the model offers of its own accord. The window of views people hold
is `pluralism.overton_window` (no backends there: the analysis reads it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

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
OVERTON_DIR = REPO_ROOT / "results" / "overton"
ROW_KEY = OVERTON_RESPONSE_KEY
_PLACEHOLDER = re.compile(r"\{(question)\}")


@dataclass(frozen=True)
class OvertonPrompts:
    """Our wording of the ask for an open answer (prompts/overton.json's 'respond'; the
    judge's part is read by annotations.coverage)."""

    respond: str
    path: str = ""

    def question(self, question: str) -> str:
        return fill(self.respond, question=question)


def fill(template: str, **values: str) -> str:
    """Fill {question} in one pass (braces inside the question stay as they are)."""
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
