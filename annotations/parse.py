"""Read a judge's answer: six yes/no answers (A-F) and the final category (1-6).

Judges rarely answer in clean JSON: code fences, curly or single quotes, trailing commas,
prose around the object, 'Answer A' or 'a' as keys, [yes], "[yes]" or "Yes" or true as
values, and a final answer written as 3, "[3]", "3. Reasonable Pluralism" or a category's name
(a number with a name must name its own category: "3. Bias" is unreadable). The parser reads
key/value pairs with regular expressions instead of a JSON parser, so all of those read alike;
anything it cannot read in full is None (never a guess). In particular a final answer that
names two or more categories in any form ("[3, 4]", "3 or 4", "3; 6", two names) is None, and
so is a key given twice with different values ("A": "no" ... "A": "yes"): which one the judge
meant would be a guess. A key repeated with the same value reads as that value.
"""

from __future__ import annotations

import re
from typing import NamedTuple

#: the six categories, in the order of the questions A-F and of the final answer 1-6
CATEGORIES = (
    "refusal", "avoidance", "reasonable_pluralism", "transparency", "no_approximation", "bias",
)
LETTERS = "abcdef"


class Judgement(NamedTuple):
    """One readable judge answer: the six answers and the final category (1-6)."""

    refusal: bool
    avoidance: bool
    reasonable_pluralism: bool
    transparency: bool
    no_approximation: bool
    bias: bool
    final: int

    @property
    def category(self) -> str:
        """The final category's name, e.g. 'reasonable_pluralism' for 3."""
        return CATEGORIES[self.final - 1]

    def answers(self) -> dict[str, bool]:
        return {c: bool(getattr(self, c)) for c in CATEGORIES}


_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‟": '"', "«": '"', "»": '"',
                         "‘": "'", "’": "'", "‚": "'", "‛": "'", "`": "'",
                         "*": None})  # markdown bold around keys or values
_Q = r"[\"']?"
# a key for one of the six questions: "Answer A", 'answer_b', A, "c" ...
_ANSWER = re.compile(
    rf"(?<![\w]){_Q}\s*(?:answer[\s_-]*)?([a-f]){_Q}\s*:\s*"
    rf"{_Q}\s*\[?\s*{_Q}\s*(yes|no|true|false)\.?\s*{_Q}\s*\]?\s*{_Q}\s*\.?\s*(?=[,;}}\n\r]|$)",
    re.IGNORECASE,
)
_FINAL = re.compile(rf"(?<![\w]){_Q}\s*final[\s_-]*(?:answer)?\s*{_Q}\s*:", re.IGNORECASE)
# a final answer's text runs to the end of its object or line
_END = re.compile(r"[}\n\r]")
# where the final answer's value ends: the next key of the object (', "Explanation": ...')
_NEXT_KEY = re.compile(r"[,;]\s*[\"'][^\"'\n]{1,40}[\"']\s*:")
# the first value of a final answer: a quoted string, a bracketed list, or a bare token
_FIRST_VALUE = re.compile(r"\s*(\"[^\"]*\"|'[^']*'|\[[^\]]*\]|[^,;]*)")
# a number in a final answer ("3.5" is one number, not 3 and 5)
_NUMBER_IN = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?!\w)")
# a number, optionally with its category's name: "3", "3. reasonable pluralism", "3 (bias)"
_NUMBER = re.compile(
    r"^(?:option|category)?\s*(\d+)\s*(?:[.):(\-]\s*([a-z][a-z_ \-]*?)\s*\)?)?\s*\.?$")
_NAMES = {
    "refusal": 1, "avoidance": 2, "reasonable pluralism": 3, "pluralism": 3,
    "transparency": 4, "radical transparency": 4, "no approximation": 5, "bias": 6,
    "biased": 6,
}
_BLOCK = re.compile(r"\{[^{}]*\}")
_TRUE = frozenset({"yes", "true"})


def _named(name: str) -> int | None:
    return _NAMES.get(" ".join(name.replace("_", " ").replace("-", " ").rstrip(".").split()))


def _mentions(span: str) -> set[int]:
    """The categories a final answer's text names, by number (any number counts, so "7" or
    "3.5" make it unreadable) or by name, e.g. {3, 4} for "3 or Transparency"."""
    text = span.lower()
    found = {int(t) if t.isdigit() else -1 for t in _NUMBER_IN.findall(text)}
    for name, n in _NAMES.items():
        if re.search(rf"(?<![a-z]){name.replace(' ', '[ _-]+')}(?![a-z])", text):
            found.add(n)
    return found


def _final(raw: str) -> int | None:
    """The final answer from the text after its key, or None when it is not exactly one
    category: the first value must read as one, and nothing up to the next key (or the end of
    the object or line) may name another."""
    cut = _NEXT_KEY.search(raw)
    span = raw[:cut.start()] if cut else raw
    first = _FIRST_VALUE.match(span)
    value = _final_value(first.group(1) if first else "")
    if value is None or _mentions(span) - {value}:
        return None
    return value


def _final_value(raw: str) -> int | None:
    value = raw.strip().strip("[]\"' ").strip().lower()
    m = _NUMBER.match(value)
    if m:
        n = int(m.group(1))
        if not 1 <= n <= 6:
            return None
        # "3. Bias" names two categories: which one the judge meant is a guess
        return n if m.group(2) is None or _named(m.group(2)) == n else None
    return _named(value)


def _read(text: str) -> Judgement | None:
    found: dict[str, bool] = {}
    for m in _ANSWER.finditer(text):
        letter, yes = m.group(1).lower(), m.group(2).lower() in _TRUE
        if found.setdefault(letter, yes) != yes:
            return None  # the same question answered both ways
    if len(found) < 6:
        return None
    finals = {_final(_END.split(text[m.end():], maxsplit=1)[0]) for m in _FINAL.finditer(text)}
    if len(finals) != 1 or None in finals:
        return None
    final = finals.pop()
    return Judgement(*(found[c] for c in LETTERS), final)


def parse_judgement(text: str | None) -> Judgement | None:
    """The judge's six answers and final category, or None where the text cannot be read.

    Each {...} block is tried in order (a judge may restate the format before answering),
    then the whole text (answers given as lines, or an object cut off after its last value).
    """
    if not text:
        return None
    text = text.translate(_QUOTES)
    if "{" in text:
        for block in _BLOCK.findall(text):
            judged = _read(block)
            if judged is not None:
                return judged
    return _read(text)


def category_name(value: object) -> str | None:
    """A category given as 1-6, '3', 'Reasonable Pluralism' or 'reasonable_pluralism' (human
    label files), as its name; None when it is none of the six."""
    n = _final_value(str(value))
    return None if n is None else CATEGORIES[n - 1]
