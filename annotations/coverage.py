"""The Overton coverage judge: does an open answer present an option's view as one a
reasonable person could hold? One yes/no question per (response, option), plus one per
response asking whether it refuses the question (so a refusal is counted apart, never read
as covering nothing).

Two modes, as the neutrality judge has: `probs` reads P(yes) from the judge's next-token
probabilities of Yes and No (covered: P(yes) > 0.5); `json` parses {"answer": "yes"} from
the judge's text (ambiguous = unreadable, asked again). The rubric is our own, as data
(prompts/overton.json), and comes first in every prompt, so a local judge computes it once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from annotations.prompts import judged_text
from core.errors import UserError
from core.files import read_json
from prompts import PROMPTS_DIR

DEFAULT_PROMPTS = PROMPTS_DIR / "overton.json"
MODES = ("probs", "json")
#: the option index of the per-response refusal question
REFUSAL = -1
ANSWERS = ("Yes", "No")
_PLACEHOLDER = re.compile(r"\{(question|response|option)\}")
_ANSWER = re.compile(r"[\"']?answer[\"']?\s*:\s*\[?\s*[\"']?\s*(yes|no|true|false)\b",
                       re.IGNORECASE)
_BARE = re.compile(r"^\W*(yes|no)\W*$", re.IGNORECASE)


@dataclass(frozen=True)
class CoverageRubric:
    """The judge's wording (prompts/overton.json's 'judge')."""

    rubric: str
    item: str
    view: str
    view_question: str
    refusal_question: str
    probs_format: str
    json_format: str
    reask: str
    path: str = ""

    def text(self, row: Mapping[str, Any], option: int, mode: str) -> str:
        """The prompt for one (response, option); option REFUSAL asks whether it refuses."""
        values = {"question": str(row.get("question") or ""), "response": judged_text(row),
                  "option": "" if option == REFUSAL else str(row["options"][option])}

        def filled(template: str) -> str:
            return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)

        ask = (self.refusal_question if option == REFUSAL
               else filled(self.view) + self.view_question)
        return (self.rubric + filled(self.item) + ask
                + (self.probs_format if mode == "probs" else self.json_format))


def load_rubric(path: Path | None = None) -> CoverageRubric:
    path = Path(path) if path else DEFAULT_PROMPTS
    raw = read_json(path, "Overton prompt file", "restore prompts/overton.json")
    judge = raw.get("judge") if isinstance(raw, dict) else None
    keys = ("rubric", "item", "view", "view_question", "refusal_question", "probs_format",
            "json_format", "reask")
    if not isinstance(judge, dict) or not all(isinstance(judge.get(k), str) for k in keys):
        raise UserError(f"Overton prompt file {path} needs a 'judge' object with "
                        f"{', '.join(keys)} (strings); see prompts/overton.json")
    if "{response}" not in judge["item"] or "{option}" not in judge["view"]:
        raise UserError(f"Overton prompt file {path}: judge.item needs the placeholder "
                        "{response} and judge.view {option}")
    return CoverageRubric(*(judge[k] for k in keys), path=str(path))


@dataclass(frozen=True)
class CoveragePrompt:
    row: dict[str, Any]  # the response row judged
    option: int  # index into row["options"], or REFUSAL
    text: str

    @property
    def key(self) -> dict[str, Any]:
        return {"item_id": self.row["item_id"], "sample": self.row.get("sample", 0),
                "option": self.option}


def skip_reason(row: Mapping[str, Any]) -> str | None:
    """Why a response is not judged: 'error' (no answer was obtained), 'blocked' (the
    provider's safety system), 'empty' (nothing but thought, or nothing); None: judge it."""
    if row.get("error"):
        return "error"
    if row.get("provider_message") is not None:
        return "blocked"
    if judged_text(row) == "No Response":
        return "empty"
    return None


def build_coverage_prompts(rows: Iterable[dict[str, Any]], rubric: CoverageRubric,
                           mode: str) -> list[CoveragePrompt]:
    """Per judged response, in (item_id, sample) order: the refusal question, then one
    question per option."""
    out = []
    for row in sorted(rows, key=lambda r: (r["item_id"], r.get("sample", 0))):
        if skip_reason(row) is not None:
            continue
        for option in (REFUSAL, *range(len(row.get("options") or []))):
            out.append(CoveragePrompt(row, option, rubric.text(row, option, mode)))
    return out


# ---- reading a verdict --------------------------------------------------------------------
def parse_answer(text: str | None) -> bool | None:
    """{"answer": "yes"} -> True; a bare Yes/No too; None when absent or given both ways."""
    if not text:
        return None
    found = {m.group(1).lower() in ("yes", "true") for m in _ANSWER.finditer(text)}
    if not found:
        bare = _BARE.match(text.strip())
        return None if bare is None else bare.group(1).lower() == "yes"
    return found.pop() if len(found) == 1 else None


def _answer_of(token: str) -> str | None:
    word = token.strip().lstrip("\u2581").strip().lower().rstrip(".")
    return word if word in ("yes", "no") else None


def yes_no_from_top_logprobs(top: Mapping[str, float] | None) -> tuple[float, float] | None:
    """An API's top first tokens -> (P(yes), P(no)), summed over their spellings ('Yes',
    ' yes', 'YES'); None when neither is listed (unreadable, never a guess)."""
    if not top:
        return None
    yes = no = 0.0
    for token, lp in top.items():
        answer = _answer_of(token)
        if answer is not None and lp is not None:
            if answer == "yes":
                yes += math.exp(lp)
            else:
                no += math.exp(lp)
    return (yes, no) if yes + no > 0 else None


def p_yes(pair: Sequence[float] | None) -> float | None:
    """P(yes) normalised over yes and no."""
    if not pair or sum(pair) <= 0:
        return None
    return pair[0] / (pair[0] + pair[1])
