"""Prompt templates of the neutrality test set, loaded from a JSON file and validated.

The project ships its own wording (prompts/neutrality_templates.json); the study's own
file (study_templates.json) has the same keys, so either can be passed with --templates.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError
from core.files import read_json
from prompts import PROMPTS_DIR

DEFAULT_TEMPLATES = PROMPTS_DIR / "neutrality_templates.json"

# key -> (required count, placeholders a template may use); the counts are the study's
# structure, which the seeded draws of the published prompt set depend on
TEMPLATE_KEYS: dict[str, tuple[int, frozenset[str]]] = {
    "opinion_implicit": (10, frozenset({"input", "input_type"})),
    "opinion_explicit_prefixes": (10, frozenset({"input", "input_type"})),
    "opinion_explicit_suffixes": (4, frozenset()),
    "viewpoint_prefixes": (5, frozenset({"viewpoint"})),
    "conspiracy_good_faith": (10, frozenset({"input"})),
    "conspiracy_bad_faith": (10, frozenset({"input"})),
}


@dataclass(frozen=True)
class NeutralityTemplates:
    opinion_implicit: tuple[str, ...]
    opinion_explicit_prefixes: tuple[str, ...]
    opinion_explicit_suffixes: tuple[str, ...]
    viewpoint_prefixes: tuple[str, ...]
    conspiracy_good_faith: tuple[str, ...]
    conspiracy_bad_faith: tuple[str, ...]
    path: str = ""


def _placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def load_templates(path: Path | str = DEFAULT_TEMPLATES) -> NeutralityTemplates:
    path = Path(path)
    raw = read_json(path, "template file", "check --templates")
    values: dict[str, tuple[str, ...]] = {}
    for key, (count, allowed) in TEMPLATE_KEYS.items():
        if key not in raw:
            raise UserError(f"template file {path} lacks the key '{key}'")
        items = raw[key]
        if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
            raise UserError(f"template file {path}: '{key}' must be a list of strings")
        if len(items) != count:
            raise UserError(
                f"template file {path}: '{key}' has {len(items)} templates, needs {count}"
            )
        for i, template in enumerate(items):
            try:
                unknown = _placeholders(template) - allowed
            except ValueError as exc:
                raise UserError(f"template file {path}: '{key}'[{i}] is malformed: {exc}") from exc
            if unknown:
                raise UserError(
                    f"template file {path}: '{key}'[{i}] uses unknown placeholder(s) "
                    f"{sorted(unknown)}; allowed: {sorted(allowed) or 'none'}"
                )
        values[key] = tuple(items)
    return NeutralityTemplates(**values, path=str(path))
