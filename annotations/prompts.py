"""Judge prompts: a template (ours, or the study's) filled with each response, K per response.

A template has the layout of the study's `annotation` part: instructions, then one example
variant for each of the six categories, then questions, answer format, follow-up and the
input/output block. Which variant each prompt shows is drawn from one `random.Random(1)`
stream indexed by the prompt's id, exactly as the study drew them over its prompt set in
order, so its judge prompts are reproduced word for word.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# the generation backend's own splitter (the module imports no torch until a model loads)
from core.errors import UserError
from core.files import read_json
from core.reasoning import split_reasoning
from harness.schema import UNEXPLAINED_EMPTY
from prompts import PROMPTS_DIR

DEFAULT_TEMPLATE = PROMPTS_DIR / "judge_template.json"
#: category keys of a template, in the order their variants are drawn and shown
VARIANT_KEYS = ("refusal", "avoidance", "pluralism", "transparency", "no_pn", "bias")
PARTS = ("instructions", "questions", "format", "follow_up", "input_output")
NO_RESPONSE = "No Response"
SEED = 1
_PLACEHOLDER = re.compile(r"\{(input|output)\}")


@dataclass(frozen=True)
class JudgeTemplate:
    instructions: str
    variants: tuple[tuple[str, ...], ...]  # one tuple per VARIANT_KEYS entry
    questions: str
    format: str
    follow_up: str
    input_output: str
    path: str = ""

    @property
    def combinations(self) -> int:
        n = 1
        for v in self.variants:
            n *= len(v)
        return n

    def render(self, choice: tuple[str, ...], input_text: str, output_text: str) -> str:
        """One prompt: the chosen variants and the input/output pair, filled in one pass
        (so braces inside a prompt or response are left as they are)."""
        values = {"input": input_text, "output": output_text}
        block = _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.input_output)
        return (self.instructions + "".join(choice) + self.questions + self.format
                + self.follow_up + block)


def load_judge_template(path: str | Path | None = None) -> JudgeTemplate:
    """Our template, or a file holding one (the study's study_templates.json holds it under
    'annotation')."""
    path = Path(path) if path else DEFAULT_TEMPLATE
    raw = read_json(path, "judge template file", "check --templates")
    if isinstance(raw, dict) and isinstance(raw.get("annotation"), dict):
        raw = raw["annotation"]
    if not isinstance(raw, dict):
        raise UserError(f"judge template file {path} must hold a JSON object")
    missing = [k for k in (*PARTS, "category_variants") if k not in raw]
    if missing:
        raise UserError(f"judge template file {path} lacks '{missing[0]}'; a judge template "
                        f"needs {', '.join(PARTS)} and category_variants")
    variants = raw["category_variants"]
    if not isinstance(variants, dict):
        raise UserError(f"judge template file {path}: category_variants must be an object")
    groups = []
    for key in VARIANT_KEYS:
        items = variants.get(key)
        if not items or not isinstance(items, list) or not all(isinstance(s, str) for s in items):
            raise UserError(f"judge template file {path}: category_variants needs '{key}' as a "
                            "non-empty list of strings")
        groups.append(tuple(items))
    for part in PARTS:
        if not isinstance(raw[part], str):
            raise UserError(f"judge template file {path}: '{part}' must be a string")
    if not {"input", "output"} <= set(_PLACEHOLDER.findall(raw["input_output"])):
        raise UserError(f"judge template file {path}: input_output needs the placeholders "
                        "{input} and {output}")
    return JudgeTemplate(raw["instructions"], tuple(groups), raw["questions"], raw["format"],
                         raw["follow_up"], raw["input_output"], str(path))


def draw_choices(template: JudgeTemplate, n_pairs: int, k: int,
                 seed: int = SEED) -> list[list[tuple[str, ...]]]:
    """The variants of the K prompts of each pair, from one random.Random(seed) stream.

    Per prompt, one rng.sample(variants, 1)[0] per category in VARIANT_KEYS order; a prompt
    equal to an earlier one of the same pair is drawn again until the K differ.
    """
    if k > template.combinations:
        raise UserError(f"--n-evals {k} needs {k} distinct judge prompts per response, but the "
                        f"template {template.path} allows only {template.combinations}")
    rng = random.Random(seed)
    out = []
    for _ in range(n_pairs):
        chosen: list[tuple[str, ...]] = []
        while len(chosen) < k:
            choice = tuple(rng.sample(list(v), 1)[0] for v in template.variants)
            if choice not in chosen:
                chosen.append(choice)
        out.append(chosen)
    return out


def judged_text(row: dict[str, Any]) -> str:
    """What the judge sees of a generation row: the answer, never a reasoning model's
    <think> part (whole, opened in the prompt, or cut off before its end); a response that
    is empty, blocked or only thought is 'No Response', as in the study."""
    _, text = split_reasoning(row.get("response") or "")
    return text if text else NO_RESPONSE


def provider_block_fields(row: dict[str, Any]) -> dict[str, Any]:
    """An annotation row's record of a generation the provider's safety system blocked (the
    judge saw 'No Response'), so the report counts it apart from refusals in a model's text;
    and of an empty answer the provider gave no reason for (`unexplained_empty`, only when
    so), which the report leaves out of the shares."""
    message = row.get("provider_message")
    empty = {UNEXPLAINED_EMPTY: True} if row.get(UNEXPLAINED_EMPTY) else {}
    return {"provider_blocked": message is not None, "provider_message": message, **empty}


@dataclass(frozen=True)
class JudgePrompt:
    row: dict[str, Any]  # the generation row judged
    eval: int
    text: str


def build_prompts(rows: list[dict[str, Any]], template: JudgeTemplate,
                  k: int) -> list[JudgePrompt]:
    """K prompts per generation row. A row's variants are the draws at its id's place in
    one random.Random(1) stream over the ids 0, 1, 2, ... (sample 0; each later sample has a
    stream of its own), as the study drew them over its whole prompt set in order. So a
    row's judge prompts depend only on its id and sample, never on which other rows the
    file holds: a sampled run gets the full run's prompts, and adding answers to a file
    leaves the prompts of those already judged as they were."""
    by_sample: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        if row["id"] < 0:
            raise UserError(f"generation row id {row['id']} is negative; the judge's draws "
                            "are indexed by id, so ids must be 0 or more")
        by_sample.setdefault(row.get("sample", 0), []).append(row)
    drawn: dict[tuple[int, int], list[tuple[str, ...]]] = {}
    for sample, group in by_sample.items():
        seed = SEED if sample == 0 else SEED * 1_000_003 + sample
        choices = draw_choices(template, max(r["id"] for r in group) + 1, k, seed)
        drawn.update(((r["id"], sample), choices[r["id"]]) for r in group)
    out = []
    for row in sorted(rows, key=lambda r: (r["id"], r.get("sample", 0))):
        if row.get("error"):
            continue
        for e, choice in enumerate(drawn[(row["id"], row.get("sample", 0))]):
            out.append(JudgePrompt(row, e, template.render(choice, row.get("input") or "",
                                                           judged_text(row))))
    return out
