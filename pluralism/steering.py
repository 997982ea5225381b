"""Steering sentences: a prompt asking the model to answer as someone from a country or group.

The wording is data (prompts/steering.json, or `--steering FILE`). A steered prompt is the
sentence, the file's joiner, then the unsteered prompt unchanged: every prompt of one target
starts with the same text, so a local model runs that beginning once (backends.option_scores),
and the unsteered prompts stay exactly as they were.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import UserError
from pluralism.groups import Condition, Group, number_text
from pluralism.prompts import Prompt
from prompts import PROMPTS_DIR

DEFAULT_STEERING = PROMPTS_DIR / "steering.json"
DEFAULT_WORDING = "default"
STEER_KINDS = ("country", "group")


@dataclass(frozen=True)
class SteerTarget:
    """Who the model is asked to answer as: `steer_to` names it in the rows."""

    steer_to: str  # the country, or the group as given (e.g. "SEX=2")
    text: str  # the steering sentence


@dataclass(frozen=True)
class Steering:
    name: str  # the file's name
    data: dict[str, Any]

    @property
    def joiner(self) -> str:
        return str(self.data.get("joiner", "\n\n"))

    def _wording(self, kind: str, wording: str) -> str:
        block = self.data.get(kind) or {}
        choices = block if kind == "country" else (block.get("wording") or {})
        if not isinstance(choices, dict) or wording not in choices:
            known = ", ".join(k for k in (choices or {}) if not k.startswith("_"))
            raise UserError(f"--steer-wording {wording!r}: {self.name} has no {kind} wording "
                            f"of that name; known: {known or 'none'}")
        return str(choices[wording])

    def country(self, country: str, wording: str = DEFAULT_WORDING) -> SteerTarget:
        return SteerTarget(country, self._wording("country", wording).format(country=country))

    def group(self, group: Group, wording: str = DEFAULT_WORDING) -> SteerTarget:
        return SteerTarget(group.name, self._wording("group", wording).format(
            persona=self.persona(group)))

    def persona(self, group: Group) -> str:
        """'a woman', 'a person aged 18 to 29', 'a woman aged 18 to 29 from the USA'."""
        block = self.data.get("group") or {}
        known = block.get("conditions") or {}
        noun = None
        phrases = []
        for c in group.conditions:
            entry = self._entry(c, known)
            if noun is None and entry.get("noun"):
                noun = str(entry["noun"])
            if c.is_range:
                phrases.append(str(entry["range"]).format(lo=number_text(c.lo or 0),
                                                          hi=number_text(c.hi or 0)))
            elif entry.get("phrase"):
                phrases.append(str(entry["phrase"]).format(value=c.value))
        noun = noun or str(block.get("default_noun", "a person"))
        return " ".join([noun, *phrases])

    def _entry(self, c: Condition, known: dict[str, Any]) -> dict[str, Any]:
        exact = None if c.is_range else known.get(f"{c.column}={c.value}")
        entry = exact or known.get(c.column)
        if not isinstance(entry, dict) or (c.is_range and "range" not in entry) or (
                not exact and not c.is_range and "phrase" not in entry):
            form = "with a 'range' ('aged {lo} to {hi}')" if c.is_range else \
                f"'{c.column}={c.value}' with a 'noun' or 'phrase', or '{c.column}' with a phrase"
            raise UserError(f"no persona wording for {c.column} in {self.name}: add {form} "
                            "under group.conditions, or pass --steering FILE")
        return entry


def load_steering(path: str | Path | None = None) -> Steering:
    """Our steering sentences (default) or another file in the same layout."""
    path = Path(path) if path else DEFAULT_STEERING
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UserError(f"steering file {path} does not exist; check --steering") from exc
    except json.JSONDecodeError as exc:
        raise UserError(f"steering file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not all(k in data for k in STEER_KINDS):
        raise UserError(f"{path} is not a steering file: it needs 'country' and 'group' blocks "
                        f"(see {DEFAULT_STEERING})")
    return Steering(path.name, data)


def steer_prompt(prompt: Prompt, target: SteerTarget | None, joiner: str) -> Prompt:
    """The prompt preceded by the target's sentence (unchanged when unsteered)."""
    if target is None:
        return prompt
    head = target.text + joiner
    return Prompt(text=head + prompt.text, prefix=head + prompt.prefix, drawn=prompt.drawn)
